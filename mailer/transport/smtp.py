"""SMTP with aiosmtplib: a few connections, each reused for many messages.

- `security = "starttls"` fails closed: a server that does not offer STARTTLS gets nothing.
  Certificates are verified (against the system's store, or `ca_file`).
- `timeout` applies to each network read, so a server dripping a byte at a time never trips
  it: every message also has an overall deadline. Both are one asyncio timeout per message,
  moved before each read (aiosmtplib's own per-read timeouts are off).
- A transaction's commands and the message's bytes are written to aiosmtplib's protocol as
  they are (`_command`, `on_the_wire`), which reads the replies; aiosmtplib connects, speaks
  TLS, EHLO, AUTH, RSET and QUIT.
- What a failure means depends on when it happens, and whose it is:
  - the relay or the connection (refused, timed out, lost before the data; the session, TLS or
    MAIL FROM refused for now; 421 anywhere): `RelayFailure`, the send's problem, not the
    recipient's: the delivery waits, and no attempt is counted;
  - the configuration (a certificate that does not verify, TLS on the wrong port, a login or a
    sender refused for good, no STARTTLS): `SetupFailure`, no message can go;
  - this recipient or message (4xx or 5xx at RCPT or DATA): `TemporaryFailure` (later) or
    `PermanentFailure` (never);
  - a connection lost, or the deadline passed, while the data was going out or after the final
    dot: `UnknownFate`, the message may have been accepted.
- An address with a non-ASCII local part goes with SMTPUTF8 (RFC 6531) when the server offers
  it; when it does not, that one delivery fails (the relay cannot carry it), and nobody else's.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import ssl

import aiosmtplib

from mailer.config.settings import SmtpSettings
from mailer.errors import (
    ConnectionFailure,
    PermanentFailure,
    RelayFailure,
    SetupFailure,
    TemporaryFailure,
    TransportError,
    UnknownFate,
    Withheld,
)
from mailer.model import Outgoing
from mailer.transport.base import Lane, Transport
from mailer.transport.replies import Reply, ReplyReader

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
_CONNECTION_ERRORS = (
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    aiosmtplib.SMTPConnectError,
    ConnectionError,
    TimeoutError,
    OSError,
)
_IMPLICIT_TLS_PORT = 465
_OK, _WILL_FORWARD, _START_INPUT, _CLOSING = 250, 251, 354, 421


def enhanced_code(text: str) -> str | None:
    """`5.1.1` from a reply like `5.1.1 <x@y>: Recipient address rejected`."""
    match = _ENHANCED.match(text.strip())
    return ".".join(match.groups()) if match else None


def slows_down(code: int, text: str) -> bool:
    """421 (closing), and 4.7.x replies, which relays use to say "too many, too fast"."""
    enhanced = enhanced_code(text) or ""
    return code == 421 or enhanced.startswith("4.7.")


def _tls_error(error: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a connection error, if that is what it was."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def on_the_wire(message: Outgoing) -> bytes:
    """The DATA of a message: dot-stuffed (RFC 5321 4.5.2) and ended by the final dot.

    Messages have CRLF line endings only (`Outgoing.data`; tests/unit/test_compose.py checks
    every kind of email and notice), and the composer says when no line starts with a dot (it
    knows the lines it shares between recipients, and checks the few that are theirs): then
    the bytes go as they are, with no pass over them at all (aiosmtplib makes two, with regular
    expressions, which were half of the time of a send).
    """
    data = message.data
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    if not message.dot_free:
        data = data.replace(b"\r\n.", b"\r\n..")
        if data.startswith(b"."):
            data = b"." + data
    return data + b".\r\n"


def _refusal_error(stage: str, reply: Reply, message: Outgoing) -> Exception:
    """aiosmtplib's exception for a refusal at `stage` (what `SmtpLane._refused` reads)."""
    if stage == "MAIL":
        return aiosmtplib.SMTPSenderRefused(reply.code, reply.text, message.sender)
    if stage == "RCPT":
        return aiosmtplib.SMTPRecipientRefused(reply.code, reply.text, message.recipient)
    return aiosmtplib.SMTPDataError(reply.code, reply.text)


class SmtpTransport(Transport):
    name = "smtp"

    def __init__(
        self, settings: SmtpSettings, password: str | None, ca_file: str | None = None
    ) -> None:
        self.settings = settings
        self.password = password
        # (loading the system's CAs takes a while: not for a relay spoken to in clear)
        self.tls_context = (
            None if settings.security == "none" else ssl.create_default_context(cafile=ca_file)
        )
        self.refused: SetupFailure | None = None  # the relay refused our login: no retry
        self._logged_in = False  # once a login worked, connections log in side by side
        self._first_login: asyncio.Lock | None = None

    async def log_in(self, smtp: aiosmtplib.SMTP, where: str) -> None:
        """Log a connection in, with one mechanism: a refused password is tried once per
        run, not once per connection and mechanism (a relay that counts failures locks the
        account). Until one login worked, connections log in one after the other."""
        if self.refused is not None:
            raise self.refused
        if self._logged_in:
            await self._authenticate(smtp, where)
            return
        if self._first_login is None:
            self._first_login = asyncio.Lock()
        async with self._first_login:
            if self.refused is not None:
                raise self.refused
            await self._authenticate(smtp, where)
            self._logged_in = True

    async def _authenticate(self, smtp: aiosmtplib.SMTP, where: str) -> None:
        username = self.settings.username or ""
        methods = smtp.supported_auth_methods
        if not methods:
            raise SetupFailure(f"{where} offers no login mechanism that mailer knows")
        method = "plain" if "plain" in methods else methods[0]
        try:
            await getattr(smtp, f"auth_{method.replace('-', '')}")(username, self.password or "")
        except aiosmtplib.SMTPAuthenticationError as error:
            text = f"{where} refused the login of {username}: {error.code} {error.message}"
            if 400 <= error.code < 500:  # 454: the relay cannot check it now
                raise RelayFailure(text, code=error.code) from error
            self.refused = SetupFailure(text, code=error.code)
            raise self.refused from error

    @property
    def lanes(self) -> int:
        return self.settings.connections

    async def open_lane(self) -> Lane:
        return SmtpLane(self)


class SmtpLane(Lane):
    def __init__(self, transport: SmtpTransport) -> None:
        self.transport = transport
        self.settings = transport.settings
        self.smtp: aiosmtplib.SMTP | None = None
        self.replies: ReplyReader | None = None  # the connection's replies, once it is open
        self.pipelining = False

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self.settings
        smtp = aiosmtplib.SMTP(
            hostname=settings.host,
            port=settings.port,
            timeout=settings.timeout,
            use_tls=settings.security == "tls",
            start_tls=False,
            tls_context=self.transport.tls_context,
            local_hostname=settings.helo,
        )
        try:
            async with asyncio.timeout(settings.deadline):
                await smtp.connect()
                await smtp.ehlo()  # the extensions are only known after EHLO
                if settings.security == "starttls":
                    if not smtp.supports_extension("starttls"):
                        raise SetupFailure(
                            f"{self.where} does not offer STARTTLS: refusing to send in clear "
                            '(security = "starttls"; use "tls" for port 465)'
                        )
                    await smtp.starttls()
                    await smtp.ehlo()  # extensions change once encrypted (RFC 3207)
                if settings.username:
                    await self.transport.log_in(smtp, self.where)
        except TransportError:
            smtp.close()
            raise
        except Exception as error:
            smtp.close()
            raise self._session_failure(error) from error
        return smtp

    def _session_failure(self, error: Exception) -> TransportError:
        """What a failure to set up the session means (see the module's docstring)."""
        where, settings = self.where, self.settings
        if (tls := _tls_error(error)) is not None:
            if isinstance(tls, ssl.SSLCertVerificationError):
                return SetupFailure(
                    f"the certificate of {where} cannot be verified ({tls.verify_message}): "
                    "nothing is sent; set [smtp] ca_file for a private CA"
                )
            return SetupFailure(
                f"TLS with {where} failed ({tls.reason or tls}): check [smtp] security "
                '("tls" for port 465, "starttls" for 587)'
            )
        if isinstance(error, aiosmtplib.SMTPAuthenticationError):
            return SetupFailure(
                f"{where} refused the login of {settings.username}: {error.code} {error.message}",
                code=error.code,
            )
        if isinstance(error, aiosmtplib.SMTPResponseException):
            text = f"{where} refused the session: {error.code} {error.message}"
            if 400 <= error.code < 500:
                return RelayFailure(text, code=error.code, slow_down=error.code == 421)
            return SetupFailure(text, code=error.code)
        if isinstance(error, (aiosmtplib.SMTPTimeoutError, TimeoutError)):
            hint = ""
            if settings.port == _IMPLICIT_TLS_PORT and settings.security != "tls":
                hint = ' (port 465 expects TLS from the start: security = "tls")'
            return ConnectionFailure(f"{where} did not answer in time{hint}")
        if isinstance(error, _CONNECTION_ERRORS):
            return ConnectionFailure(f"cannot connect to {where}: {error}")
        return RelayFailure(f"the session with {where} failed: {type(error).__name__}: {error}")

    def _drop(self) -> None:
        if self.replies is not None:
            self.replies.close()
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = self.replies = None

    async def _open(self) -> ReplyReader:
        """The connection's replies: aiosmtplib opens the session (greeting, EHLO, STARTTLS,
        AUTH), then the transactions are read here (`mailer.transport.replies`)."""
        if self.replies is not None and self.replies.open:
            return self.replies
        self._drop()
        self.smtp = await self._connect()
        assert self.smtp.transport is not None
        self.pipelining = self.smtp.supports_extension("pipelining")
        self.replies = ReplyReader.take_over(self.smtp.transport)
        return self.replies

    async def _reset(self) -> None:
        """After a refused command, end the transaction so the connection can be reused."""
        if self.replies is None:
            return
        try:
            async with asyncio.timeout(self.settings.timeout):
                self.replies.write(b"RSET\r\n")
                if (await self.replies.reply()).code != _OK:
                    self._drop()
        except _CONNECTION_ERRORS:
            self._drop()

    async def send(self, message: Outgoing) -> str:
        replies = await self._open()
        assert self.smtp is not None
        stage = "MAIL"
        loop = asyncio.get_running_loop()
        started = loop.time()
        deadline, timeout = started + self.settings.deadline, self.settings.timeout
        try:
            async with asyncio.timeout_at(min(deadline, started + timeout)) as limit:

                def next_read() -> None:
                    """Each read within `timeout`, all within `deadline`. The timer moves only
                    when that gains a second: a fast server's replies cost no timer at all."""
                    later = min(deadline, loop.time() + timeout)
                    if later - (limit.when() or 0.0) > 1.0:
                        limit.reschedule(later)

                mail, rcpt = self._envelope(message)
                answers: list[Reply] = []
                if self.pipelining:  # RFC 2920: the three commands in one write
                    replies.write(mail + rcpt + b"DATA\r\n")
                    while len(answers) < 3 and (not answers or answers[-1].code != _CLOSING):
                        answers.append(await replies.reply())  # (none after a 421)
                else:
                    for command in (mail, rcpt, b"DATA\r\n"):
                        next_read()
                        replies.write(command)
                        answers.append(await replies.reply())
                        if answers[-1].code >= 400:
                            break
                if refused := await self._refusal(answers):
                    stage, reply = refused
                    raise _refusal_error(stage, reply, message)
                stage = "DATA"
                if self.still_ours is not None and not self.still_ours():
                    self._drop()  # the server forgets a message whose data never came
                    raise Withheld("its lease ran out before its data went: not sent")
                next_read()
                replies.write(on_the_wire(message))
                reply = await replies.reply()
                if reply.code != _OK:
                    raise aiosmtplib.SMTPDataError(reply.code, reply.text)
                return str(reply)
        except aiosmtplib.SMTPResponseException as error:
            raise await self._refused(stage, error) from error
        except _CONNECTION_ERRORS as error:
            self._drop()
            if stage == "DATA":
                raise UnknownFate(
                    f"connection lost or too slow during DATA ({error!r}): the "
                    "message may have been accepted"
                ) from error
            raise RelayFailure(f"connection to {self.where} lost at {stage} ({error!r})") from error

    def _envelope(self, message: Outgoing) -> tuple[bytes, bytes]:
        """`MAIL FROM` and `RCPT TO`, for addresses validated long before (only SMTP's own
        delimiters are checked again)."""
        encoding = "ascii"
        options = b""
        if message.smtputf8:
            assert self.smtp is not None
            if not self.smtp.supports_extension("smtputf8"):
                raise PermanentFailure(
                    f"{message.recipient} needs SMTPUTF8 (RFC 6531), which {self.where} "
                    "does not offer: this address cannot go through this relay",
                    relay=True,
                )
            encoding, options = "utf-8", b" SMTPUTF8"
        sender, recipient = (a.encode(encoding) for a in (message.sender, message.recipient))
        if any(byte in sender + recipient for byte in b"\r\n<> "):
            raise PermanentFailure(f"{message.recipient}: not an address SMTP can carry")
        return (
            b"MAIL FROM:<" + sender + b">" + options + b"\r\n",
            b"RCPT TO:<" + recipient + b">\r\n",
        )

    async def _refusal(self, answers: list[Reply]) -> tuple[str, Reply] | None:
        """The stage (MAIL, RCPT, DATA) whose reply refused the transaction, and that reply;
        None when the server waits for the message. A pipelining server that opened DATA
        after refusing the sender or the recipient gets an empty message, so that the
        connection can go on."""
        mail, *rest = answers
        rcpt = rest[0] if rest else None
        data = rest[1] if len(rest) > 1 else None
        refusal: tuple[str, Reply] | None = None
        if mail.code != _OK:
            refusal = ("MAIL", mail)
        elif rcpt is not None and rcpt.code not in (_OK, _WILL_FORWARD):
            refusal = ("RCPT", rcpt)
        elif data is None or data.code != _START_INPUT:
            return ("DATA", data or Reply(0, "no reply to DATA"))
        if refusal is not None and data is not None and data.code == _START_INPUT:
            assert self.replies is not None
            self.replies.write(b".\r\n")
            await self.replies.reply()
        return refusal

    async def _refused(self, stage: str, error: aiosmtplib.SMTPResponseException) -> Exception:
        reply = Reply(error.code, error.message)
        temporary = 400 <= error.code < 500
        if error.code == 421:
            self._drop()  # the server is closing this connection
        else:
            await self._reset()
        enhanced = enhanced_code(error.message)
        slow_down = slows_down(error.code, error.message)
        if stage == "MAIL" and not temporary:
            return SetupFailure(f"the server refused the sender: {reply}", code=error.code)
        if stage == "MAIL" or error.code == 421:  # nothing about this recipient yet
            return RelayFailure(f"{stage}: {reply}", code=error.code, slow_down=slow_down)
        if temporary:
            return TemporaryFailure(
                f"{stage}: {reply}", code=error.code, enhanced=enhanced, slow_down=slow_down
            )
        return PermanentFailure(f"{stage}: {reply}", code=error.code, enhanced=enhanced)

    async def close(self) -> None:
        if self.replies is not None and self.replies.open:
            with contextlib.suppress(*_CONNECTION_ERRORS):
                async with asyncio.timeout(self.settings.timeout):
                    self.replies.write(b"QUIT\r\n")
                    await self.replies.reply()
        self._drop()
