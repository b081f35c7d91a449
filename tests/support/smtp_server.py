"""A real SMTP server (aiosmtpd) on 127.0.0.1, port 0, that records what it receives and
misbehaves on demand, like aiosmtplib's own test server.

Faults are rules: at a stage (MAIL, RCPT, DATA), for recipients containing some text (or any),
a number of times (or always), do something: reply with a code, drop the connection before the
final dot, drop it after the final dot (the message *was* received), answer slowly, or drip the
answer a byte at a time. STARTTLS can be refused or not offered at all.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import ssl
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

Stage = Literal["MAIL", "RCPT", "DATA", "STARTTLS"]
Action = Literal["reply", "drop_before_dot", "drop_after_dot", "slow", "drip", "open_data"]
_DROP = "\x00drop"
_DRIP = "\x00drip"


@dataclass
class Fault:
    stage: Stage
    action: Action = "reply"
    reply: str = "451 4.3.0 try again later"
    recipient: str = ""  # a part of the recipient address; empty: every message
    times: int | None = 1  # None: every time
    delay: float = 0.0  # slow: before the reply; drip: between bytes

    def matches(self, stage: Stage, recipient: str) -> bool:
        return (
            self.stage == stage
            and self.recipient in recipient
            and (self.times is None or self.times > 0)
        )


_MESSAGE_ID = re.compile(rb"^Message-ID: (<[^>\r\n]+>)\r?$", re.MULTILINE | re.IGNORECASE)


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    mail_options: list[str] = field(default_factory=list)

    @property
    def message_id(self) -> str:
        headers = self.data.split(b"\r\n\r\n", 1)[0]
        if found := _MESSAGE_ID.search(headers):  # as the header says it, unfolded
            return found.group(1).decode("ascii")
        message = email.message_from_bytes(self.data, policy=email.policy.default)
        return str(message["Message-ID"])


@dataclass
class Recorder:
    """The aiosmtpd handler: records messages and commands, applies faults."""

    received: list[Received] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    commands: Counter[str] = field(default_factory=Counter)
    reads: list[bytes] = field(default_factory=list)  # what each read from a client got
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self, stage: Stage, recipient: str) -> Fault | None:
        with self.lock:
            self.commands[stage] += 1
            for fault in self.faults:
                if fault.matches(stage, recipient):
                    if fault.times is not None:
                        fault.times -= 1
                    return fault
        return None

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if (fault := self.fault("MAIL", "")) is not None:
            return fault.reply
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if (fault := self.fault("RCPT", address)) is not None:
            return fault.reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        recipient = ",".join(envelope.rcpt_tos)
        fault = self.fault("DATA", recipient)
        if fault is not None and fault.action == "reply":
            return fault.reply
        assert isinstance(envelope.original_content, bytes)
        with self.lock:
            self.received.append(
                Received(
                    str(envelope.mail_from),
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    list(envelope.mail_options),
                )
            )
        if fault is not None and fault.action == "slow":
            await asyncio.sleep(fault.delay)
        if fault is not None and fault.action == "drop_after_dot":
            return "250 OK" + _DROP
        if fault is not None and fault.action == "drip":
            server.drip_delay = fault.delay  # type: ignore[attr-defined]
            return "250 2.0.0 OK" + _DRIP
        return "250 2.0.0 OK: queued"

    # -- what tests look at --------------------------------------------------------------------

    def by_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(r for message in self.received for r in message.recipients)

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(message.message_id for message in self.received)


class FaultySMTP(SMTP):
    """aiosmtpd's server, able to drop the connection or drip its replies, and to offer
    PIPELINING (RFC 2920), which it handles anyway (it reads one command line at a time)."""

    drip_delay = 0.0
    pipelining = True

    async def push(self, status: Any) -> None:
        text = status if isinstance(status, str) else status.decode()
        if text == "250 HELP" and self.pipelining:  # the last line of the EHLO reply
            await super().push("250-PIPELINING")
        if text.endswith(_DROP):
            assert self.transport is not None
            self.transport.close()  # the message was received; the reply never goes
            return
        if text.endswith(_DRIP):
            for byte in (text.removesuffix(_DRIP) + "\r\n").encode():
                self._writer.write(bytes([byte]))
                await self._writer.drain()
                await asyncio.sleep(self.drip_delay)
            return
        await super().push(status)

    def data_received(self, data: bytes) -> None:
        recorder: Recorder = self.event_handler
        with recorder.lock:
            recorder.reads.append(bytes(data[:200]))
        super().data_received(data)

    async def smtp_DATA(self, arg: str) -> None:
        recorder: Recorder = self.event_handler
        assert self.envelope is not None
        opens = any(f.action == "open_data" and f.stage == "DATA" for f in recorder.faults)
        if not self.envelope.rcpt_tos and opens:  # as some servers do with PIPELINING
            await super().push("354 End data with <CR><LF>.<CR><LF>")
            while await self._reader.readuntil(b"\r\n") != b".\r\n":
                pass
            await super().push("554 5.5.1 Error: no valid recipients")
            return
        fault = next(
            (
                f
                for f in recorder.faults
                if f.action == "drop_before_dot"
                and f.matches("DATA", ",".join(self.envelope.rcpt_tos))
            ),
            None,
        )
        if fault is not None:
            recorder.fault("DATA", ",".join(self.envelope.rcpt_tos))
            await super().push("354 End data with <CR><LF>.<CR><LF>")
            assert self.transport is not None
            self.transport.close()  # before the message ends: nothing received
            return
        await super().smtp_DATA(arg)

    async def smtp_STARTTLS(self, arg: str) -> None:
        recorder: Recorder = self.event_handler
        fault = recorder.fault("STARTTLS", "")
        if fault is not None:
            await super().push(fault.reply)
            return
        await super().smtp_STARTTLS(arg)


class SmtpServer:
    """The server in a thread of its own, with its own event loop."""

    def __init__(
        self,
        *,
        tls: ssl.SSLContext | None = None,
        smtputf8: bool = True,
        port: int = 0,
        implicit_tls: ssl.SSLContext | None = None,
        pipelining: bool = True,
        password: str | None = None,
    ) -> None:
        """`tls` offers STARTTLS; `implicit_tls` speaks TLS from the first byte (port 465);
        `pipelining` offers PIPELINING, as every real relay does; `password`: AUTH (PLAIN and
        LOGIN) for the user `mailer`, every attempt counted in `recorder.commands["AUTH"]`."""
        self.recorder = Recorder()
        self.password = password
        self.tls = tls
        self.implicit_tls = implicit_tls
        self.smtputf8 = smtputf8
        self.pipelining = pipelining
        self.port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._server: asyncio.AbstractServer | None = None

    def __enter__(self) -> SmtpServer:
        self._thread.start()

        def authenticate(
            server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
        ) -> AuthResult:
            with self.recorder.lock:
                self.recorder.commands["AUTH"] += 1
            good = isinstance(data, LoginPassword) and (data.login, data.password) == (
                b"mailer",
                (self.password or "").encode(),
            )
            return AuthResult(success=good, handled=False)

        def serve() -> FaultySMTP:
            server = FaultySMTP(
                self.recorder,
                hostname="localhost",
                tls_context=self.tls,
                enable_SMTPUTF8=self.smtputf8,
                decode_data=False,
                timeout=30,
                authenticator=authenticate if self.password is not None else None,
                auth_require_tls=False,
            )
            server.pipelining = self.pipelining
            return server

        async def start() -> asyncio.AbstractServer:
            return await self._loop.create_server(
                serve,
                "127.0.0.1",
                self.port,
                ssl=self.implicit_tls,
                reuse_address=True,
            )

        server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        assert isinstance(server, asyncio.Server)
        self._server = server
        self.port = server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *_: object) -> None:
        async def stop() -> None:
            assert self._server is not None
            self._server.close()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def received(self) -> list[Received]:
        return self.recorder.received

    def add_fault(self, fault: Fault) -> None:
        with self.recorder.lock:
            self.recorder.faults.append(fault)


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and 127.0.0.1 (openssl), and its key."""
    certificate, key = folder / "server.pem", folder / "server.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(certificate),
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return certificate, key


def server_tls_context(certificate: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    return context
