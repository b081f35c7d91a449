"""A month of one session with the daemon on a rehearsal clock: the invitation, answers through
its links (real HTTP), a nudge to those who did not answer, reminders that skip who said no,
the session, the follow-up that waits for its recording link and then thanks who came and
catches up who did not (from Zoom's participants report), each email once per person, in
their language, across a daemon stopped without warning in the middle."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email
import email.policy
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from mailer.model import Outgoing
from mailer.project.workspace import Workspace
from mailer.transport.base import Lane, Transport
from mailer.transport.memory import MemoryTransport
from mailer.web.public import make_app
from tests.integration.test_daemon_core import Simulation
from tests.support.daemon import ledger_ids
from tests.support.project import edit, write

UTC = dt.UTC
ON_BOTH_STORES = True
KEY = "simulation-key-0123456789"
NUDGE_AND_FOLLOWUP = """
[segments.silent]
lists = ["members", "partners", "speakers"]
answers = ["none"]

[[cadence]]
kind = "reminder"
before = "P3D"
segments = ["silent"]

[daemon]"""
ZOOM_REPORT = """\
Meeting ID,Topic,Start Time,End Time,User Email,Duration (Minutes),Participants
857 2055 9693,Solidarités,04/20/2021 12:55:03 PM,04/20/2021 02:33:10 PM,ops@example.org,98,4

Name (Original Name),User Email,Join Time,Leave Time,Duration (Minutes),Guest
Luc Martin,LUC.MARTIN@example.org,04/20/2021 12:58:00 PM,04/20/2021 01:40:00 PM,42,No
Aino V.,aino.virtanen@example.org,04/20/2021 01:01:00 PM,04/20/2021 02:30:00 PM,89,Yes
Luc Martin,luc.martin@example.org,04/20/2021 01:45:00 PM,04/20/2021 02:30:00 PM,45,No
Someone Else,someone.else@example.net,04/20/2021 01:05:00 PM,04/20/2021 02:00:00 PM,55,Yes
+33 1 23 45 67 89,,04/20/2021 01:10:00 PM,04/20/2021 02:00:00 PM,50,Yes
"""


def answer_links(sim: Simulation) -> dict[str, str]:
    """Each invited person's answer link (its path), from the invitation's text part."""
    links: dict[str, str] = {}
    for message in sim.outbox.sent:
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        text = parsed.get_body(("plain",))
        assert text is not None
        found = re.search(r"https://[^/\s]+(/answer/[\w.-]+)\?a=yes", text.get_content())
        if found:
            links.setdefault(message.recipient, found.group(1))
    return links


def answer(project_dir: Path, now: dt.datetime, choices: dict[str, str]) -> None:
    """Post each answer to the daemon's public side (as each person's click on "Confirm")."""
    space = Workspace(
        project_dir / "config.toml", clock=lambda: now, environ={"MAILER_UNSUBSCRIBE_KEY": KEY}
    )

    async def main() -> None:
        runner = web.AppRunner(make_app(lambda: space, lambda: {"status": "ok"}))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        base = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            async with aiohttp.ClientSession() as client:
                for path, said in choices.items():
                    async with client.post(base + path, data={"a": said}) as response:
                        assert response.status == 200, await response.text()
        finally:
            await runner.cleanup()

    asyncio.run(main())


def sent(sim: Simulation) -> list[tuple[str, str, str, str, str, str]]:
    """(kind, recipient, language, subject, text, Message-ID) of each email sent."""
    found = []
    for message in sim.outbox.sent:
        parsed = email.message_from_bytes(message.data, policy=email.policy.default)
        text = parsed.get_body(("plain",))
        language = str(parsed.get("Content-Language", ""))
        subject = str(parsed["Subject"])
        body = text.get_content() if text is not None else ""
        kind = "notice" if message.message_id.startswith("<notice.") else ""
        found.append((kind, message.recipient, language, subject, body, message.message_id))
    return found


class Crashing(Transport):
    """A transport that dies after `left` messages: the daemon's process is gone (what was
    accepted but not yet recorded is of unknown fate: sent again, with its Message-ID)."""

    name = "memory"

    def __init__(self, into: MemoryTransport, left: int) -> None:
        self.into, self.left = into, left

    async def open_lane(self) -> Lane:
        crashing = self

        class Dying(Lane):
            async def send(self, message: Outgoing) -> str:
                if crashing.left <= 0:
                    raise KeyboardInterrupt  # as a SIGKILL: no clean-up, nothing recorded
                crashing.left -= 1
                crashing.into.sent.append(message)
                return "250 kept in memory"

            async def close(self) -> None:
                return None

        return Dying()


def test_a_month_of_answers_reminders_by_answer_and_a_follow_up_by_attendance(
    project_dir: Path,
    store_kind: str,
    run_cli: Callable[..., tuple[int, str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY)
    config = project_dir / "config.toml"
    edit(config, "[daemon]", NUDGE_AND_FOLLOWUP)
    postgres = store_kind == "postgres"
    if postgres:  # a killed daemon's rows come back when their lease runs out
        edit(config, "[state]\n", '[state]\nlease = "PT2S"\n')
    sim = Simulation(project_dir, dt.datetime(2021, 4, 1, tzinfo=UTC))
    sim.run_until(dt.datetime(2021, 4, 7, tzinfo=UTC))  # the invitation went on 04-06
    links = answer_links(sim)
    assert len(links) == 20  # every person of the lists (Marie, on two, once)
    said = {
        "marie.dubois@example.org": "no",
        "luc.martin@example.org": "yes",
        "noa.levi@example.org": "maybe",
        "aino.virtanen@example.org": "yes",
    }
    answer(project_dir, dt.datetime(2021, 4, 8, tzinfo=UTC), {links[a]: s for a, s in said.items()})
    invitations = len(sim.outbox.sent)
    code, out, err = run_cli(
        "--config", str(config), "--now", "2021-04-08T12:00:00Z", "plan", "--days", "14"
    )
    assert code == 0, err
    assert "2021-04-20 reminder:P1D: left out: 1 answered no" in out, out
    assert "reminder:P3D: left out: 1 answered maybe, 1 answered no, 2 answered yes" in out
    sim.run_until(dt.datetime(2021, 4, 18, tzinfo=UTC))
    nudged = {e[1] for e in sent(sim)[invitations:]}
    assert nudged == set(links) - set(said)  # only those who did not answer
    sim.run_until(dt.datetime(2021, 4, 20, 16, tzinfo=UTC))  # both reminders, the session
    reminded = Counter(e[1] for e in sent(sim)[invitations + len(nudged) :])
    assert "marie.dubois@example.org" not in reminded  # she said no
    # the follow-up is due (15:30 UTC) but waits for its recording link; the organiser is told
    notices = [e[3] for e in sent(sim) if e[0] == "notice"]
    assert notices == ["[mailer] L’envoi « message de suivi » du 2021-04-20 est bloqué"]
    code, out, err = run_cli(
        "--config", str(config), "--now", "2021-04-20T16:00:00Z", "plan", "--days", "1"
    )
    assert "no recording link yet" in out, out
    report = write(project_dir / "participants.csv", ZOOM_REPORT)
    code, out, err = run_cli(
        "--config", str(config), "--now", "2021-04-20T16:00:00Z",
        "attendance", "import", str(report), "--session", "2021-04-20",
    )  # fmt: skip
    assert code == 0, err
    assert "2 people on the lists came" in out and "someone.else@example.net" in out
    assert "+33 1 23 45 67 89" in out
    # the recording arrives: the follow-up goes, and the daemon dies in the middle of it
    edit(
        project_dir / "sessions" / "2021-04-20.toml",
        "[title]",
        'recording = "https://example.org/recording"\n[title]',
    )
    before = len(sim.outbox.sent)
    crashing = Crashing(sim.outbox, left=5)
    sim.transport = lambda _: lambda: crashing  # type: ignore[method-assign]
    sim.restart()
    with contextlib.suppress(KeyboardInterrupt):
        sim.run_until(dt.datetime(2021, 4, 20, 22, tzinfo=UTC))
    assert len(sim.outbox.sent) == before + 5
    del sim.transport  # the usual transport again, and a new daemon
    if postgres:
        time.sleep(2.5)  # on the database's clock
    sim.restart()
    sim.run_until(dt.datetime(2021, 4, 22, tzinfo=UTC))
    followups = [e for e in sent(sim)[before:] if e[0] != "notice"]
    by_person = Counter(r for r, _ in {(e[1], e[5]) for e in followups})  # by Message-ID
    assert set(by_person) == set(links) and set(by_person.values()) == {1}
    texts = {e[1]: (e[2], e[4]) for e in followups}
    assert "Merci d’avoir participé" in texts["luc.martin@example.org"][1]
    assert "Thank you for taking part" in texts["aino.virtanen@example.org"][1]
    assert "We missed you" in texts["noa.levi@example.org"][1]
    assert "Vous nous avez manqué" in texts["marie.dubois@example.org"][1]
    assert all("https://example.org/recording" in body for _, body in texts.values())
    assert texts["carmen.garcia@example.org"][0] == "es"
    # every email of the month once per person (by Message-ID), in their language
    kinds = ledger_ids(config)
    once = {(m.recipient, kinds[m.message_id]) for m in sim.outbox.sent if m.message_id in kinds}
    emails = Counter(
        kinds[m.message_id]
        for m in {m.message_id: m for m in sim.outbox.sent}.values()
        if m.message_id in kinds
    )
    assert emails == {
        "invitation": 20,
        "reminder:P3D": 16,
        "reminder:P1D": 19,
        "reminder:PT1H": 19,
        "followup:PT3H": 20,
    }
    assert len(once) == sum(emails.values())
    code, out, _ = run_cli("--config", str(config), "answers", "2021-04-20")
    assert out.startswith("Session of 2021-04-20: 2 yes, 1 maybe, 1 no, 16 no answer."), out


def test_a_full_session_writes_to_its_waiting_list_and_to_whoever_gets_a_place(
    project_dir: Path,
) -> None:
    edit(project_dir / "sessions" / "2021-04-20.toml", "[title]", "capacity = 2\n[title]")
    sim = Simulation(project_dir, dt.datetime(2021, 4, 6, 10, tzinfo=UTC))
    sim.run_until(dt.datetime(2021, 4, 7, tzinfo=UTC))
    links = answer_links(sim)
    first = ["luc.martin@example.org", "noa.levi@example.org"]
    waiting = ["carmen.garcia@example.org", "aino.virtanen@example.org"]
    for minute, address in enumerate((*first, *waiting)):  # the waiting list's order
        when = dt.datetime(2021, 4, 8, 9, minute, tzinfo=UTC)
        answer(project_dir, when, {links[address]: "yes"})
    before = len(sim.outbox.sent)
    sim.run_until(dt.datetime(2021, 4, 9, tzinfo=UTC))
    told = sent(sim)[before:]
    assert sorted(e[1] for e in told) == sorted(waiting)
    spanish = next(e for e in told if e[1] == "carmen.garcia@example.org")
    assert "lista de espera" in spanish[3] and spanish[2] == "es"
    # Luc cannot come after all: the first who waited gets his place, and an email saying so
    answer(project_dir, dt.datetime(2021, 4, 10, tzinfo=UTC), {links[first[0]]: "no"})
    before = len(sim.outbox.sent)
    sim.run_until(dt.datetime(2021, 4, 12, tzinfo=UTC))
    (place,) = sent(sim)[before:]
    assert place[1] == "carmen.garcia@example.org" and "una plaza para usted" in place[3]
    assert "https://us02web.zoom.us/j/85720559693" in place[4]  # the join details
    sim.run_until(dt.datetime(2021, 4, 14, tzinfo=UTC))
    assert len(sim.outbox.sent) == before + 1  # each once
