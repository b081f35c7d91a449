"""Every page, organisers' and public, in Debian's chromium at 375 px (a phone) and 1280 px, light
and dark, against a real `mailer daemon` that has sent an invitation: none scrolls sideways
(WCAG 1.4.10), axe-core finds no violation in either colour scheme, and every word the French
pages show comes from their translations or from the project's own data (no English sentence,
no identifier such as `reminder:P1D`). The screenshots docs/screenshots/web-NAME-{375,1280}.png
are taken here (with MAILER_REFRESH_DOCS=1; to a scratch folder otherwise)."""

from __future__ import annotations

import asyncio
import email
import email.policy
import html
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mailer.messages.checks import sample_recipients
from tests.support.browser import Page, chromium_page, screenshot_folder
from tests.support.daemon import DaemonProcess, ledger_states, wait_until
from tests.support.organisers import (
    PASSWORD,
    Client,
    form_fields,
    pages_port,
    project_with_pages,
    token,
)
from tests.support.page_checks import (
    axe_violations,
    foreign_words,
    keyboard_problems,
    load_axe,
    shown_texts,
    tab_through,
    vocabulary,
    wider_than_screen,
)
from tests.support.sending import use_smtp
from tests.support.smtp_server import Fault, SmtpServer

pytestmark = pytest.mark.browser
NOW = "2021-04-01T10:00:00+02:00"
SESSION = "2021-04-20"
ORGANISER = "marie@icom-france.example.org"
SHOTS = screenshot_folder("pages")
WIDTHS = (375, 1280)
TAB_STOPS = 40  # the first stops of each page, pressing Tab
UPLOAD = "Email Address;First Name;Langue\nnew.person@example.org;Nina;fr\nnot an address;X;fr\n"


@dataclass
class Seen:
    """What the sweep found, page by page."""

    wider: dict[str, list[str]] = field(default_factory=dict)
    axe: dict[str, list[str]] = field(default_factory=dict)
    foreign: dict[str, list[str]] = field(default_factory=dict)
    keyboard: dict[str, list[str]] = field(default_factory=dict)
    tab_stops: dict[str, int] = field(default_factory=dict)
    pages: list[str] = field(default_factory=list)


@dataclass
class Swept:
    """The sweep's findings, and the daemon's site it looked at (for the tests that ask it
    more: a client logged in, the SMTP server, a French partner of the lists)."""

    seen: Seen
    client: Client
    server: SmtpServer
    partner: str


def first_link(site_server: SmtpServer, address: str, pattern: str) -> str:
    for message in site_server.received:
        if address in message.recipients:
            parsed = email.message_from_bytes(message.data, policy=email.policy.default)
            plain = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
            found = re.search(pattern, plain)
            if found:
                return found.group(0)
    raise AssertionError(f"no {pattern} in an email to {address}")


def french_partner(config: Path) -> str:
    for line in (config.parent / "recipients" / "partners.csv").read_text("utf-8").splitlines():
        if line.endswith(";fr") or ";fr;" in line:
            return line.split(";")[0]
    raise AssertionError("no French partner")


def prepare(client: Client, site_server: SmtpServer, config: Path) -> dict[str, str]:
    """An invitation sent to the partners through the pages, a person added to the kept list;
    the paths of the pages that need them."""
    assert client.log_in(ORGANISER, PASSWORD).status == 303
    plan = client.get(f"/sessions/{SESSION}/send?kind=invitation&segment=partners")
    expected = re.search(r'name="expected" value="(\d+)"', plan.body)
    assert expected, plan.body
    form = {"kind": "invitation", "segment": "partners", "expected": expected.group(1)}
    started = client.post(
        f"/sessions/{SESSION}/send", {**form, "csrf": token(plan), "confirm": "yes"}
    )
    assert started.status == 303, started.body
    wait_until(lambda: ledger_states(config).get("sent") == 5, 60)
    kept = client.get("/lists/signups")
    added = form_fields(kept, "/lists/signups/add")
    added |= {"email": "lea@example.org", "name": "Léa Martin", "language": "fr"}
    assert client.post("/lists/signups/add", added).status in (200, 303)
    partner = french_partner(config)
    return {
        "progress": started.headers["Location"],
        "person": f"/people/person?address={partner}",
        "answer": first_link(site_server, partner, r"/answer/[\w.-]+"),
        "preferences": first_link(site_server, partner, r"/unsubscribe/[\w.-]+"),
    }


async def submit(page: Page, script: str) -> None:
    """Run `script` (which submits a form) and wait for the page it leads to."""
    await page.evaluate(f"setTimeout(() => {{ {script} }}, 0)")
    await page.wait_for("Page.loadEventFired")


async def sweep(base: str, public: str, paths: dict[str, str], folder: Path) -> Seen:
    seen = Seen()
    axe = load_axe()
    samples = [r.name or "" for r in sample_recipients("fr", frozenset(), "America/Los_Angeles")]
    known = vocabulary(
        folder, ["Marie Curie-Sklodowska", "Léa Martin", UPLOAD, "Los Angeles", *samples]
    )
    upload = folder / "people.csv"
    upload.write_text(UPLOAD, encoding="utf-8")
    async with chromium_page() as page:
        await page.send("Page.enable")
        await page.send("Page.setBypassCSP", enabled=True)  # to run axe-core in the pages

        async def look(name: str, url: str | None, then: str = "", file: bool = False) -> None:
            for width in WIDTHS:
                for dark in (False, True):
                    if url is not None:
                        await page.open(url, width, dark="media" if dark else None)
                    else:
                        await page._viewport(width, 900)
                    if file:
                        document = await page.send("DOM.getDocument")
                        node = await page.send(
                            "DOM.querySelector",
                            nodeId=document["root"]["nodeId"],
                            selector="#upload-file",
                        )
                        await page.send(
                            "DOM.setFileInputFiles", files=[str(upload)], nodeId=node["nodeId"]
                        )
                    if then:
                        await submit(page, then)
                    where = f"{name} at {width}px{' dark' if dark else ''}"
                    if found := await wider_than_screen(page):
                        seen.wider[where] = found
                    if found := await axe_violations(page, axe):
                        seen.axe[where] = found
                    if dark:
                        continue
                    (SHOTS / f"web-{name}-{width}.png").write_bytes(await page.screenshot())
                    french = await page.evaluate("document.documentElement.lang") == "fr"
                    found = foreign_words(await shown_texts(page), known) if french else []
                    if found and width == WIDTHS[-1]:
                        seen.foreign[name] = found
                    if width == WIDTHS[-1]:
                        stops = await tab_through(page, TAB_STOPS)
                        seen.tab_stops[name] = len(stops)
                        organisers = (url or "").startswith(base) or url is None
                        if found := keyboard_problems(stops, skip=organisers and name != "login"):
                            seen.keyboard[name] = found
            seen.pages.append(name)

        await look("login", f"{base}/login")
        await page.open(f"{base}/login", 1280)
        await submit(
            page,
            f"document.querySelector('[name=email]').value = '{ORGANISER}';"
            f"document.querySelector('[name=password]').value = '{PASSWORD}';"
            "document.querySelector('form.login button').click()",
        )
        day = f"{base}/sessions/{SESSION}"
        await look("series", f"{base}/")
        await look("status", f"{base}/status")
        await look("session", day)
        await look(
            "session-error",
            day,
            "document.querySelector('[name=\"title.es\"]').value = '';"
            "document.getElementById('save').click()",
        )
        await look(
            "move",
            day,
            "document.getElementById('moved_to.date').value = '2021-04-27';"
            "document.getElementById('moved_to.start').value = '14:00';"
            "document.getElementById('moved_to.end').value = '15:30';"
            "document.getElementById('save').click()",
        )
        await look("preview", f"{day}/preview?kind=invitation")
        await look("send-plan", f"{day}/send?kind=reminder&segment=partners")
        await look(
            "send-unconfirmed",
            f"{day}/send?kind=reminder&segment=partners",
            "document.getElementById('send').click()",
        )
        await look("progress", base + paths["progress"])
        await look("session-status", f"{day}/status")
        await look("people", f"{base}/people")
        await look("person", base + paths["person"])
        await look("kept-list", f"{base}/lists/signups")
        await look(
            "upload-preview",
            f"{base}/lists/signups",
            "document.querySelector('#upload button').click()",
            file=True,
        )
        await look("audit", f"{base}/audit")
        await look("not-found", f"{base}/sessions/2099-01-01/nothing")
        await look("answer", public + paths["answer"])
        await look("preferences", public + paths["preferences"])
        await look("signup", f"{public}/signup?lang=fr")
        await look("invalid-link", f"{public}/unsubscribe/not-a-token")
    return seen


@pytest.fixture(scope="module")
def swept(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Swept]:
    folder = tmp_path_factory.mktemp("pages")
    config = project_with_pages(folder, [(ORGANISER, "Marie Curie-Sklodowska")])
    SHOTS.mkdir(parents=True, exist_ok=True)
    with SmtpServer() as server:
        use_smtp(folder, server.port, connections=1)  # one at a time: a pause finds a rest
        daemon = DaemonProcess(config, NOW)
        try:
            port = pages_port(daemon)
            public = daemon.wait_for_log(r"serving http://([\d.:]+)").group(1)
            client = Client("127.0.0.1", port)
            paths = prepare(client, server, config)
            seen = asyncio.run(
                sweep(f"http://127.0.0.1:{port}", f"http://{public}", paths, config.parent)
            )
            yield Swept(seen, client, server, french_partner(config))
        finally:
            daemon.stop()


def report(found: dict[str, list[str]]) -> str:
    return "\n".join(
        f"{where}: {problem}" for where, problems in found.items() for problem in problems
    )


@pytest.fixture
def seen(swept: Swept) -> Seen:
    return swept.seen


def test_every_page_was_looked_at(seen: Seen) -> None:
    assert len(seen.pages) == 21


def test_no_page_scrolls_sideways_on_a_phone(seen: Seen) -> None:
    assert not seen.wider, report(seen.wider)


def test_axe_core_finds_no_violation_light_or_dark(seen: Seen) -> None:
    assert not seen.axe, report(seen.axe)


def test_the_keyboard_reaches_every_page_in_order_with_a_visible_focus(seen: Seen) -> None:
    """Tab from the top: the skip link first on the organisers' pages, then the page in its
    order, each stop with a visible focus (the first forty stops of each page)."""
    assert not seen.keyboard, report(seen.keyboard)
    assert min(seen.tab_stops.values()) >= 2 and max(seen.tab_stops.values()) == TAB_STOPS


def test_the_french_pages_say_only_their_translations_and_the_series_data(seen: Seen) -> None:
    assert not seen.foreign, report(seen.foreign)


def test_the_series_page_is_a_dashboard(swept: Swept) -> None:
    body = swept.client.get("/").body
    # the daemon's invitation to everyone (the partners' went from the Send page)
    assert re.search(
        r"Prochain envoi :</strong> Invitation, mar\. 6 avr\. 2021 13:00 CEST, 1\d pers", body
    )
    assert body.count('<svg class="chart"') == 4  # sends, bounces, unsubscriptions, sign-ups
    assert '<a class="brand" href="/">Solidarités' in body  # the series and its organiser
    assert '<span class="host">ICOM France</span></a>' in body and ">mailer<" not in body
    assert "E-mails envoyés, par semaine" in body and "5 en 12 semaines" in body
    numbers = body[body.index('id="numbers"') :]
    assert re.search(r'data-label="Atteints">5<', numbers)  # the partners' invitation


def test_the_send_page_says_which_email_and_what_the_daemon_still_sends(swept: Swept) -> None:
    own = swept.client.get(f"/sessions/{SESSION}/send?kind=reminder&segment=partners").body
    assert "C’est un e-mail en plus des e-mails automatiques" in own
    afterwards = own[own.index('id="afterwards"') :]
    assert "Rappel la veille" in afterwards and "Rappel une heure avant" in afterwards
    daemon = swept.client.get(f"/sessions/{SESSION}/send?kind=invitation").body
    assert "C’est l’un des e-mails automatiques" in daemon
    assert "Invitation" not in daemon[daemon.index('id="afterwards"') :]  # it is this one


def test_proofs_go_to_several_addresses_and_a_preview_shows_a_real_person(swept: Swept) -> None:
    client, before = swept.client, len(swept.server.received)
    page = client.get(f"/sessions/{SESSION}/preview?kind=reminder")
    bad = {"csrf": token(page), "kind": "reminder", "to": "ana@example.org, not-an-address"}
    refused = client.post(f"/sessions/{SESSION}/proof", bad)
    assert "Écrivez des adresses e-mail" in refused.body
    assert len(swept.server.received) == before  # nothing went
    good = {**bad, "to": "ana@example.org; ben@example.org"}
    sent = client.post(f"/sessions/{SESSION}/proof", good)
    assert sent.status == 200 and sent.body.count("<li>ana@example.org, ") == 3
    wait_until(lambda: len(swept.server.received) == before + 6, 30)
    got = sorted(r for m in swept.server.received[before:] for r in m.recipients)
    assert got == ["ana@example.org"] * 3 + ["ben@example.org"] * 3
    shown = client.get(f"/sessions/{SESSION}/preview?kind=invitation&as={swept.partner}").body
    assert shown.count('<section class="preview"') == 1 and 'id="preview-fr"' in shown
    assert "Tel que le reçoit cette personne des listes" in shown
    framed = client.get(f"/sessions/{SESSION}/preview/invitation/fr.html?as={swept.partner}")
    assert framed.status == 200
    nobody = client.get(f"/sessions/{SESSION}/preview?kind=invitation&as=nobody@example.org")
    assert "nobody@example.org n’est sur aucune liste." in nobody.body


def test_the_progress_page_follows_its_send_without_reloading(swept: Swept) -> None:
    reply = swept.client.get("/sends/1/progress.json")
    assert reply.status == 200
    assert json.loads(reply.body) == {
        "done": 5,
        "max": 5,
        "text": "5 envoyés, 0 en échec, 0 à réessayer, 0 ignorés, sur 5",
        "finished": True,
    }
    assert 'http-equiv="refresh"' not in swept.client.get("/sends/1").body


def test_a_paused_send_waits_for_everyone_and_resumes_without_sending_twice(
    swept: Swept,
) -> None:
    client, server = swept.client, swept.server
    before = len(server.received)
    plan = client.get(f"/sessions/{SESSION}/send?kind=reminder&segment=partners")
    expected = re.search(r'name="expected" value="(\d+)"', plan.body)
    assert expected and expected.group(1) == "5"
    server.add_fault(Fault("DATA", "slow", delay=1.2, times=2))  # time to press Pause
    form = {"kind": "reminder", "segment": "partners", "expected": "5", "confirm": "yes"}
    started = client.post(f"/sessions/{SESSION}/send", {**form, "csrf": token(plan)})
    progress = started.headers["Location"]
    page = client.get(progress)
    assert client.post(f"{progress}/pause", {"csrf": token(page)}).status == 303
    wait_until(lambda: json.loads(client.get(f"{progress}/progress.json").body)["finished"], 30)
    paused = client.get(progress).body
    sent_before_pause = len(server.received) - before
    assert sent_before_pause < 5
    assert "Mis en pause par marie@icom-france.example.org" in paused
    left = 5 - sent_before_pause
    assert f"Reprendre : envoyer les {left} e-mails restants" in paused
    # nobody sends it meanwhile: the Send page refuses it, saying why
    again = client.get(f"/sessions/{SESSION}/send?kind=reminder&segment=partners")
    refused = client.post(
        f"/sessions/{SESSION}/send", {**form, "expected": str(left), "csrf": token(again)}
    )
    assert refused.status == 409 and "cet envoi est en pause" in refused.body
    assert len(server.received) - before == sent_before_pause
    # the series page says so (a daemon restarted meanwhile would not know the progress page)
    series = client.get("/").body
    resume_here = re.search(r'<strong>En pause :</strong> Rappel[^·]+· <a href="([^"]+)"', series)
    assert resume_here, series
    there = client.get(html.unescape(resume_here.group(1))).body
    assert 'id="held"' in there and ">Reprendre</button>" in there
    resumed = client.post(f"{progress}/resume", {"csrf": token(page), "expected": str(left)})
    assert resumed.status == 303
    follow = resumed.headers["Location"]
    wait_until(lambda: json.loads(client.get(f"{follow}/progress.json").body)["finished"], 30)
    got = sorted(r for m in server.received[before:] for r in m.recipients)
    assert len(got) == 5 and len(set(got)) == 5  # every partner, once
    assert f'href="{follow}"' in client.get(progress).body  # the paused one leads to its sequel
    audit = client.get("/audit").body
    assert "mise en pause" in audit and "reprise" in audit
