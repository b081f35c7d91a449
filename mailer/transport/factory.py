"""The transport config.toml asks for, built."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from mailer.config.settings import Delivery
from mailer.errors import InvalidInput
from mailer.transport.base import Transport
from mailer.transport.outbox import OutboxTransport

if TYPE_CHECKING:
    from mailer.transport.dkim import DkimSigner


def build_transport(
    delivery: Delivery,
    *,
    resolve: Callable[[str], Path],
    password: str | None,
    signer: DkimSigner | None = None,
) -> Transport:
    """The configured transport, signing every email when `signer` is given (`[dkim]`).
    `resolve` turns a path from config.toml into a real one; `password` is the SMTP password
    (from the environment variable `[smtp] password_env`)."""
    transport = _unsigned(delivery, resolve, password)
    if signer is None:
        return transport
    from mailer.transport.dkim import SigningTransport  # noqa: PLC0415 - dkimpy only when used

    return SigningTransport(transport, signer)


def _unsigned(
    delivery: Delivery, resolve: Callable[[str], Path], password: str | None
) -> Transport:
    if delivery.kind == "outbox":
        return OutboxTransport(resolve(delivery.outbox))
    smtp = delivery.smtp
    if smtp.username and not password:
        raise InvalidInput(
            f"[smtp] username is set but the password is not: export {smtp.password_env}=..."
        )
    ca_file = str(resolve(smtp.ca_file)) if smtp.ca_file else None
    from mailer.transport.smtp import SmtpTransport  # noqa: PLC0415 - aiosmtplib only when used

    return SmtpTransport(smtp, password, ca_file=ca_file)
