"""SMTP with aiosmtplib: a few connections, each reused for many messages.

- `security = "starttls"` fails closed: a server that does not offer STARTTLS gets nothing.
  Certificates are verified (against the system's store, or `ca_file`).
- aiosmtplib's timeout applies to each network read, so a server dripping a byte at a time
  never trips it: every message also has an overall deadline.
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
import re
import ssl
from dataclasses import dataclass

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
)
from mailer.model import Outgoing
from mailer.transport.base import Lane, Transport

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


def enhanced_code(text: str) -> str | None:
    """`5.1.1` from a reply like `5.1.1 <x@y>: Recipient address rejected`."""
    match = _ENHANCED.match(text.strip())
    return ".".join(match.groups()) if match else None


def slows_down(code: int, text: str) -> bool:
    """421 (closing), and 4.7.x replies, which relays use to say "too many, too fast"."""
    enhanced = enhanced_code(text) or ""
    return code == 421 or enhanced.startswith("4.7.")


@dataclass(frozen=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        return f"{self.code} {self.text}"


def _tls_error(error: BaseException) -> ssl.SSLError | None:
    """The TLS error behind a connection error, if that is what it was."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


class SmtpTransport(Transport):
    name = "smtp"

    def __init__(
        self, settings: SmtpSettings, password: str | None, ca_file: str | None = None
    ) -> None:
        self.settings = settings
        self.password = password
        self.tls_context = ssl.create_default_context(cafile=ca_file)

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
            tls_context=self.transport.tls_context if settings.security != "none" else None,
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
                    await smtp.login(settings.username, self.transport.password or "")
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
        if self.smtp is not None:
            self.smtp.close()
        self.smtp = None

    async def _reset(self) -> None:
        """After a refused command, end the transaction so the connection can be reused."""
        if self.smtp is None:
            return
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self.smtp.rset()
        except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS):
            self._drop()

    async def send(self, message: Outgoing) -> str:
        if self.smtp is None or not self.smtp.is_connected:
            self.smtp = await self._connect()
        smtp = self.smtp
        stage = "MAIL"
        encoding = "utf-8" if message.smtputf8 else "ascii"
        try:
            async with asyncio.timeout(self.settings.deadline):
                options = []
                if message.smtputf8:
                    if not smtp.supports_extension("smtputf8"):
                        raise PermanentFailure(
                            f"{message.recipient} needs SMTPUTF8 (RFC 6531), which {self.where} "
                            "does not offer: this address cannot go through this relay",
                            relay=True,
                        )
                    options.append("SMTPUTF8")
                await smtp.mail(message.sender, options=options, encoding=encoding)
                stage = "RCPT"
                await smtp.rcpt(message.recipient, encoding=encoding)
                stage = "DATA"
                response = await smtp.data(message.data)
                return str(Reply(response.code, response.message))
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
        if self.smtp is None:
            return
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self.smtp.quit()
        except (aiosmtplib.SMTPException, *_CONNECTION_ERRORS):
            pass
        self._drop()
