"""The same content on every host: two hosts' project folders on one PostgreSQL state. A
session file edited on one host is the copy every host sends; a host whose copy is not the
saved one sends nothing about that session (`mailer send` says why, exit 75) until its folder
is brought up to date (what the daemon does before each round); edited on both hosts, the
saved copy wins and the other text is kept beside it. And two series in one database, each in
its own schema, never see each other's rows."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.project.shared_files import bring_up_to_date, publish_saved
from mailer.project.workspace import Workspace
from mailer.store.session_files import saved_files
from tests.support import stores
from tests.support.postgres import use_postgres
from tests.support.project import copy_project, edit

Cli = Callable[..., tuple[int, str, str]]
KEY = "shared-files-test-signing-key-0123456789"
NOW = "2021-04-06T09:00:00+02:00"
SESSION = "2021-04-20.toml"
TITLE = 'en = "Are professional networks instruments of solidarity?"'


@pytest.fixture
def hosts(tmp_path: Path, postgres_url: str) -> tuple[Path, Path]:
    (tmp_path / "host-a").mkdir()
    first = copy_project(tmp_path / "host-a")
    use_postgres(first / "config.toml", postgres_url)
    second = tmp_path / "host-b"
    shutil.copytree(first, second)
    return first / "config.toml", second / "config.toml"


def sync(config: Path) -> list[str]:
    """What the daemon of that host does before a round."""
    workspace = Workspace(config, environ={"MAILER_UNSUBSCRIBE_KEY": KEY})
    store = workspace.project().store
    with store.open() as state:
        status = store.local_folder / "session-files.json"
        return bring_up_to_date(workspace.project(), state, status, workspace.now())


def test_an_edit_on_one_host_is_what_every_host_sends(
    hosts: tuple[Path, Path], run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY)
    a, b = hosts
    assert sync(a) == [] and sync(b) == []  # the first host publishes; the second agrees
    edit(a.parent / "sessions" / SESSION, TITLE, 'en = "Networks, edited on host A"')
    assert sync(a) == []  # published: version 2
    workspace = Workspace(a, environ={"MAILER_UNSUBSCRIBE_KEY": KEY})
    with workspace.project().store.open() as state:
        saved = saved_files(state)[SESSION]
    assert saved.version == 2 and "edited on host A" in saved.text

    # host B's copy is stale: nothing about that session goes from there
    base = ("--config", str(b), "--now", NOW)
    code, _, err = run_cli(*base, "send", "2021-04-20", "--kind", "invitation", "--yes")
    assert code == 75 and f"sessions/{SESSION} on this host is not the copy saved last" in err
    assert "version 2" in err and "Traceback" not in err
    assert "deliveries" not in err  # nothing planned
    # once brought up to date (the daemon's round), host B sends the edited text
    assert sync(b) == [SESSION]
    assert "edited on host A" in (b.parent / "sessions" / SESSION).read_text(encoding="utf-8")
    code, _, err = run_cli(*base, "send", "2021-04-20", "--kind", "invitation", "--yes")
    assert code == 0, err
    sent = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        for path in sorted((b.parent / "outbox").rglob("*.eml"))
    ]
    english = [m for m in sent if m["Content-Language"] == "en"]
    assert len(sent) == 20 and english
    assert all("Networks, edited on host A" in str(m["Subject"]) for m in english)
    assert not any("Are professional networks instruments" in str(m) for m in sent)


def test_edited_on_both_hosts_the_saved_copy_wins_and_the_other_is_kept(
    hosts: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY)
    a, b = hosts
    sync(a), sync(b)
    edit(a.parent / "sessions" / SESSION, TITLE, 'en = "Saved on A"')
    # the organisers' editor on host A publishes at once
    now = dt.datetime.now(dt.UTC)
    publish_saved(Workspace(a).project().store, a.parent / "sessions" / SESSION, now)
    edit(b.parent / "sessions" / SESSION, TITLE, 'en = "Typed on B"')
    assert sync(b) == [SESSION]
    sessions = b.parent / "sessions"
    assert "Saved on A" in (sessions / SESSION).read_text(encoding="utf-8")
    assert "Typed on B" in (sessions / f"{SESSION}.conflict").read_text(encoding="utf-8")
    # a file that only exists saved (made on host A) reaches host B
    shutil.copy(a.parent / "sessions" / SESSION, a.parent / "sessions" / "2021-05-18.toml")
    edit(a.parent / "sessions" / "2021-05-18.toml", "Saved on A", "May, made on A")
    assert sync(a) == [] and sync(b) == ["2021-05-18.toml"]
    assert sync(a) == sync(b) == []  # settled


def test_two_series_share_a_database_without_seeing_each_other(
    tmp_path: Path, postgres_url: str, run_cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY)
    configs = []
    for name in ("france", "belgique"):
        (tmp_path / name).mkdir()
        config = use_postgres(copy_project(tmp_path / name) / "config.toml", postgres_url)
        edit(config, 'id = "icom-france-solidarites-musees"', f'id = "icom-{name}"')
        configs.append(config)
    france, belgique = configs
    base = ("--now", NOW)
    code, _, err = run_cli(
        "--config", str(france), *base, "send", "2021-04-20", "--kind", "invitation", "--yes"
    )
    assert code == 0, err
    assert run_cli("--config", str(france), "suppress", "luc.martin@example.org")[0] == 0
    # the other series: its own schema, nothing sent, nobody suppressed
    assert stores.schema(belgique) == "mailer_icom_belgique" != stores.schema(france)
    assert run_cli("--config", str(belgique), "status")[0] == 0  # its schema made, empty
    assert stores.rows(belgique, "SELECT count(*) AS n FROM deliveries") == [{"n": 0}]
    assert stores.rows(belgique, "SELECT count(*) AS n FROM suppressions") == [{"n": 0}]
    code, out, err = run_cli(
        "--config", str(belgique), *base, "send", "2021-04-20", "--kind", "invitation", "--yes"
    )
    assert code == 0 and "20 sent" in out, err  # Luc too: suppressed in the other series only
    assert stores.rows(france, "SELECT count(*) AS n FROM deliveries") == [{"n": 20}]


def test_a_host_that_never_synced_keeps_its_differing_text_beside_the_saved_copy(
    hosts: tuple[Path, Path],
) -> None:
    """Host B's file was edited before its daemon ever synced it: which side is newer cannot
    be known, so the saved copy is what every host sends, and B's text is not lost."""
    a, b = hosts
    assert sync(a) == []  # A publishes the shipped text
    edit(b.parent / "sessions" / SESSION, TITLE, 'en = "Networks, edited on B before syncing"')
    assert sync(b) == [SESSION]  # the saved copy is written on B
    sessions = b.parent / "sessions"
    assert TITLE in (sessions / SESSION).read_text(encoding="utf-8")
    kept = (sessions / f"{SESSION}.conflict").read_text(encoding="utf-8")
    assert "edited on B before syncing" in kept
