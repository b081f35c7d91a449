"""One-click answers on a real socket (the daemon's public side), on both stores: only a POST
records, a bad token is refused, the later answer wins and counts once with a calendar
reply, and a session's capacity holds under concurrent answers."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from mailer.audience.addresses import parse_address
from mailer.audience.unsubscribe import make_answer_token
from mailer.calendar.replies import CalendarReply
from mailer.model import Recipient
from mailer.store.answers import answers, headcount
from mailer.store.inbox import record_reply
from mailer.store.ledger import SendKey
from tests.integration.test_http import KEY, NOW, serve, workspace
from tests.support.project import edit
from tests.support.sending import recorded_sent

ON_BOTH_STORES = True
SESSION = dt.date(2021, 4, 20)
SERIES = "icom-france-solidarites-musees"
ANA = "ana.garcia@example.org"


def invited(project_dir: Path, people: list[str], language: str = "es") -> None:
    """These people were sent the session's invitation."""
    space = workspace(project_dir)
    key = SendKey(SERIES, SESSION, "invitation")
    with space.state() as state:
        invitees = [Recipient(email=p, key=p, language=language, name=p[:3]) for p in people]
        recorded_sent(state, key, invitees, NOW)


def link(address: str, session: dt.date = SESSION, key: str = KEY) -> str:
    return "/answer/" + make_answer_token(key.encode(), SERIES, session, address)


def said(project_dir: Path) -> list[tuple[str, str, str]]:
    with workspace(project_dir).state() as state:
        return [(r.address, r.said, r.source) for r in answers(state, SERIES, SESSION)]


def test_only_a_post_answers_and_the_later_answer_wins(project_dir: Path) -> None:
    invited(project_dir, [ANA])
    path = link(ANA)
    seen: dict[str, Any] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.get(base + path + "?a=no") as response:  # a mail scanner
            seen["get"] = (response.status, await response.text())
        async with client.head(base + path + "?a=yes") as response:
            seen["head"] = response.status
        seen["after_looking"] = said(project_dir)
        async with client.post(base + path, data={"a": "no"}) as response:
            seen["no"] = (response.status, await response.text())
        seen["after_no"] = said(project_dir)
        async with client.post(base + path, data={"a": "yes"}) as response:
            seen["yes"] = (response.status, await response.text())
        async with client.post(base + path, data={"a": "perhaps"}) as response:
            seen["unknown"] = response.status

    serve(project_dir, scenario)
    status, page = seen["get"]
    assert status == 200 and 'lang="es"' in page  # in the language she was emailed in
    assert "¿No puede venir a este encuentro?" in page and 'id="confirm"' in page
    assert seen["head"] == 200 and seen["after_looking"] == []
    assert seen["after_no"] == [(ANA, "no", "link")]
    status, page = seen["yes"]
    assert status == 200 and "Gracias: ¡hasta pronto!" in page
    # the join details and the calendar links, and the way to change it
    assert "https://us02web.zoom.us/j/85720559693" in page and "662299" in page
    assert "https://calendar.google.com/calendar/render?" in page
    assert 'value="no"' in page and 'value="yes"' not in page
    assert said(project_dir) == [(ANA, "yes", "link")]
    assert seen["unknown"] == 400 and said(project_dir) == [(ANA, "yes", "link")]


def test_forged_altered_other_and_expired_links_are_refused(project_dir: Path) -> None:
    invited(project_dir, [ANA, "bob@example.org"])
    genuine = link(ANA)
    day, encoded, mac = genuine.rsplit("/", 1)[1].split(".")
    bob = link("bob@example.org").rsplit("/", 1)[1].split(".")
    refused = {
        "forged": link(ANA, key="another-key-0123456789abcdef"),
        "altered": f"/answer/{day}.{encoded}.{mac[:-2]}AA",
        "another person's address": f"/answer/{day}.{bob[1]}.{mac}",
        "another session's": f"/answer/20210518.{encoded}.{mac}",
        "no session": f"/answer/20210421.{encoded}.{mac}",
        "damaged": f"/answer/{day}.{encoded}",
    }
    seen: dict[str, int] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        for name, path in refused.items():
            async with client.post(base + path, data={"a": "yes"}) as response:
                seen[name] = response.status
                page = await response.text()  # in every language: whose it is is unknown
                assert "Lien invalide" in page and "Invalid link" in page
                assert "Enlace no válido" in page and page.count("<section lang=") == 3

    serve(project_dir, scenario)
    assert seen == dict.fromkeys(refused, 400)
    assert said(project_dir) == []
    # once the session is over, the link says so and records nothing (expired)
    later = dt.datetime(2021, 4, 20, 13, tzinfo=dt.UTC)

    async def after(client: aiohttp.ClientSession, base: str) -> None:
        async with client.post(base + genuine, data={"a": "yes"}) as response:
            seen["over"] = response.status
            assert "Este encuentro ya terminó" in await response.text()

    serve(project_dir, after, now=later)
    assert seen["over"] == 410 and said(project_dir) == []
    # a cancelled session: nothing to answer
    edit(project_dir / "sessions" / "2021-04-20.toml", "[title]", 'status = "cancelled"\n[title]')

    async def cancelled(client: aiohttp.ClientSession, base: str) -> None:
        async with client.post(base + genuine, data={"a": "yes"}) as response:
            seen["cancelled"] = response.status
            assert "Este encuentro está cancelado" in await response.text()

    serve(project_dir, cancelled)
    assert seen["cancelled"] == 410 and said(project_dir) == []


def test_a_link_answer_and_a_calendar_reply_count_once(project_dir: Path) -> None:
    invited(project_dir, [ANA, "bob@example.org"])
    address = parse_address(ANA)
    with workspace(project_dir).state() as state:
        reply = CalendarReply(SERIES, SESSION, ANA, "tentative", 0, NOW)
        record_reply(state, "reply-1", reply, address, NOW)

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.post(base + link(ANA), data={"a": "yes"}) as response:
            assert response.status == 200

    serve(project_dir, scenario)
    assert said(project_dir) == [(ANA, "yes", "link")]
    with workspace(project_dir).state() as state:
        count = headcount(state, SERIES, [SESSION])[SESSION]
    assert count == {"yes": 1, "none": 1}


def test_every_coming_session_at_once(project_dir: Path) -> None:
    invited(project_dir, [ANA])

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        data = {"a": "no", "every": "1"}
        async with client.post(base + link(ANA), data=data) as response:
            page = await response.text()
            assert re.search(r"Registrado para los \d+ próximos encuentros", page), page

    serve(project_dir, scenario)
    with workspace(project_dir).state() as state:
        rows = state.connection.execute(
            "SELECT session FROM answers WHERE key = ? AND answer = 'declined' ORDER BY session",
            (ANA,),
        ).fetchall()
    sessions = [row[0] for row in rows]
    assert sessions[0] == "2021-04-20" and "2021-05-18" in sessions and len(sessions) >= 10


@pytest.mark.parametrize("places", [5])
def test_concurrent_yes_answers_never_exceed_the_capacity(project_dir: Path, places: int) -> None:
    people = [f"person.{n}@example.org" for n in range(40)]
    invited(project_dir, people, "fr")
    edit(project_dir / "sessions" / "2021-04-20.toml", "[title]", f"capacity = {places}\n[title]")
    pages: list[str] = []

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async def answer(address: str, said: str) -> None:
            async with client.post(base + link(address), data={"a": said}) as response:
                assert response.status == 200
                pages.append(await response.text())

        await asyncio.gather(*(answer(p, "yes") for p in people))
        # two with a place cancel at once: the first two who waited get them
        confirmed = [a for a, s, _ in said(project_dir) if s == "yes"]
        await asyncio.gather(*(answer(p, "no") for p in confirmed[:2]))

    serve(project_dir, scenario)
    with workspace(project_dir).state() as state:
        count = headcount(state, SERIES, [SESSION])[SESSION]
    assert count["yes"] == places and count["waiting"] == len(people) - places - 2
    assert count["no"] == 2
    assert sum("vous êtes sur la liste d’attente" in page for page in pages) == len(people) - places


@pytest.mark.sqlite_only
def test_answers_and_attendance_of_a_date_that_is_no_session_or_a_file_that_is_no_report(
    project_dir: Path, run_cli: Callable[..., tuple[int, str, str]]
) -> None:
    config = str(project_dir / "config.toml")
    code, _, err = run_cli("--config", config, "answers", "2021-04-21")
    assert code == 2 and "not a date of the series" in err and "Traceback" not in err
    other = project_dir / "members.csv"
    other.write_text("email,name\nluc.martin@example.org,Luc\n", encoding="utf-8")
    late = ("--config", config, "--now", "2021-04-21T10:00:00Z", "attendance", "import")
    code, _, err = run_cli(*late, str(other), "--session", "2021-04-20")
    assert code == 2 and f"{other}: this is not a Zoom participants report" in err
    code, _, err = run_cli(*late, str(project_dir / "missing.csv"), "--session", "2021-04-20")
    assert code == 2 and "missing.csv" in err
    early = ("--config", config, "--now", "2021-04-19T10:00:00Z", "attendance", "import")
    code, _, err = run_cli(*early, str(other), "--session", "2021-04-20")
    assert code == 2 and "has not taken place yet" in err
