"""SMTP with aiosmtplib: a few connections, each reused for many messages.

- `security = "starttls"` fails closed: a server that does not offer STARTTLS gets nothing.
  Certificates are verified (against the system's store, or `ca_file`).
- aiosmtplib's timeout applies to each network read, so a server dripping a byte at a time
  never trips it: every message also has an overall deadline.
- What a failure means depends on when it happens. A refused MAIL FROM concerns every message
  (SetupFailure); a refused RCPT concerns this recipient (4xx: later; 5xx: never); a connection
  lost, or the deadline passed, while the data was going out or after the final dot leaves the
  message's fate unknown: it may have been accepted.
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
    SetupFailure,
    TemporaryFailure,
    UnknownFate,
)
from mailer.model import Outgoing
from mailer.transport.base import Lane, Transport

_ENHANCED = re.compile(r"^([245])\.(\d{1,3})\.(\d{1,3})\b")
_CONNECTION_ERRORS = (
    aiosmtplib.SMTPServerDisconnected,
    aiosmtplib.SMTPTimeoutError,
    ConnectionError,
    TimeoutError,
    OSError,
)


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
        where = f"{settings.host}:{settings.port}"
        try:
            async with asyncio.timeout(settings.deadline):
                await smtp.connect()
                await smtp.ehlo()  # the extensions are only known after EHLO
                if settings.security == "starttls":
                    if not smtp.supports_extension("starttls"):
                        smtp.close()
                        raise SetupFailure(
                            f"{where} does not offer STARTTLS: refusing to send in clear "
                            '(security = "starttls"; use "tls" for port 465)'
                        )
                    await smtp.starttls()
                    await smtp.ehlo()  # extensions change once encrypted (RFC 3207)
                if settings.username:
                    await smtp.login(settings.username, self.transport.password or "")
        except ssl.SSLError as error:
            smtp.close()
            raise SetupFailure(f"TLS with {where} failed: {error}") from error
        except aiosmtplib.SMTPAuthenticationError as error:
            smtp.close()
            raise SetupFailure(
                f"{where} refused the login of {settings.username}: {error.code} {error.message}",
                code=error.code,
            ) from error
        except aiosmtplib.SMTPResponseException as error:
            smtp.close()
            failure = TemporaryFailure if 400 <= error.code < 500 else SetupFailure
            raise failure(
                f"{where} refused the session: {error.code} {error.message}", code=error.code
            ) from error
        except _CONNECTION_ERRORS as error:
            smtp.close()
            raise ConnectionFailure(f"cannot connect to {where}: {error}") from error
        return smtp

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
        try:
            async with asyncio.timeout(self.settings.deadline):
                options = []
                if message.smtputf8:
                    if not smtp.supports_extension("smtputf8"):
                        raise PermanentFailure(
                            f"the server does not support SMTPUTF8, which {message.recipient} needs"
                        )
                    options.append("SMTPUTF8")
                await smtp.mail(message.sender, options=options)
                stage = "RCPT"
                await smtp.rcpt(message.recipient)
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
            raise TemporaryFailure(f"connection lost at {stage} ({error!r})") from error

    async def _refused(self, stage: str, error: aiosmtplib.SMTPResponseException) -> Exception:
        reply = Reply(error.code, error.message)
        temporary = 400 <= error.code < 500
        if error.code == 421:
            self._drop()  # the server is closing this connection
        else:
            await self._reset()
        if stage == "MAIL" and not temporary:
            return SetupFailure(f"the server refused the sender: {reply}", code=error.code)
        enhanced = enhanced_code(error.message)
        if temporary:
            return TemporaryFailure(
                f"{stage}: {reply}",
                code=error.code,
                enhanced=enhanced,
                slow_down=slows_down(error.code, error.message),
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
