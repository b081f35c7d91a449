"""Locks beside the state file: one sender at a time, one daemon at a time.

`flock` locks, which the kernel releases when the holder dies (even by `kill -9`), so a crash
never leaves a stale lock behind. The lock file says who holds it, for the error message.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import time
from pathlib import Path
from types import TracebackType

from mailer.errors import LockHeld, StateError


class FileLock:
    """An exclusive lock on `path`, for `purpose` ("sending", "daemon")."""

    def __init__(self, path: Path, purpose: str) -> None:
        self.path = path
        self.purpose = purpose
        self._fd: int | None = None

    def acquire(self, wait: float = 0.0) -> None:
        """Take the lock, waiting up to `wait` seconds; LockHeld says who has it."""
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as error:
            raise StateError(
                f"cannot create the lock file {self.path}: {error.strerror}: mailer writes it "
                "beside the state file; check that folder's permissions and free space"
            ) from error
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(fd, 500, 0).decode(errors="replace").strip() or "unknown"
                    os.close(fd)
                    raise LockHeld(
                        f"another mailer process holds the {self.purpose} lock ({holder}); "
                        "wait for it to finish, or stop it first"
                    ) from None
                time.sleep(min(0.2, max(deadline - time.monotonic(), 0.01)))
        started = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        with contextlib.suppress(OSError):  # who holds it is a courtesy (a full disk refuses it)
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"pid {os.getpid()}, {self.purpose} since {started}".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.release()


def sender_lock(database: Path) -> FileLock:
    """The lock every process that sends takes (`mailer send`, the daemon's jobs)."""
    return FileLock(database.with_name(database.name + ".sender.lock"), "sending")


def daemon_lock(database: Path) -> FileLock:
    """The lock a daemon holds for its whole life."""
    return FileLock(database.with_name(database.name + ".daemon.lock"), "daemon")


def mailbox_lock(database: Path) -> FileLock:
    """The lock of whoever reads the mailbox (`mailer mailbox`, the daemon's round)."""
    return FileLock(database.with_name(database.name + ".mailbox.lock"), "mailbox reading")
