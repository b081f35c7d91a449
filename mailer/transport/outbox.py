"""The embedded transport: each email as a real .eml file in a Maildir-style folder.

`outbox/tmp/` then, renamed atomically, `outbox/new/`, like a Maildir delivery (with the
`Return-Path` and `Delivered-To` headers a delivery agent adds). The file is named after the
Message-ID, so writing the same email again replaces it instead of making a copy; it is fsynced,
and so is the folder, before the send counts as done.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import hashlib
import os
from pathlib import Path

from mailer.errors import RelayFailure, SetupFailure
from mailer.model import Outgoing
from mailer.transport.base import Lane, Transport


class OutboxLane(Lane):
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _write(self, message: Outgoing) -> str:
        name = hashlib.sha256(message.message_id.encode()).hexdigest()[:32] + ".eml"
        temporary = self.folder / "tmp" / name
        final = self.folder / "new" / name
        envelope = (
            f"Return-Path: <{message.sender}>\r\nDelivered-To: {message.recipient}\r\n"
        ).encode()
        try:
            descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "wb") as file:
                file.write(envelope + message.data)
                file.flush()
                os.fsync(file.fileno())
            temporary.replace(final)
        except OSError:
            with contextlib.suppress(OSError):  # no half-written file is left behind
                temporary.unlink()
            raise
        directory = os.open(final.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
        return f"250 written to {final}"

    async def send(self, message: Outgoing) -> str:
        try:
            return await asyncio.to_thread(self._write, message)
        except OSError as error:
            raise _outbox_failure(self.folder, error) from error

    async def close(self) -> None:
        return None


def _outbox_failure(folder: Path, error: OSError) -> RelayFailure | SetupFailure:
    """A full disk waits for space (the send's problem, nobody's delivery); a folder that cannot
    be written at all is a configuration problem."""
    reason = error.strerror or str(error)
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return RelayFailure(f"the outbox {folder} cannot take more emails: {reason}")
    return SetupFailure(f"cannot write to the outbox {folder}: {reason}")


class OutboxTransport(Transport):
    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        try:
            # readable by this user only: the emails hold everyone's address
            folder.parent.mkdir(parents=True, exist_ok=True)
            folder.mkdir(mode=0o700, exist_ok=True)
            for sub in ("tmp", "new", "cur"):
                (folder / sub).mkdir(mode=0o700, exist_ok=True)
        except OSError as error:
            raise SetupFailure(f"cannot create the outbox {folder}: {error.strerror}") from error

    async def open_lane(self) -> Lane:
        return OutboxLane(self.folder)

    @property
    def lanes(self) -> int:
        return 2
