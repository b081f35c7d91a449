"""Debian's SpamAssassin, as a spamd on a Unix socket, with its local tests only (-L: no DNS
blocklists, no network): what a receiving server's content filter says of an email.

spamd answers the SPAMC protocol (REPORT), which is plain text; starting it once for many
emails is ten times faster than one `spamassassin -t` per email.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

_SCORE = re.compile(r"^Spam: (True|False) ; (-?[\d.]+) / (-?[\d.]+)", re.MULTILINE)


@dataclass(frozen=True)
class Verdict:
    score: float
    report: str  # the rules that fired, with their points

    @property
    def rules(self) -> list[str]:
        table = self.report.split("---- ----------------------", 1)[-1]
        return re.findall(r"^\s*-?[\d.]+ (\w+)", table, re.MULTILINE)


class Spamd:
    def __init__(self, path: Path) -> None:
        self.path = path

    def check(self, data: bytes) -> Verdict:
        with socket.socket(socket.AF_UNIX) as client:
            client.settimeout(60)
            client.connect(str(self.path))
            request = f"REPORT SPAMC/1.5\r\nContent-length: {len(data)}\r\n\r\n".encode()
            client.sendall(request + data)
            client.shutdown(socket.SHUT_WR)
            answer = b""
            while chunk := client.recv(65536):
                answer += chunk
        text = answer.decode("utf-8", "replace")
        found = _SCORE.search(text)
        assert found, f"spamd did not answer with a score: {text[:300]}"
        return Verdict(float(found.group(2)), text)


def spamd_path() -> str:
    """Debian's spamd; fail (not skip) when missing: dev/test installs it."""
    path = shutil.which("spamd") or (
        "/usr/sbin/spamd" if Path("/usr/sbin/spamd").exists() else None
    )
    if path is None:
        if os.environ.get("MAILER_ALLOW_MISSING_PEERS"):
            pytest.skip("spamassassin is missing (MAILER_ALLOW_MISSING_PEERS)")
        pytest.fail("Debian's spamassassin is needed: run dev/test, which installs it")
    return path


@contextmanager
def running_spamd() -> Iterator[Spamd]:
    folder = Path(tempfile.mkdtemp(prefix="mailer-spamd-"))
    folder.chmod(0o755)  # spamd's children may run as another user
    path = folder / "spamd.sock"
    log = (folder / "spamd.log").open("wb")  # a pipe nobody reads would fill up and block it
    process = subprocess.Popen(
        [
            spamd_path(),
            "--local",  # no network tests
            "--nouser-config",
            f"--socketpath={path}",
            "--socketmode=0666",
            f"--pidfile={folder / 'spamd.pid'}",
            "--max-children=2",
            "--min-children=1",
            "--syslog=stderr",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    try:
        deadline = time.monotonic() + 60
        while not path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                log.flush()
                said = (folder / "spamd.log").read_text(errors="replace")
                raise RuntimeError(f"spamd did not start: {said[-2000:]}")
            time.sleep(0.1)
        yield Spamd(path)
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
