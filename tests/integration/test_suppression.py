"""The suppression list and unsubscribe tokens: nobody who left is mailed again."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mailer.audience.addresses import parse_address
from mailer.audience.unsubscribe import make_token
from mailer.project.load import load_project
from mailer.store.sqlite import SqliteState
from mailer.store.suppression import suppress, suppressed_keys, suppressions, unsuppress
from tests.support.lists import resolve_all

Cli = Callable[..., tuple[int, str, str]]
KEY = b"a-test-signing-key-of-some-length"
NOW = dt.datetime(2021, 4, 10, 9, tzinfo=dt.UTC)


def test_suppressed_people_are_left_out_of_every_segment(project_dir: Path) -> None:
    project = load_project(project_dir / "config.toml")
    with SqliteState(project_dir / "state.db") as state:
        assert suppress(
            state, parse_address("Marie.Dubois@example.org"), "unsubscribed", "one-click", NOW
        )
        assert not suppress(state, parse_address("marie.dubois@EXAMPLE.org"), "manual", "x", NOW)
        keys = suppressed_keys(state)
        (entry,) = suppressions(state)
    assert (entry.address, entry.kind, entry.reason) == (
        "Marie.Dubois@example.org",
        "unsubscribed",
        "one-click",
    )
    people, _, resolution = resolve_all(project, "everyone", suppressed=keys)
    assert "marie.dubois@example.org" not in [p.email for p in people]
    assert resolution.suppressed == 1 and len(people) == 19


def test_unsuppress_restores_the_address(tmp_path: Path) -> None:
    with SqliteState(tmp_path / "state.db") as state:
        address = parse_address("luc@example.org")
        suppress(state, address, "bounced", "550 5.1.1 user unknown", NOW)
        assert unsuppress(state, address.key)
        assert not unsuppress(state, address.key)
        assert suppressed_keys(state).keys == frozenset()


def test_suppress_unsuppress_and_list_from_the_cli(run_cli: Cli, project_dir: Path) -> None:
    config = str(project_dir / "config.toml")
    assert run_cli(
        "--config", config, "suppress", "Luc.Martin@Example.org", "--reason", "asked by phone"
    )[:2] == (0, "Luc.Martin@example.org is now suppressed.\n")
    code, out, _ = run_cli("--config", config, "suppressed", "--json")
    (entry,) = json.loads(out)
    assert (entry["address"], entry["kind"], entry["reason"]) == (
        "Luc.Martin@example.org",
        "manual",
        "asked by phone",
    )
    code, out, _ = run_cli("--config", config, "recipients", "--json")
    everyone = json.loads(out)["segments"][0]
    assert (everyone["recipients"], everyone["suppressed"]) == (19, 1)
    assert run_cli("--config", config, "unsuppress", "luc.martin@example.org")[1] == (
        "luc.martin@example.org can be mailed again.\n"
    )
    code, _, err = run_cli("--config", config, "suppress", "not an address")
    assert code == 2 and "'not an address' is not a valid email address" in err


def test_suppress_by_token_from_a_mailto_unsubscribe(
    run_cli: Cli, project_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = str(project_dir / "config.toml")
    series_id = load_project(project_dir / "config.toml").config.series.id
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY.decode())
    token = make_token(KEY, series_id, "anna.smith@example.org")
    code, out, _ = run_cli("--config", config, "suppress", "--token", token)
    assert (code, out) == (0, "anna.smith@example.org is now suppressed.\n")
    address_part, mac = token.split(".")
    tampered = f"{address_part}.{'B' if mac[0] == 'A' else 'A'}{mac[1:]}"
    code, _, err = run_cli("--config", config, "suppress", "--token", tampered)
    assert code == 2 and "this unsubscribe link is not valid" in err
    monkeypatch.delenv("MAILER_UNSUBSCRIBE_KEY")
    code, _, err = run_cli("--config", config, "suppress", "--token", token)
    assert code == 1 and "export MAILER_UNSUBSCRIBE_KEY=" in err
