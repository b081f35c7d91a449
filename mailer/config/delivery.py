"""Validating `[transport]`, `[smtp]` and `[sending]`: how emails leave, and how fast."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Literal

from mailer.config.durations import parse_duration
from mailer.config.settings import (
    DEFAULT_PASSWORD_ENV,
    Delivery,
    Security,
    SendingSettings,
    SmtpSettings,
)
from mailer.config.tables import TableReader
from mailer.config.values import address_problem


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _duration(table: TableReader, key: str, default: str, most: str) -> dt.timedelta:
    """A duration of `[sending]`, at most `most`: an email is retried within its deadline
    (the session's start at the latest), so longer waits would only hold a send up."""
    value = table.duration(key)
    if value is not None and value > parse_duration(most):
        table.error(key, f"must be at most {most}", f'e.g. "{default}"')
        value = None
    return parse_duration(default) if value is None else value


def read_delivery(root: TableReader) -> Delivery:
    """`[transport]`, `[smtp]` (required when the transport is smtp) and `[sending]`."""
    kind: Literal["outbox", "smtp"] = "outbox"
    outbox = "outbox"
    if (transport := root.table("transport")) is not None:
        kind = (
            "smtp"
            if transport.choice("kind", ("outbox", "smtp"), default="outbox") == "smtp"
            else "outbox"
        )
        outbox = transport.string("outbox", default="outbox") or "outbox"
        transport.finish()
    smtp_table = root.table("smtp", required=kind == "smtp")
    smtp = _read_smtp(smtp_table) if smtp_table is not None else SmtpSettings()
    sending_table = root.table("sending")
    sending = _read_sending(sending_table) if sending_table is not None else SendingSettings()
    return Delivery(kind, outbox, smtp, sending)


def _read_smtp(table: TableReader) -> SmtpSettings:
    host = table.string("host", required=True) or "localhost"
    security_choice = table.choice("security", ("starttls", "tls", "none"), default="starttls")
    security: Security = (
        "tls" if security_choice == "tls" else ("none" if security_choice == "none" else "starttls")
    )
    default_port = {"starttls": 587, "tls": 465, "none": 25}[security]
    port = table.port("port", default=default_port, hint="Use 587 (STARTTLS) or 465 (TLS).")
    allow_insecure = table.boolean("allow_insecure", default=False)
    if security == "none" and not allow_insecure and not _is_loopback(host):
        table.error(
            "security",
            f'security = "none" sends passwords and emails in clear to {host}',
            'Use "starttls" or "tls"; for a relay on a trusted network, set allow_insecure = true.',
        )
    username = table.string("username")
    password_env = (
        table.string("password_env", default=DEFAULT_PASSWORD_ENV) or DEFAULT_PASSWORD_ENV
    )
    if table.has("password"):
        table.error(
            "password",
            "passwords do not go in config.toml",
            f"Put it in the environment variable {password_env} (password_env).",
        )
    connections = table.integer("connections", default=4, minimum=1) or 4
    rate = table.number("rate", default=0.0)
    per_hour = table.integer("per_hour", minimum=1)
    per_day = table.integer("per_day", minimum=1)
    timeout = table.number("timeout", default=30.0, minimum=1.0)
    deadline = table.number("deadline", default=max(120.0, 4 * timeout), minimum=timeout)
    helo = table.string("helo")
    ca_file = table.string("ca_file")
    table.finish()
    return SmtpSettings(
        host=host,
        port=port,
        security=security,
        allow_insecure=allow_insecure,
        username=username,
        password_env=password_env,
        connections=connections,
        rate=rate,
        per_hour=per_hour,
        per_day=per_day,
        timeout=timeout,
        deadline=deadline,
        helo=helo,
        ca_file=ca_file,
    )


VERP_LOCAL_MAX = 64 - 43  # RFC 5321: a local part is at most 64 octets; the tag takes 43


def _read_sending(table: TableReader) -> SendingSettings:
    max_attempts = table.integer("max_attempts", default=5, minimum=1) or 5
    retry_after = _duration(table, "retry_after", "PT1M", "P1D")
    retry_limit = _duration(table, "retry_limit", "PT1H", "P7D")
    wait = _duration(table, "wait_for_retries", "PT10M", "P1D")
    batch = table.integer("batch", default=200, minimum=1) or 200
    processes: int | None = None  # "auto": one per core the process may use
    if table.data.get("processes") != "auto":
        processes = table.integer("processes", default=None, minimum=1)
    else:
        table.ignore("processes")
    envelope_from = table.string("envelope_from")
    if envelope_from is not None and (problem := address_problem(envelope_from)):
        table.error("envelope_from", problem)
        envelope_from = None
    verp = table.boolean("verp", default=False)
    patience = _duration(table, "relay_patience", "PT5S", "PT1H")
    if patience < dt.timedelta(seconds=1):
        table.error("relay_patience", "must be at least a second", 'e.g. "PT5S"')
        patience = SendingSettings.relay_patience
    if verp and not table.has("envelope_from"):
        table.error(
            "verp",
            "verp = true needs an envelope_from: the mailbox that bounces come back to",
            'Add envelope_from = "bounces@example.org" (an address [mailbox] reads).',
        )
    if verp and envelope_from is not None:
        local = envelope_from.rpartition("@")[0]
        if len(local) > VERP_LOCAL_MAX or "+" in local:
            table.error(
                "envelope_from",
                f"with verp = true the local part '{local}' must be at most {VERP_LOCAL_MAX} "
                "characters and hold no '+' (each email adds +<a 42-character tag>)",
                'E.g. envelope_from = "bounces@example.org".',
            )
    table.finish()
    return SendingSettings(
        max_attempts,
        retry_after,
        retry_limit,
        wait,
        batch,
        processes,
        envelope_from,
        verp,
        patience,
    )
