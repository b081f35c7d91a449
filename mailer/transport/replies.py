"""The replies of an SMTP connection, read in order, several at a time: what a lane uses once
aiosmtplib has opened the session (greeting, EHLO, STARTTLS, AUTH), so that a transaction's
commands can be pipelined (RFC 2920: MAIL, RCPT and DATA in one write, their three replies in
one read).

aiosmtplib's own protocol reads one reply per arrival of data, which pipelining would leave
waiting in its buffer; so the lane hands the connection's transport over to a `ReplyReader`,
which parses every complete reply as it arrives and gives them out in order. Broken replies
and a lost connection are `ConnectionError`s: the lane drops the connection, and what that
means for the message depends on when it happened (`mailer.transport.smtp`).
"""

from __future__ import annotations

import asyncio
import collections
from typing import NamedTuple

MAX_REPLY = 32 * 1024  # bytes: far over any real reply (aiosmtplib's limit too)


class Reply(NamedTuple):
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}".strip()


class ReplyReader(asyncio.Protocol):
    """The protocol of a connection taken over from aiosmtplib (`take_over`)."""

    def __init__(self) -> None:
        self.transport: asyncio.WriteTransport | None = None
        self._buffer = bytearray()
        self._ready: collections.deque[Reply] = collections.deque()
        self._waiting: collections.deque[asyncio.Future[Reply]] = collections.deque()
        self._lost: ConnectionError | None = None

    @classmethod
    def take_over(cls, transport: asyncio.BaseTransport) -> ReplyReader:
        """Read the replies of `transport` from now on (its protocol was aiosmtplib's)."""
        assert isinstance(transport, asyncio.WriteTransport)
        reader = cls()
        transport.set_protocol(reader)
        reader.transport = transport
        return reader

    @property
    def open(self) -> bool:
        return self._lost is None and self.transport is not None and not self.transport.is_closing()

    def write(self, data: bytes) -> None:
        if self._lost is not None:
            raise self._lost
        if self.transport is None or self.transport.is_closing():
            raise ConnectionResetError("the connection is closed")
        self.transport.write(data)

    async def reply(self) -> Reply:
        """The next reply (waiting for it if it has not arrived)."""
        if self._ready:
            return self._ready.popleft()
        if self._lost is not None:
            raise self._lost
        waiter: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiter)
        return await waiter

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (reply := self._next_reply()) is not None:
            if self._waiting:
                waiter = self._waiting.popleft()
                if not waiter.done():
                    waiter.set_result(reply)
            else:
                self._ready.append(reply)
        if len(self._buffer) > MAX_REPLY:
            self._fail(ConnectionAbortedError("the server's reply is too long"))

    def _next_reply(self) -> Reply | None:
        """The first complete reply in the buffer (removed from it), or None. A reply is lines
        of "CODE-text", then "CODE text" (RFC 5321 4.2.1)."""
        start, lines = 0, []
        while (end := self._buffer.find(b"\n", start)) != -1:
            line = bytes(self._buffer[start : end + 1]).rstrip(b"\r\n")
            start = end + 1
            if len(line) < 3 or not line[:3].isdigit() or line[3:4] not in (b"", b" ", b"-"):
                text = line[:80].decode("utf-8", "replace")
                self._fail(ConnectionAbortedError(f"a malformed reply from the server: {text!r}"))
                return None
            lines.append(line[4:].decode("utf-8", "surrogateescape").strip())
            if line[3:4] != b"-":
                del self._buffer[:start]
                return Reply(int(line[:3]), "\n".join(lines))
        return None

    def eof_received(self) -> bool:
        self._fail(ConnectionResetError("the server closed the connection"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        reason = f": {exc}" if exc else ""
        self._fail(ConnectionResetError(f"the connection was lost{reason}"))

    def _fail(self, error: ConnectionError) -> None:
        if self._lost is None:
            self._lost = error
        self._buffer.clear()
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)
                waiter.exception()  # retrieved: nobody may await it any more
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
