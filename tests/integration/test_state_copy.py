"""`mailer state copy`: a state that has sent, suppressed and remembered moved from SQLite
into PostgreSQL and back, row for row; refused into a store that holds rows; all or nothing
when the target fails half-way; and `mailer check` saying which store it uses."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from mailer.store.schema import TABLES
from tests.support import stores
from tests.support.postgres import use_postgres

Cli = Callable[..., tuple[int, str, str]]
NOW = "2021-04-06T09:00:00+02:00"
COPIED = [table for table in TABLES if table != "leases"]


@pytest.fixture
def used(project_dir: Path, run_cli: Cli, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The shipped project (SQLite) after an invitation, an unsubscribe and a proof."""
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "state-copy-test-signing-key-0123456789")
    config = project_dir / "config.toml"
    base = ("--config", str(config), "--now", NOW)
    assert run_cli(*base, "send", "2021-04-20", "--kind", "invitation", "--yes")[0] == 0
    assert run_cli(*base, "suppress", "luc.martin@example.org", "--reason", "asked")[0] == 0
    return config


def everything(config: Path) -> dict[str, list[tuple[Any, ...]]]:
    found = {}
    for table in COPIED:
        found[table] = sorted(
            tuple(str(value) for value in row.values())
            for row in stores.rows(config, f"SELECT * FROM {table}")
        )
    return found


def on(config: Path, database: str, name: str) -> Path:
    """A copy of `config` whose state is `database`."""
    text = config.read_text(encoding="utf-8")
    other = config.with_name(name)
    other.write_text(
        text.replace('database = "state/mailer.db"', f'database = "{database}"'), encoding="utf-8"
    )
    return other


def test_a_state_goes_to_postgresql_and_back_row_for_row(
    used: Path, run_cli: Cli, postgres_url: str
) -> None:
    before = everything(used)
    assert len(before["deliveries"]) == 20 and before["suppressions"]
    code, out, err = run_cli(
        "--config", str(used), "state", "copy", "state/mailer.db", postgres_url
    )
    assert code == 0, err
    assert "deliveries: 20 rows" in out and "counted on both sides: the same" in out
    on_postgres = on(used, postgres_url, "postgres.toml")
    assert everything(on_postgres) == before
    # the series goes on in PostgreSQL: a reminder's new rows take ids after the copied ones
    base = ("--config", str(on_postgres), "--now", "2021-04-19T13:00:00+02:00")
    assert run_cli(*base, "send", "2021-04-20", "--kind", "reminder", "--yes")[0] == 0
    assert len(stores.rows(on_postgres, "SELECT id FROM deliveries")) == 39  # one unsubscribed
    code, out, _ = run_cli("--config", str(on_postgres), "check")
    assert code == 0 and "state: PostgreSQL, 127.0.0.1:" in out and "schema version" in out
    # and back into a new SQLite file, then refused into one that holds rows
    code, _, err = run_cli("--config", str(used), "state", "copy", postgres_url, "state/back.db")
    assert code == 0, err
    assert everything(on(used, "state/back.db", "back.toml")) == everything(on_postgres)
    code, _, err = run_cli("--config", str(used), "state", "copy", postgres_url, "state/back.db")
    assert code == 1 and "already holds rows" in err and "deliveries 39" in err


def test_a_copy_that_fails_half_way_writes_nothing(
    used: Path, run_cli: Cli, postgres_url: str
) -> None:
    target = on(used, postgres_url, "postgres.toml")
    assert run_cli("--config", str(target), "check")[0] == 0  # nothing made yet
    assert not stores.rows(
        target,
        "SELECT 1 FROM information_schema.schemata WHERE "
        "schema_name = 'mailer_icom_france_solidarites_musees'",
    )
    assert run_cli("--config", str(target), "status")[0] == 0  # the schema made, empty
    # its deliveries refuse one of the rows to copy
    with psycopg.connect(postgres_url, autocommit=True) as server:
        server.execute(
            "ALTER TABLE mailer_icom_france_solidarites_musees.deliveries ADD CONSTRAINT "
            "no_chloe CHECK (address NOT LIKE 'chloe%')"
        )
    code, _, err = run_cli("--config", str(used), "state", "copy", "state/mailer.db", postgres_url)
    assert code == 1 and "no_chloe" in err and "Traceback" not in err
    assert all(not rows for rows in everything(target).values()), "half a copy was kept"


def test_check_says_an_unreachable_database_at_its_key(
    project_dir: Path, run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", "state-copy-test-signing-key-0123456789")
    config = use_postgres(project_dir / "config.toml", "postgresql://mailer@127.0.0.1:9/mailer")
    code, _, err = run_cli("--config", str(config), "check")
    assert code == 2 and "at 'state.database': PostgreSQL, 127.0.0.1:9/mailer" in err
    assert "cannot be reached" in err and "Traceback" not in err
    code, _, err = run_cli("--config", str(config), "check", "--offline")
    assert code == 0 and "warning: at 'state.database'" in err
