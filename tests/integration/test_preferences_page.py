"""The preferences page (what every email's unsubscribe link opens) on a real socket, on both
stores: her name, language and time zone change what her emails use; she downloads everything
held about her, or erases it, each only after ticking its box; and the sign-up snippet posts
to the sign-up page as it is."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import aiohttp

from mailer.actions.lists import segment_members
from mailer.actions.people import person
from mailer.audience.addresses import parse_address
from mailer.audience.unsubscribe import make_token
from mailer.messages.signup import signup_snippet
from mailer.store.suppression import suppressed_keys
from tests.integration.test_http import KEY, NOW, serve, workspace

ON_BOTH_STORES = True
SERIES = "icom-france-solidarites-musees"
CARMEN = "carmen.garcia@example.org"


def page_of(address: str) -> str:
    return "/unsubscribe/" + make_token(KEY.encode(), SERIES, address)


def recipient(project_dir: Path, address: str) -> Any:
    space = workspace(project_dir)
    with space.state() as state:
        people, _, _ = segment_members(space.project(), state, frozenset(), "everyone", None)
    return next((p for p in people if p.email == address), None)


def test_her_details_change_what_her_emails_use(project_dir: Path) -> None:
    path = page_of(CARMEN)
    seen: dict[str, tuple[int, str]] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.get(base + path) as response:
            seen["page"] = (response.status, await response.text())
        details = {
            "choice": "details",
            "name": "Carmen García <b>",
            "language": "en",
            "timezone": "America/Lima",
        }
        async with client.post(base + path, data=details) as response:
            seen["saved"] = (response.status, await response.text())

    before = recipient(project_dir, CARMEN)
    assert (before.language, before.timezone) == ("es", "Europe/Madrid")
    serve(project_dir, scenario)
    status, page = seen["page"]
    assert status == 200 and 'lang="es"' in page and 'value="Carmen García"' in page
    assert '<option lang="es" value="es" selected>' in page and "Borrar mis datos" in page
    status, page = seen["saved"]
    assert status == 200 and 'lang="en"' in page  # in the language she chose
    assert "Your details are saved." in page and "Carmen García &lt;b&gt;" in page
    after = recipient(project_dir, CARMEN)
    assert (after.name, after.language, after.timezone) == (
        "Carmen García <b>",
        "en",
        "America/Lima",
    )


def test_export_and_erasure_each_need_their_box(project_dir: Path) -> None:
    path = page_of(CARMEN)
    seen: dict[str, Any] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        for choice in ("export", "erase"):
            async with client.post(base + path, data={"choice": choice}) as response:
                seen[f"{choice} unticked"] = (response.status, await response.text())
        async with client.post(
            base + path, data={"choice": "export", "confirm-export": "1"}
        ) as response:
            seen["export"] = (response.status, response.headers, await response.text())
        async with client.post(
            base + path, data={"choice": "erase", "confirm-erase": "1"}
        ) as response:
            seen["erase"] = (response.status, await response.text())
        async with client.get(base + path) as response:
            seen["after"] = await response.text()

    serve(project_dir, scenario)
    for choice in ("export", "erase"):
        status, page = seen[f"{choice} unticked"]
        assert status == 400 and "Marque la casilla para confirmar." in page
    status, headers, body = seen["export"]
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    record = json.loads(body)
    assert record["address"] == CARMEN and record["lists"][0]["name"] == "Carmen García"
    status, page = seen["erase"]
    assert status == 200 and "Sus datos están borrados" in page and CARMEN not in page
    space = workspace(project_dir)
    with space.state() as state:
        report = person(space.project(), state, parse_address(CARMEN), NOW)
        assert report.deliveries == [] and report.preferences is None
        assert CARMEN in suppressed_keys(state)  # by a hash: her list row mails her no more
    assert "carmen" not in seen["after"].split("<h2>")[1]  # her details are gone too


def test_the_snippet_posts_to_the_sign_up_page_as_it_is(project_dir: Path) -> None:
    space = workspace(project_dir)
    snippet = signup_snippet(space.project().config, space.templates(), "en")
    assert "<script" not in snippet and "<html" not in snippet
    action = re.search(
        r'action="https://lists\.icom-france\.example\.org(/signup\?lang=en)"', snippet
    )
    assert action is not None
    names = re.findall(r'<input type="(?:email|text)"[^>]* name="(\w+)"', snippet)
    fields = dict.fromkeys(names, "")  # the honeypot stays empty, as people leave it
    fields |= {"email": "someone@example.org", "consent": "1"}
    assert set(fields) >= {"email", "name", "website", "consent"}
    seen: dict[str, Any] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.post(base + action.group(1), data=fields) as response:
            seen["page"] = (response.status, await response.text())

    serve(project_dir, scenario)
    status, page = seen["page"]
    assert status == 200 and "Check your inbox" in page
