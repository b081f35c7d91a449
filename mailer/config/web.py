"""Validating `[web]`: the organisers' pages (off without it) and who may log in."""

from __future__ import annotations

import datetime as dt
import ipaddress
import re

from mailer.config.passwords import LOG_N, parse_hash
from mailer.config.settings import (
    HttpSettings,
    Network,
    OrganiserAccount,
    WebSettings,
    valid_listen,
)
from mailer.config.tables import TableReader
from mailer.config.values import address_problem

_HASH_HINT = (
    "Run `mailer hash-password` and paste what it prints as password_hash; "
    "a password itself never goes into config.toml."
)


UI_LANGUAGES = ("en", "fr")


def read_web(
    root: TableReader, http: HttpSettings, first_language: str | None
) -> WebSettings | None:
    """`[web]`, or None (the pages are off). The pages speak the series' first language when
    they can, English otherwise."""
    table = root.table("web")
    if table is None:
        return None
    listen = table.string("listen", required=True)
    if listen is not None:
        if not valid_listen(listen):
            table.error("listen", f"'{listen}' is not host:port", 'Write it like "127.0.0.1:8026".')
            listen = None
        elif listen == http.listen and not listen.endswith(":0"):
            table.error(
                "listen",
                f"the organisers' pages cannot share [http] listen ({listen})",
                "Give them their own port, reachable only by the organisers (e.g. through a "
                "VPN or a reverse proxy with its own access rules).",
            )
    lifetime = table.duration("session_lifetime") or WebSettings.session_lifetime
    if not dt.timedelta(minutes=5) <= lifetime <= dt.timedelta(days=7):
        table.error("session_lifetime", "must be between PT5M and P7D", 'e.g. "PT8H"')
    base_url = table.string("base_url")
    if base_url is not None and not base_url.startswith(("https://", "http://")):
        table.error("base_url", f"'{base_url}' is not an http(s):// address")
    default = first_language if first_language in UI_LANGUAGES else "en"
    language = table.choice("language", UI_LANGUAGES, default=default)
    proxies = _networks(table)
    client_header = table.string("client_header") or WebSettings.client_header
    if not re.fullmatch(r"[A-Za-z0-9-]+", client_header):
        table.error("client_header", f"'{client_header}' is not a header name", 'e.g. "X-Real-IP"')
    organisers = _read_organisers(table)
    table.finish()
    if listen is None or not organisers:
        return None
    base = base_url.rstrip("/") if base_url else None
    return WebSettings(listen, organisers, lifetime, base, language, proxies, client_header)


def _networks(table: TableReader) -> tuple[Network, ...]:
    """`trusted_proxies`: the addresses (or networks) of the reverse proxies in front of the
    pages, whose `client_header` says who the client is."""
    texts = table.string_list("trusted_proxies") or []
    networks: list[Network] = []
    for text in texts:
        try:
            networks.append(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            table.error(
                "trusted_proxies",
                f"'{text}' is not an IP address or network",
                'Give the address your reverse proxy connects from, e.g. ["127.0.0.1"].',
            )
    return tuple(networks)


def _read_organisers(table: TableReader) -> tuple[OrganiserAccount, ...]:
    accounts: list[OrganiserAccount] = []
    readers = table.tables("organisers")
    if not readers:
        table.error(
            "organisers",
            "nobody can log in: add an organiser",
            "[[web.organisers]] with email, name and password_hash. " + _HASH_HINT,
        )
    for reader in readers:
        if "password" in reader.data:
            reader.ignore("password")
            reader.error("password", "a plain password is never kept in config.toml", _HASH_HINT)
        email = reader.string("email", required=True)
        name = reader.string("name", required=True)
        password_hash = reader.string("password_hash", required=True)
        reader.finish()
        if email is not None and (problem := address_problem(email)):
            reader.error("email", problem)
            email = None
        if email is not None and any(a.email.casefold() == email.casefold() for a in accounts):
            reader.error("email", f"{email} has two accounts", "Keep one of them.")
            email = None
        if password_hash is not None:
            parsed = parse_hash(password_hash)
            if isinstance(parsed, str):
                reader.error("password_hash", parsed, _HASH_HINT)
                password_hash = None
            elif parsed.log_n < LOG_N:
                reader.warning(
                    "password_hash",
                    f"this hash is lighter (ln={parsed.log_n}) than mailer makes (ln={LOG_N})",
                    "Make a new one with `mailer hash-password` when you can.",
                )
        if email and name and password_hash:
            accounts.append(OrganiserAccount(email, name, password_hash.strip()))
    return tuple(accounts)
