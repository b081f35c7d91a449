"""The real `mailer daemon` as a process of its own, and reading what it did (its log, its
/health, the ledger)."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import email.utils
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from tests.support import stores
from tests.support.smtp_server import SmtpServer

KEY = "daemon-test-signing-key-0123456789"


T = TypeVar("T")


class DaemonProcess:
    """`mailer --now NOW daemon` in a process of its own, its log in a file."""

    def __init__(self, config: Path, now: str) -> None:
        self.log_path = config.parent / f"daemon-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w", encoding="utf-8")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mailer",
                "--config",
                str(config),
                "--now",
                now,
                "--real-mail",
                "daemon",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self._log,
            env={**os.environ, "MAILER_UNSUBSCRIBE_KEY": KEY},
        )
        found = self.wait_for_log(r"serving http://127\.0\.0\.1:(\d+)")
        self.port = int(found.group(1))

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8")

    def wait_for_log(self, pattern: str, timeout: float = 30) -> re.Match[str]:
        return wait_until(lambda: re.search(pattern, self.log()), timeout, self.log)

    def health(self) -> dict[str, Any]:
        return self.probe("/health")[1]

    def probe(self, path: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) of /health or /health/attention."""
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as r:
                return r.status, json.load(r)
        except urllib.error.HTTPError as error:  # 503: something is wrong, said in the body
            assert error.code == 503
            return 503, json.load(error)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=60)
        self._log.close()
        return code


def wait_until(
    condition: Callable[[], T | None], timeout: float, context: Callable[[], str] = str
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := condition():
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out; {context()}")


def _query(config: Path, sql: str) -> list[tuple[Any, ...]]:
    """Rows of the daemon's state; none while the daemon has not made it yet (a state file is
    opened read-only, so that polling never creates an empty file the daemon would refuse)."""
    kind, location = stores.where(config)
    if kind == "postgres":
        try:
            return [tuple(row.values()) for row in stores.rows(config, sql)]
        except Exception:
            return []
    database = Path(location)
    try:
        connection = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)
    except sqlite3.OperationalError:
        return []
    try:
        return connection.execute(sql).fetchall()
    except sqlite3.OperationalError:  # the schema is being created
        return []
    finally:
        connection.close()


def ledger_states(config: Path) -> Counter[str]:
    return Counter(row[0] for row in _query(config, "SELECT state FROM deliveries"))


def sent_dates(server: SmtpServer) -> dict[str, dt.datetime]:
    """Message-ID -> the Date header: when its send started, by the daemon's clock."""
    found = {}
    for message in server.received:
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        found[str(parsed["Message-ID"])] = email.utils.parsedate_to_datetime(str(parsed["Date"]))
    return found


def ledger_ids(config: Path) -> dict[str, str]:
    """Message-ID -> the email (invitation, reminder:PT2M45S...) the ledger sent it as; empty
    while the daemon has not made the state file yet (read-only: polling never creates it)."""
    sql = "SELECT message_id, message FROM deliveries WHERE state = 'sent'"
    return {row[0]: row[1] for row in _query(config, sql)}
