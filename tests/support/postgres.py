"""A real PostgreSQL server for the tests: Debian's, a cluster made in a temporary folder and
served on 127.0.0.1 (a free port), started and stopped by the tests.

`initdb` and `postgres` refuse to run as root, and CI runs as root: then they run as Debian's
`postgres` user (`runuser`). `Postgres()` makes and starts a cluster; `.database()` a fresh
database for one test (its URL); `.stop(mode)` and `.start()` for the crash tests (`-m
immediate` is a crash: no shutdown checkpoint). No mocks: mailer speaks to it as to any server.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType

import pytest

BIN = Path("/usr/lib/postgresql")


def binaries() -> Path | None:
    """The newest installed server's bin/ (Debian's postgresql package)."""
    versions = sorted(
        (p for p in BIN.glob("*/bin") if (p / "postgres").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return versions[-1] if versions else None


def require_postgres() -> Path:
    """Fail (not skip) without the server: dev/test installs it."""
    found = binaries()
    if found is None:
        if os.environ.get("MAILER_ALLOW_MISSING_PEERS"):
            pytest.skip("PostgreSQL is not installed (MAILER_ALLOW_MISSING_PEERS)")
        pytest.fail("Debian's postgresql is needed: run dev/test, which installs it")
    return found


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Postgres:
    """A cluster of its own, served on 127.0.0.1:`port`, trusting local connections."""

    def __init__(self, *, durable: bool = False) -> None:
        """`durable`: fsync as a production server does (benchmarks); tests need no fsync."""
        self.bin = require_postgres()
        self.durable = durable
        self.folder = Path(tempfile.mkdtemp(prefix="mailer-postgres-"))
        self.folder.chmod(0o755)
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_postgres = os.geteuid() == 0
        if self.as_postgres:
            owner = pwd.getpwnam("postgres")
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync",
        )  # fmt: skip
        self._names = itertools.count(1)
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def _command(self, name: str, *args: str) -> list[str]:
        command = [str(self.bin / name), *args]
        return ["runuser", "-u", "postgres", "--", *command] if self.as_postgres else command

    def _run(self, name: str, *args: str) -> None:
        subprocess.run(self._command(name, *args), check=True, capture_output=True, timeout=120)

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start the server (again), and wait until it takes connections."""
        options: tuple[str, ...] = (
            "-D", str(self.data), "-p", str(self.port), "-k", str(self.folder),
            "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200",
        )  # fmt: skip
        if not self.durable:
            options += ("-c", "fsync=off", "-c", "full_page_writes=off")
        with (self.folder / "server.log").open("ab") as log:  # the server writes on
            self.process = subprocess.Popen(
                self._command("postgres", *options), stdout=log, stderr=log
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
                if self._ready():
                    return
            except OSError:
                pass
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log()[-2000:]}")
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not start: {self.log()[-2000:]}")

    def _ready(self) -> bool:
        import psycopg

        try:
            with psycopg.connect(self.admin_url, connect_timeout=2) as connection:
                connection.execute("SELECT 1")
        except psycopg.OperationalError:
            return False
        return True

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: `immediate` is a crash (no checkpoint; recovery at start)."""
        if self.process is None:
            return
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w")
        self.process.wait(timeout=60)
        self.process = None

    def database(self) -> str:
        """A new, empty database; its URL."""
        import psycopg

        name = f"t{next(self._names)}"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def log(self) -> str:
        path = self.folder / "server.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def close(self) -> None:
        try:
            self.stop("immediate")
        except (subprocess.SubprocessError, OSError):
            if self.process is not None:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Postgres:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def use_postgres(config: Path, url: str, *, lease: str | None = None) -> Path:
    """Point a project's config at `url` (its `[state]` table gets the database)."""
    text = config.read_text(encoding="utf-8")
    old = 'database = "state/mailer.db"'
    assert old in text, "the shipped config names its state file"
    new = f'database = "{url}"' + (f'\nlease = "{lease}"' if lease else "")
    config.write_text(text.replace(old, new), encoding="utf-8")
    return config
