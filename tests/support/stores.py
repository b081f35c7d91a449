"""Reading a project's state directly, not through mailer's code, whichever store it is in:
its SQLite file with sqlite3, or its PostgreSQL schema with psycopg."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

_DATABASE = re.compile(r'^database = "([^"]*)"', re.MULTILINE)
_SCHEMA = re.compile(r'^schema = "([^"]*)"', re.MULTILINE)
_SERIES = re.compile(r'^id = "([^"]*)"', re.MULTILINE)


def where(config: Path) -> tuple[str, str]:
    """("sqlite", file path) or ("postgres", URL), as config.toml says."""
    text = config.read_text(encoding="utf-8")
    found = _DATABASE.search(text)
    database = found.group(1) if found else "state/mailer.db"
    if database.startswith(("postgresql://", "postgres://")):
        return "postgres", database
    return "sqlite", str(config.parent / database)


def schema(config: Path) -> str:
    text = config.read_text(encoding="utf-8")
    if found := _SCHEMA.search(text):
        return found.group(1)
    series = _SERIES.search(text)
    assert series is not None
    return ("mailer_" + re.sub(r"[^a-z0-9_]", "_", series.group(1).lower()))[:63]


def rows(config: Path, sql: str, parameters: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    """The rows of a query (`?` parameters), as dicts."""
    kind, location = where(config)
    if kind == "sqlite":
        return _sqlite_rows(location, sql, parameters)
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(location, row_factory=dict_row) as server:
        server.execute(f'SET search_path TO "{schema(config)}"')
        if not parameters:
            return list(server.execute(sql).fetchall())
        text = sql.replace("%", "%%").replace("?", "%s")
        return list(server.execute(text, list(parameters)).fetchall())


def _sqlite_rows(path: str, sql: str, parameters: tuple[Any, ...]) -> list[dict[str, Any]]:
    connection = sqlite3.connect(path)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(sql, parameters)]
    finally:
        connection.close()
