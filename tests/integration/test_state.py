"""The state file: versioned schema, forward migration, refusal of newer files."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.errors import StateError
from mailer.store.schema import MIGRATIONS, SCHEMA_VERSION
from mailer.store.sqlite import SqliteState
from tests.support.project import edit

Cli = Callable[..., tuple[int, str, str]]


def test_a_new_state_file_has_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    with SqliteState(tmp_path / "state" / "mailer.db") as state:
        assert state.schema_version == SCHEMA_VERSION
        mode = state.connection.execute("PRAGMA journal_mode").fetchone()[0]
        assert mode == "wal"
        assert state.connection.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_reopening_keeps_data_and_does_not_migrate_twice(tmp_path: Path) -> None:
    path = tmp_path / "mailer.db"
    with SqliteState(path) as state, state.transaction() as connection:
        connection.execute("INSERT INTO revisions VALUES ('s', 'e', 3, 'now', 'a', 'b')")
    with SqliteState(path) as state:
        rows = state.connection.execute("SELECT sequence FROM revisions").fetchall()
        assert [row[0] for row in rows] == [3]


def test_an_old_file_is_migrated_forward_keeping_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "mailer.db"
    connection = sqlite3.connect(path)
    connection.executescript(MIGRATIONS[0] + "PRAGMA user_version = 1;")
    connection.execute("INSERT INTO revisions VALUES ('s', 'e', 2, 'now', 'a', 'b')")
    connection.commit()
    connection.close()
    with SqliteState(path) as state:
        assert state.schema_version == SCHEMA_VERSION
        assert state.connection.execute("SELECT sequence FROM revisions").fetchone()[0] == 2


def test_a_file_from_a_newer_mailer_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "mailer.db"
    connection = sqlite3.connect(path)
    connection.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    connection.close()
    with pytest.raises(StateError, match="newer than this mailer's"):
        SqliteState(path)


def test_the_cli_reports_a_newer_state_file_without_traceback(
    run_cli: Cli, project_dir: Path
) -> None:
    state = project_dir / "state" / "mailer.db"
    state.parent.mkdir()
    connection = sqlite3.connect(state)
    connection.execute("PRAGMA user_version = 999")
    connection.close()
    code, _, err = run_cli("--config", str(project_dir / "config.toml"), "ics", "2021-04-20")
    assert code == 1
    assert "has schema version 999, newer than this mailer's" in err
    assert "Traceback" not in err


def test_the_database_path_comes_from_config(run_cli: Cli, project_dir: Path) -> None:
    edit(project_dir / "config.toml", 'database = "state/mailer.db"', 'database = "elsewhere.db"')
    code, _, _ = run_cli("--config", str(project_dir / "config.toml"), "ics", "2021-04-20")
    assert code == 0 and (project_dir / "elsewhere.db").exists()
