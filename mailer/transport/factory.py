"""The transport config.toml asks for, built."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mailer.config.settings import Delivery
from mailer.errors import InvalidInput
from mailer.transport.base import Transport
from mailer.transport.outbox import OutboxTransport


def build_transport(
    delivery: Delivery, *, resolve: Callable[[str], Path], password: str | None
) -> Transport:
    """The configured transport. `resolve` turns a path from config.toml into a real one;
    `password` is the SMTP password (from the environment variable `[smtp] password_env`)."""
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
