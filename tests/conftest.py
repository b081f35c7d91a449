"""Fixtures every test layer shares: a copy of the shipped project, and the CLI in-process.

Tests are laid out by what they touch: `unit/` (the pure core, in-process, in seconds),
`integration/` (a real SQLite file, SMTP and HTTP servers on 127.0.0.1, the npm calendar
parsers, the CLI in-process), `system/` (real mailer processes: the console script, the daemon,
kill -9, and Debian's chromium). Helpers are in `tests/support`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.support.project import copy_project

settings.register_profile(
    "ci", max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=60, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store the copied project uses: SQLite (the default), or PostgreSQL in the modules
    that set `ON_BOTH_STORES = True` (each of their tests runs on both)."""
    return str(getattr(request, "param", "sqlite"))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    both = getattr(metafunc.module, "ON_BOTH_STORES", False)
    sqlite_only = metafunc.definition.get_closest_marker("sqlite_only") is not None
    if "store_kind" in metafunc.fixturenames and both and not sqlite_only:
        metafunc.parametrize("store_kind", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def project_dir(tmp_path: Path, store_kind: str, request: pytest.FixtureRequest) -> Path:
    """A copy of the shipped example project (config, sessions, lists, templates) to change;
    its state in a fresh PostgreSQL database when `store_kind` says so."""
    folder = copy_project(tmp_path)
    if store_kind == "postgres":
        from tests.support.postgres import use_postgres

        use_postgres(folder / "config.toml", request.getfixturevalue("postgres_url"))
    return folder


@pytest.fixture
def config_path(project_dir: Path) -> Path:
    return project_dir / "config.toml"


@pytest.fixture
def run_cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `mailer ARGS...` in-process through its real error handler: (code, stdout, stderr)."""
    from mailer.cli import run

    def invoke(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = run(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return invoke


@pytest.fixture
def chdir_project(project_dir: Path) -> Iterator[Path]:
    """Run with the copied project as the working directory."""
    previous = Path.cwd()
    os.chdir(project_dir)
    try:
        yield project_dir
    finally:
        os.chdir(previous)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[object]:
    """One PostgreSQL cluster for the whole run (each test gets a database of its own)."""
    from tests.support.postgres import Postgres

    with Postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: object) -> str:
    """A new, empty PostgreSQL database on the run's cluster."""
    from tests.support.postgres import Postgres

    assert isinstance(postgres_server, Postgres)
    return postgres_server.database()
