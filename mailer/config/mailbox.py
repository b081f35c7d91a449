"""Validating `[mailbox]`: the IMAP mailbox where bounces, emailed unsubscribes and calendar
replies arrive, and how bounces count."""

from __future__ import annotations

import datetime as dt

from mailer.config.dkim import ENVIRONMENT_NAME
from mailer.config.settings import DEFAULT_MAILBOX_PASSWORD_ENV, MailboxSettings
from mailer.config.tables import TableReader

PORTS = {"tls": 993, "starttls": 143}


def read_mailbox(root: TableReader) -> MailboxSettings | None:
    table = root.table("mailbox")
    if table is None:
        return None
    host = table.string("host", required=True)
    security = table.choice("security", tuple(PORTS), default="tls")
    port = table.port("port", default=PORTS[security], hint="Use 993 (TLS) or 143 (STARTTLS).")
    user = table.string("user", required=True)
    password_env = (
        table.string("password_env", default=DEFAULT_MAILBOX_PASSWORD_ENV)
        or DEFAULT_MAILBOX_PASSWORD_ENV
    )
    if not ENVIRONMENT_NAME.match(password_env):
        table.error(
            "password_env",
            f"'{password_env}' is not an environment variable name",
            "E.g. MAILER_MAILBOX_PASSWORD; the password itself never goes in config.toml.",
        )
    if table.has("password"):
        table.error(
            "password",
            "the mailbox password does not go in config.toml",
            f"Remove it and export {password_env}=... in the daemon's environment.",
        )
    folder = table.string("folder", default="INBOX") or "INBOX"
    processed = table.string("processed", default="Processed") or "Processed"
    for_a_person = table.string("for_a_person", default="For a person") or "For a person"
    if len({folder, processed, for_a_person}) < 3:
        table.error(
            None,
            "folder, processed and for_a_person must be three different folders",
            "The defaults are INBOX, Processed and For a person.",
        )
    ca_file = table.string("ca_file")
    check_every = table.duration("check_every") or dt.timedelta(minutes=15)
    if check_every < dt.timedelta(minutes=1):
        table.error("check_every", "read the mailbox at most once a minute", 'e.g. "PT15M"')
    soft_bounces = table.integer("soft_bounces", default=3, minimum=1) or 3
    soft_window = table.duration("soft_window") or dt.timedelta(days=30)
    if soft_window < dt.timedelta(days=1):
        table.error("soft_window", "count soft bounces over a day at least", 'e.g. "P30D"')
    authserv_id = table.string("authserv_id")
    table.finish()
    if host is None or user is None:
        return None
    return MailboxSettings(
        host=host,
        port=port,
        security="starttls" if security == "starttls" else "tls",
        user=user,
        password_env=password_env,
        folder=folder,
        processed=processed,
        for_a_person=for_a_person,
        ca_file=ca_file,
        check_every=check_every,
        soft_bounces=soft_bounces,
        soft_window=soft_window,
        authserv_id=authserv_id,
    )
