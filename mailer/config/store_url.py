"""Where the state is, as config.toml writes it: a path (SQLite) or a PostgreSQL URL, and the
schema of a series in a shared database. Pure checks of the text; `mailer.store.location`
makes them a store.
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse

POSTGRES_SCHEMES = ("postgresql", "postgres")
DEFAULT_LEASE = dt.timedelta(seconds=30)
MIN_LEASE = dt.timedelta(seconds=2)
MAX_LEASE = dt.timedelta(minutes=10)


def is_postgres_url(text: str) -> bool:
    return urllib.parse.urlsplit(text).scheme in POSTGRES_SCHEMES


def url_problem(text: str) -> str | None:
    """What is wrong with a PostgreSQL URL in config.toml (a password, above all)."""
    try:
        parts = urllib.parse.urlsplit(text)
        parts.port  # noqa: B018 - raises on a port that is not one
    except ValueError as error:
        return f"not a PostgreSQL URL ({error})"
    if parts.password is not None or re.search(r"(^|[?&])password=", parts.query):
        return (
            "a password in config.toml: give it in PGPASSWORD (the service's environment "
            "file) or in a PGPASSFILE, never here"
        )
    return None


def default_schema(series_id: str) -> str:
    """The schema of a series in a shared database: its id, as a PostgreSQL name."""
    name = re.sub(r"[^a-z0-9_]", "_", series_id.lower())
    return ("mailer_" + name)[:63]


def schema_problem(name: str) -> str | None:
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", name):
        return "a schema name is lower-case letters, digits and _ (63 at most), e.g. mailer_icom"
    return None
