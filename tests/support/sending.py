"""Pointing a copied project at the test SMTP server, big generated lists, reading the ledger
of its state directly (not through mailer's code; SQLite or PostgreSQL), and recording
deliveries as sent through the ledger."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mailer.model import Recipient
from mailer.store.ledger import Ledger, Outcome, SendKey
from mailer.store.state import State
from tests.support.stores import rows


def use_smtp(project_dir: Path, port: int, **settings: object) -> Path:
    """Point the project at the test server (quick retries, short deadlines)."""
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "connections": 3,
        "timeout": 2,
        "deadline": 3,
    }
    values.update(settings)
    smtp = "\n".join(f"{key} = {json.dumps(value)}" for key, value in values.items())
    config = project_dir / "config.toml"
    config.write_text(
        config.read_text(encoding="utf-8")
        + f"""
[transport]
kind = "smtp"

[smtp]
{smtp}

[sending]
retry_after = "PT0.2S"
retry_limit = "PT1S"
wait_for_retries = "PT30S"
max_attempts = 4
batch = 5
relay_patience = "PT1S"
""",
        encoding="utf-8",
    )
    return config


def big_list(path: Path, count: int) -> None:
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(["email", "name", "language"])
        for number in range(count):
            writer.writerow(
                [f"person.{number}@example.org", f"Person {number}", ("fr", "en", "es")[number % 3]]
            )


def ledger(config: Path, column: str = "state") -> Counter[Any]:
    return Counter(row[column] for row in rows(config, f"SELECT {column} FROM deliveries"))


NOW = "2021-04-06T09:00:00+02:00"  # the invitation of session 6 is due
Cli = Callable[..., tuple[int, str, str]]


def send(run_cli: Cli, config: Path, *args: str, kind: str = "invitation") -> tuple[int, str, str]:
    """`mailer --now NOW --real-mail send 2021-04-20 --kind KIND --yes ARGS...`, in-process."""
    return run_cli(
        "--config",
        str(config),
        "--now",
        NOW,
        "--real-mail",
        "send",
        "2021-04-20",
        "--kind",
        kind,
        "--yes",
        *args,
    )


def deliveries(config: Path, message: str = "invitation") -> dict[str, dict[str, Any]]:
    """The delivery rows of one email in the state file, by address (read directly, not
    through mailer)."""
    found = rows(config, "SELECT * FROM deliveries WHERE message = ?", (message,))
    return {row["address"]: row for row in found}


def suppressed(config: Path) -> set[str]:
    """The suppressed addresses of the state file (read directly)."""
    return {row["address"] for row in rows(config, "SELECT address FROM suppressions")}


def add_people(config: Path, rows: str) -> None:
    """Append CSV rows (email,name,language,...) to the members list of a copied project."""
    members = config.parent / "recipients" / "members.csv"
    text = members.read_text(encoding="utf-8")
    members.write_text(text.rstrip("\n") + "\n" + rows.strip("\n") + "\n", encoding="utf-8")


def mailer_send(config: Path) -> subprocess.Popen[bytes]:
    """The real `mailer send` of the invitation of 2021-04-20, in a process of its own (its
    stderr piped), at the moment it is due."""
    environment = {**os.environ, "MAILER_UNSUBSCRIBE_KEY": "sending-test-signing-key-0123456789"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mailer",
            "--config",
            str(config),
            "--now",
            "2021-04-06T09:00:00+02:00",
            "--real-mail",
            "send",
            "2021-04-20",
            "--kind",
            "invitation",
            "--yes",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=environment,
    )


def recorded_sent(
    state: State, key: SendKey, recipients: list[Recipient], now: dt.datetime
) -> None:
    """`key`'s email planned for `recipients` and recorded as sent to each of them (the
    ledger's own steps: plan, claim, record), as if a send had gone."""
    ledger = Ledger(state)
    ledger.plan(
        key,
        key.message.split(":")[0],
        segments=("everyone",),
        deadline=now + dt.timedelta(days=5),
        recipients=recipients,
        now=now,
    )
    taken = ledger.claim(key, len(recipients), now, 5) or []
    ledger.record([Outcome(t.id, "sent", f"<{t.id}@x>") for t in taken], now)
