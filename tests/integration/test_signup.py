"""The public sign-up page on a real socket, on both stores: double opt-in (only the POST of
the emailed link adds her, with the evidence), the same answer for every address, the limits
that bound the confirmation emails, refused links, and escaped input everywhere."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiohttp

from mailer.actions.lists import segment_members
from mailer.actions.signup import ask, client_of
from mailer.audience.addresses import parse_address
from mailer.audience.signup import SignupRequest, make_signup_token
from mailer.store.members import members, memberships
from mailer.store.suppression import suppress, suppressed_keys, suppression_of
from tests.integration.test_http import KEY, NOW, serve, workspace

ON_BOTH_STORES = True
SERIES = "icom-france-solidarites-musees"
LINK = re.compile(r"https://lists\.icom-france\.example\.org(/signup/confirm/[A-Za-z0-9_.-]+)")


def sent(project_dir: Path) -> list[EmailMessage]:
    """The emails written to the outbox (the default transport), oldest first."""
    folder = project_dir / "outbox" / "new"
    files = (
        sorted(folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns) if folder.is_dir() else []
    )
    parsed = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]
    return [message for message in parsed if isinstance(message, EmailMessage)]


def text_of(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def form(address: str, **more: str) -> dict[str, str]:
    return {"email": address, "name": "Zoé Martin", "language": "fr", "consent": "1", **more}


def test_only_the_confirmation_link_adds_her_with_the_evidence(project_dir: Path) -> None:
    seen: dict[str, Any] = {}
    zoe = "zoe.martin@example.org"

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        headers = {"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"}
        async with client.get(base + "/signup", headers=headers) as response:
            seen["form"] = (response.status, await response.text(), response.headers)
        async with client.post(
            base + "/signup?lang=es", data=form(zoe, language="es", timezone="America/Mexico_City")
        ) as response:
            seen["sent"] = (response.status, await response.text())
        seen["before"] = list(_members(project_dir))
        for _ in range(500):  # the email leaves in the background
            if sent(project_dir):
                break
            await asyncio.sleep(0.01)
        path = LINK.search(text_of(sent(project_dir)[0]))
        assert path is not None
        async with client.get(base + path.group(1)) as response:  # a mail scanner looks
            seen["confirm"] = (response.status, await response.text())
        seen["looked"] = list(_members(project_dir))
        async with client.post(base + path.group(1)) as response:
            seen["done"] = (response.status, await response.text())

    serve(project_dir, scenario)
    status, page, headers = seen["form"]
    assert status == 200 and 'lang="es"' in page and "Inscribirse en los encuentros" in page
    assert "<option>America/Mexico_City</option>" in page  # her zone, guessed by the script
    assert "script-src 'sha256-" in headers["Content-Security-Policy"]
    assert 'name="website"' in page  # the honeypot, hidden from people
    status, page = seen["sent"]
    assert status == 200 and "Revise su correo" in page
    assert seen["before"] == [] and seen["looked"] == []  # nothing until she confirms
    [message] = sent(project_dir)
    assert message["To"] == f"Zoé Martin <{zoe}>" and message["Content-Language"] == "es"
    assert str(message["Subject"]).startswith("Confirme su inscripción: ")
    assert "Hola, Zoé Martin:" in text_of(message)
    assert seen["confirm"][0] == 200 and 'id="confirm"' in seen["confirm"][1]
    status, page = seen["done"]
    assert status == 200 and "Está inscrito/a" in page
    [member] = _members(project_dir)
    assert (member.email, member.name, member.language, member.timezone, member.origin) == (
        zoe,
        "Zoé Martin",
        "es",
        "America/Mexico_City",
        "signup",
    )
    assert member.consent is not None and member.consent.version == "2026-12"
    assert member.consent.text.startswith("Acepto recibir las invitaciones")
    assert member.consent.language == "es"
    assert member.asked_at == NOW and member.confirmed_at == NOW
    assert member.client == "127.0.0.1"
    # she is on the list like anyone in a CSV file, in her language
    space = workspace(project_dir)
    with space.state() as state:
        people, _, _ = segment_members(space.project(), state, frozenset(), "audience", None)
    [found] = [p for p in people if p.email == zoe]
    assert (found.language, found.timezone, found.source) == (
        "es",
        "America/Mexico_City",
        "state:signups:1",
    )


def _members(project_dir: Path) -> list[Any]:
    with workspace(project_dir).state() as state:
        return list(members(state, "signups"))


def test_new_known_and_suppressed_addresses_get_the_same_answer(project_dir: Path) -> None:
    """Nobody learns who is on the list: the page is the same byte for byte. Whoever
    unsubscribed gets a confirmation (she may be coming back) and stays suppressed unless she
    confirms; an address an organiser blocked or that bounced gets nothing."""
    space = workspace(project_dir)
    with space.state() as state:
        for address, kind in [
            ("gone@example.org", "unsubscribed"),
            ("blocked@example.org", "manual"),
            ("bounced@example.org", "bounced"),
        ]:
            suppress(state, parse_address(address), kind, "test", NOW)  # type: ignore[arg-type]
    pages: dict[str, str] = {}
    malformed: list[tuple[int, str]] = []
    addresses = [
        "new@example.org",
        "new@example.org",
        "luc.martin@example.org",
        "gone@example.org",
        "blocked@example.org",
        "bounced@example.org",
    ]

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        for n, address in enumerate(addresses):
            async with client.post(base + "/signup?lang=fr", data=form(address)) as response:
                assert response.status == 200
                pages[f"{n}:{address}"] = await response.text()
        async with client.post(base + "/signup?lang=fr", data=form("not an address")) as response:
            malformed.append((response.status, await response.text()))

    serve(project_dir, scenario)
    answers = set(pages.values())
    assert len(answers) == 1 and "Consultez votre messagerie" in answers.pop()
    [(status, page)] = malformed  # the form again, saying what to fix (it reveals nothing)
    assert status == 400 and 'aria-invalid="true"' in page and "not an address" in page
    to = sorted(str(m["To"]).split("<")[1].rstrip(">") for m in sent(project_dir))
    # (the same request twice in one second is the same email: one file in the outbox)
    assert to == ["gone@example.org", "luc.martin@example.org", "new@example.org"]
    with space.state() as state:
        assert "gone@example.org" in suppressed_keys(state)  # until she confirms herself
        message = next(m for m in sent(project_dir) if "gone@" in str(m["To"]))
        found = LINK.search(text_of(message))
        assert found is not None
        token = found.group(1).rsplit("/", 1)[1]

    async def confirm(client: aiohttp.ClientSession, base: str) -> None:
        async with client.post(f"{base}/signup/confirm/{token}") as response:
            assert response.status == 200

    serve(project_dir, confirm)
    with space.state() as state:
        assert suppression_of(state, "gone@example.org") is None
        assert [m.list_name for m in memberships(state, "gone@example.org")] == ["signups"]


def test_a_thousand_posts_from_one_client_send_five_emails(project_dir: Path) -> None:
    """Over the socket, as a bot would: 1,000 addresses from one client, fifty at a time;
    every answer is the same page, and the outbox holds the per-client limit's emails."""
    pages: set[tuple[int, str]] = set()

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async def post(n: int) -> None:
            async with client.post(base + "/signup?lang=fr", data=form(f"p{n}@example.org")) as r:
                pages.add((r.status, await r.text()))

        for start in range(0, 1000, 50):
            await asyncio.gather(*(post(n) for n in range(start, start + 50)))

    serve(project_dir, scenario)  # its shutdown waits for the emails on their way
    assert len(pages) == 1 and next(iter(pages))[0] == 200
    assert len(sent(project_dir)) == 5


def test_a_bot_s_posts_send_a_bounded_number_of_emails(project_dir: Path) -> None:
    """1,000 posts from one client, 1,000 for one address from 1,000 clients, 1,000 from
    1,000 clients for 1,000 addresses, and the honeypot: the limits of [signup] hold."""
    space = workspace(project_dir)
    project = space.project()
    config = project.config
    assert config.signup is not None
    limits = (config.signup.per_client, config.signup.per_address, config.signup.per_hour)
    assert limits == (5, 2, 100)
    templates = space.templates()
    counts: dict[str, int] = {}
    with space.state() as state:

        def post(address: str, client: str, minute: int, **more: str) -> bool:
            asked = ask(
                config,
                templates,
                state,
                form(address, **more),
                language="fr",
                client=client,
                now=NOW + dt.timedelta(minutes=minute),
                signing_key=KEY.encode(),
            )
            return asked.email is not None

        counts["one client"] = sum(post(f"p{n}@example.org", "203.0.113.9", 0) for n in range(1000))
        counts["one address"] = sum(
            post("target@example.org", f"198.51.{n // 250}.{n % 250}", 1) for n in range(1000)
        )
        counts["honeypot"] = sum(
            post(f"h{n}@example.org", f"192.0.2.{n}", 2, website="x") for n in range(50)
        )
        counts["many clients"] = sum(
            post(f"m{n}@example.org", f"10.{n // 250}.{n % 250}.1", 3) for n in range(1000)
        )
        # an IPv6 client is counted by its /64: rotating addresses inside it does not help
        counts["one /64"] = sum(
            post(f"v{n}@example.org", f"2001:db8::{n:x}", 70) for n in range(100)
        )
        # an hour later, the per-client and per-hour windows have passed
        counts["later"] = sum(post(f"q{n}@example.org", "203.0.113.9", 75) for n in range(10))
    assert counts == {
        "one client": 5,
        "one address": 2,
        "honeypot": 0,
        "many clients": 100 - 5 - 2,  # the hour's budget, shared
        "one /64": 5,
        "later": 5,
    }
    assert client_of("2001:db8::1") == client_of("2001:db8::ffff") == "2001:db8::/64"


def test_expired_altered_and_foreign_links_are_refused(project_dir: Path) -> None:
    space = workspace(project_dir)
    config = space.project().config
    assert config.signup is not None
    with space.state() as state:
        asked = ask(
            config,
            space.templates(),
            state,
            form("ines@example.org"),
            language="fr",
            client="127.0.0.1",
            now=NOW,
            signing_key=KEY.encode(),
        )
    assert asked.email is not None
    parsed = email.message_from_bytes(asked.email().data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    found = LINK.search(text_of(parsed))
    assert found is not None
    genuine = found.group(1)
    payload, mac = genuine.rsplit("/", 1)[1].split(".")
    other = make_signup_token(
        b"another-key-0123456789",
        SERIES,
        SignupRequest("ines@example.org", "", "fr", None, ("signups",), "x", NOW),
    )
    refused = {
        "altered": f"/signup/confirm/{payload[:-3]}AAA.{mac}",
        "forged": f"/signup/confirm/{other}",
        "damaged": f"/signup/confirm/{payload}",
    }
    seen: dict[str, tuple[int, str]] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        for name, path in refused.items():
            async with client.post(base + path) as response:
                seen[name] = (response.status, await response.text())

    serve(project_dir, scenario)
    for name in refused:
        assert seen[name][0] == 400 and "Lien invalide" in seen[name][1], name

    async def late(client: aiohttp.ClientSession, base: str) -> None:
        async with client.post(base + genuine) as response:
            seen["late"] = (response.status, await response.text())

    serve(project_dir, late, now=NOW + config.signup.confirm_within + dt.timedelta(seconds=1))
    assert seen["late"][0] == 400 and "Ce lien a expiré" in seen["late"][1]
    assert _members(project_dir) == []


def test_what_people_type_is_escaped_in_pages_and_emails(project_dir: Path) -> None:
    attack = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    seen: dict[str, str] = {}

    async def scenario(client: aiohttp.ClientSession, base: str) -> None:
        async with client.post(
            base + "/signup?lang=fr", data=form(attack + "@x", name=attack)
        ) as response:
            seen["refused"] = await response.text()
        async with client.post(
            base + "/signup?lang=fr", data=form("eve@example.org", name=attack)
        ) as response:
            seen["sent"] = await response.text()

    serve(project_dir, scenario)
    for page in seen.values():
        assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in seen["refused"]
    [message] = sent(project_dir)
    html = message.get_body(("html",))
    assert html is not None
    body = str(html.get_content())
    assert "<script>alert" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
