"""The daemon's web side on a real socket: one-click unsubscribe (RFC 8058), the confirmation
page in the recipient's language, the calendar feed, /health and /metrics; and the page in a
real browser."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import aiohttp
import icalendar
import pytest
from aiohttp import web

from mailer.audience.unsubscribe import make_token
from mailer.calendar.ics import session_uid
from mailer.model import Recipient
from mailer.project.workspace import Workspace
from mailer.store.ledger import Ledger, SendKey
from mailer.store.suppression import suppressed_keys
from mailer.web.public import make_app
from tests.support.peers import icaljs

KEY = "http-test-signing-key-0123456789"
NOW = dt.datetime(2021, 4, 10, 12, tzinfo=dt.UTC)
ANA = "ana.garcia@example.org"

Scenario = Callable[[aiohttp.ClientSession, str], Awaitable[None]]


def workspace(project_dir: Path, now: dt.datetime = NOW) -> Workspace:
    return Workspace(
        project_dir / "config.toml", clock=lambda: now, environ={"MAILER_UNSUBSCRIBE_KEY": KEY}
    )


def serve(
    project_dir: Path,
    scenario: Scenario,
    health: Mapping[str, Any] | None = None,
    *,
    now: dt.datetime = NOW,
) -> None:
    """Run the app on 127.0.0.1, any free port, and `scenario(client, base_url)` against it."""
    space = workspace(project_dir, now)
    report = health or {"status": "ok", "scheduler": "running", "rounds": 3}

    async def main() -> None:
        runner = web.AppRunner(make_app(lambda: space, lambda: report))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            async with aiohttp.ClientSession() as client:
                await scenario(client, f"http://127.0.0.1:{port}")
        finally:
            await runner.cleanup()

    asyncio.run(main())


def invited_in_spanish(project_dir: Path) -> str:
    """Ana was sent an email in Spanish: her unsubscribe path."""
    space = workspace(project_dir)
    config = space.project().config
    with space.state() as state:
        Ledger(state).plan(
            SendKey(config.series.id, dt.date(2021, 4, 20), "invitation"),
            "invitation",
            segments=("everyone",),
            deadline=NOW + dt.timedelta(days=5),
            recipients=[Recipient(email=ANA, key=ANA, language="es")],
            now=NOW,
        )
    return "/unsubscribe/" + make_token(KEY.encode(), config.series.id, ANA)


def suppressed(project_dir: Path) -> frozenset[str]:
    with workspace(project_dir).state() as state:
        return suppressed_keys(state).keys


def test_a_get_only_asks_and_a_one_click_post_unsubscribes(project_dir: Path) -> None:
    path = invited_in_spanish(project_dir)
    seen: dict[str, Any] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.get(base + path) as response:  # what a link scanner does
            seen["get"] = (response.status, await response.text(), dict(response.headers))
        seen["after_get"] = suppressed(project_dir)
        # what Gmail and Outlook send on "Unsubscribe" (RFC 8058), twice
        for attempt in ("post", "again"):
            async with client.post(base + path, data={"List-Unsubscribe": "One-Click"}) as response:
                seen[attempt] = (response.status, await response.text())

    serve(project_dir, scenario)
    status, page, headers = seen["get"]
    assert status == 200 and 'lang="es"' in page and ANA in page
    assert 'method="post"' in page and 'id="unsubscribe"' in page
    # the page offers the calendar feed instead, in her language
    assert 'href="webcal://lists.icom-france.example.org/calendar/es.ics"' in page
    assert "https://outlook.live.com/calendar/0/addfromweb?url=" in page
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    assert seen["after_get"] == frozenset()
    for attempt in ("post", "again"):
        status, page = seen[attempt]
        assert status == 200 and 'id="done"' in page and 'lang="es"' in page
    assert suppressed(project_dir) == {ANA}


def test_the_page_lets_a_person_stop_reminders_only_and_change_their_mind(
    project_dir: Path,
) -> None:
    path = invited_in_spanish(project_dir)
    seen: dict[str, str] = {}
    blocked: dict[str, tuple[bool, bool]] = {}

    def now_blocked() -> tuple[bool, bool]:
        with workspace(project_dir).state() as state:
            return ANA in suppressed_keys(state, "reminder"), ANA in suppressed_keys(
                state, "invitation"
            )

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.get(base + path) as response:
            seen["offer"] = await response.text()
        for choice in ("reminders", "all", "resubscribe", "bogus"):
            async with client.post(base + path, data={"choice": choice}) as response:
                seen[choice] = f"{response.status} {await response.text()}"
            blocked[choice] = now_blocked()

    serve(project_dir, scenario)
    assert 'value="reminders"' in seen["offer"] and 'value="resubscribe"' not in seen["offer"]
    # reminders only: no more reminders, the invitations and updates still come
    assert blocked["reminders"] == (True, False)
    assert "pero ya no los recordatorios" in seen["reminders"]
    assert 'value="resubscribe"' in seen["reminders"] and 'value="all"' in seen["reminders"]
    assert blocked["all"] == (True, True) and "ya no recibe mensajes" in seen["all"]
    assert blocked["resubscribe"] == (False, False)
    assert "recibe las invitaciones y los recordatorios" in seen["resubscribe"]
    assert seen["bogus"].startswith("400") and blocked["bogus"] == (False, False)


def test_a_bounced_person_lifts_it_herself_and_the_organiser_is_told(project_dir: Path) -> None:
    """Her own signed link shows her address works: the page offers to mail her again, and
    the organiser gets a notice saying so (sent by the daemon, once)."""
    from mailer.audience.addresses import parse_address
    from mailer.sending.due import DaemonCore
    from mailer.store.notices import waiting_notices
    from mailer.store.suppression import suppress
    from mailer.transport.memory import MemoryTransport

    path = invited_in_spanish(project_dir)
    reason = "bounced 2021-04-06: 5.1.1 550 5.1.1 User unknown"
    with workspace(project_dir).state() as state:
        suppress(state, parse_address(ANA), "bounced", reason, NOW)
    seen: dict[str, str] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.get(base + path) as response:
            seen["offer"] = await response.text()
        seen["after_get"] = str(sorted(suppressed(project_dir)))
        async with client.post(base + path, data={"choice": "resubscribe"}) as response:
            seen["lifted"] = await response.text()

    serve(project_dir, scenario)
    assert "nos fueron devueltos sin entregar" in seen["offer"]
    assert 'value="resubscribe"' in seen["offer"] and seen["after_get"] == f"['{ANA}']"
    assert suppressed(project_dir) == frozenset() and 'id="done"' in seen["lifted"]
    assert "recibe las invitaciones y los recordatorios" in seen["lifted"]

    space = workspace(project_dir)
    transport = MemoryTransport()
    core = DaemonCore(
        space.project(),
        space.templates(),
        signing_key=space.signing_key,
        transport=lambda: transport,
        clock=lambda: NOW,
    )
    for _ in range(2):  # once, however often the daemon looks
        asyncio.run(core.send_notices(NOW))
    (notice,) = transport.sent
    text = notice.data.decode()
    assert notice.recipient == "rencontres@icom-france.example.org"
    assert ANA in text and "5.1.1" in text and "[mailer]" in text
    with space.state() as state:
        assert waiting_notices(state) == []
        rows = state.connection.execute("SELECT * FROM notices").fetchall()
        assert len(rows) == 1 and ANA not in str([tuple(row) for row in rows])  # once told


def test_the_page_cannot_undo_an_organiser_s_suppression(project_dir: Path) -> None:
    from mailer.audience.addresses import parse_address
    from mailer.store.suppression import suppress

    path = invited_in_spanish(project_dir)
    with workspace(project_dir).state() as state:
        suppress(state, parse_address(ANA), "manual", "asked by phone", NOW)
    seen: dict[str, str] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.post(base + path, data={"choice": "resubscribe"}) as response:
            seen["page"] = await response.text()

    serve(project_dir, scenario)
    # no button undoes it (her details and her data stay hers to change, export or erase)
    assert 'value="resubscribe"' not in seen["page"] and 'value="all"' not in seen["page"]
    assert "escriba a" in seen["page"] and 'value="erase"' in seen["page"]
    assert suppressed(project_dir) == {ANA}


@pytest.mark.parametrize(
    "token",
    [
        "not-a-token",
        make_token(b"another-key-0123456789abcdef", "x", ANA),
        "%3Cscript%3E",
        make_token(KEY.encode(), "icom-france-solidarites-musees", ANA) + "%20",  # one spelling
        "%20" + make_token(KEY.encode(), "icom-france-solidarites-musees", ANA),
    ],
)
def test_a_bad_link_gets_a_400_page_not_a_traceback(project_dir: Path, token: str) -> None:
    seen: dict[str, tuple[int, str]] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        for method in ("GET", "POST"):
            async with client.request(method, f"{base}/unsubscribe/{token}") as response:
                seen[method] = (response.status, await response.text())

    serve(project_dir, scenario)
    for status, page in seen.values():
        assert status == 400
        assert 'lang="fr"' in page and "Traceback" not in page and "<script>" not in page
        # whose link it is cannot be known: the page says it in every language of the series
        for language, title in [
            ("fr", "Lien non valide"),
            ("en", "Invalid link"),
            ("es", "Enlace no válido"),
        ]:
            assert f'<section lang="{language}">\n<p class="series">' in page
            assert f"<h1>{title}</h1>" in page
    assert suppressed(project_dir) == frozenset()


@pytest.mark.node
def test_the_feed_has_the_invitations_uids_and_no_attendees(project_dir: Path) -> None:
    bodies: dict[str, tuple[int, str, bytes]] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        for name in ("/calendar.ics", "/calendar/es.ics", "/calendar/de.ics"):
            async with client.get(base + name) as response:
                bodies[name] = (response.status, response.content_type, await response.read())

    serve(project_dir, scenario)
    assert bodies["/calendar/de.ics"][0] == 404
    space = workspace(project_dir)
    series = space.project().config.series
    for name, language in (("/calendar.ics", "fr"), ("/calendar/es.ics", "es")):
        status, content_type, data = bodies[name]
        assert status == 200 and content_type == "text/calendar"
        calendar = icalendar.Calendar.from_ical(data)
        assert "REFRESH-INTERVAL" in calendar and "X-PUBLISHED-TTL" in calendar
        events = calendar.events
        assert events and all(e.get("attendee") is None for e in events)
        assert all(e["summary"].params["LANGUAGE"] == language for e in events)
        april = next(e for e in events if str(e.start).startswith("2021-04-20"))
        assert str(april["uid"]) == session_uid(series, dt.date(2021, 4, 20))
        path = project_dir / f"feed-{language}.ics"
        path.write_bytes(data.replace(b"Europe/Paris", f"Europe/Paris-{language}".encode()))
        parsed = icaljs(path)  # ical.js (Thunderbird's parser) reads the same events
        assert sorted(e["uid"] for e in parsed["events"]) == sorted(str(e["uid"]) for e in events)


def test_health_and_metrics(project_dir: Path) -> None:
    invited_in_spanish(project_dir)
    seen: dict[str, tuple[int, str]] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        for name in ("/health", "/metrics"):
            async with client.get(base + name) as response:
                seen[name] = (response.status, await response.text())

    serve(project_dir, scenario)
    assert seen["/health"][0] == 200 and '"status": "ok"' in seen["/health"][1]
    metrics = seen["/metrics"][1]
    # the Prometheus text format: HELP and TYPE, then `name{labels} value` lines
    for line in metrics.splitlines():
        assert re.fullmatch(r"# (HELP|TYPE) \w+ .+|\w+(\{\w+=\"\w+\"\})? [0-9.e+]+", line), line
    assert 'mailer_deliveries{state="pending"} 1' in metrics
    assert "mailer_queue 1" in metrics and "mailer_scheduler_up 1" in metrics

    seen.clear()
    serve(project_dir, scenario, health={"status": "failing", "scheduler": "stopped"})
    assert seen["/health"][0] == 503
    assert "mailer_scheduler_up 0" in seen["/metrics"][1]


def test_head_and_get_never_unsubscribe_only_post_does(project_dir: Path) -> None:
    """Link checkers and scanners send HEAD, mail scanners GET: neither unsubscribes."""
    path = invited_in_spanish(project_dir)
    seen: dict[str, Any] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.head(base + path) as response:
            seen["head"] = response.status
        async with client.get(base + path) as response:
            seen["get"] = response.status
        seen["before_post"] = suppressed(project_dir)
        async with client.post(base + path, data={"List-Unsubscribe": "One-Click"}) as response:
            seen["post"] = response.status

    serve(project_dir, scenario)
    assert (seen["head"], seen["get"], seen["post"]) == (200, 200, 200)
    assert seen["before_post"] == frozenset()
    assert suppressed(project_dir) == {ANA}


def test_the_feed_is_built_once_and_answers_if_none_match(project_dir: Path) -> None:
    seen: dict[str, Any] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async def fetch() -> tuple[int, bytes, str]:
            async with client.get(base + "/calendar/fr.ics") as response:
                return response.status, await response.read(), response.headers["ETag"]

        seen["many"] = await asyncio.gather(*(fetch() for _ in range(20)))
        etag = seen["many"][0][2]
        async with client.get(base + "/calendar/fr.ics", headers={"If-None-Match": etag}) as r:
            seen["again"] = r.status

    serve(project_dir, scenario)
    assert {status for status, _, _ in seen["many"]} == {200}
    assert len({body for _, body, _ in seen["many"]}) == 1  # the same calendar for all 20
    assert seen["again"] == 304


def test_the_readme_s_proxy_config_forwards_every_public_route_and_nothing_internal(
    project_dir: Path,
) -> None:
    """Every link of an email (unsubscribe, /c/ and /f/ calendar links, the feeds) reaches the
    daemon through the nginx snippet of the README; /health and /metrics stay internal."""
    from tests.support.project import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    install = readme.split("### Install on a server", 1)[1].split("\n### ", 1)[0]
    prefixes = re.findall(r"location\s+(\S+)\s+\{\s*proxy_pass", install)
    assert prefixes, install
    app = make_app(lambda: workspace(project_dir), lambda: {})
    routes = {
        resource.canonical
        for resource in app.router.resources()
        if not resource.canonical.startswith(("/health", "/metrics"))
    }
    assert routes
    for route in routes:
        assert any(route.startswith(prefix) for prefix in prefixes), (route, prefixes)
    for internal in ("/health", "/metrics"):
        assert not any(internal.startswith(prefix) for prefix in prefixes), internal
