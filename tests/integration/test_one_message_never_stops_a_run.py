"""One odd address, one failing message, one bug: that delivery alone fails, and everyone else
is served (a real aiosmtpd, with and without SMTPUTF8, and faults injected at each step)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast

import pytest

from mailer.audience.addresses import parse_address
from mailer.messages.compose import Composer
from mailer.model import Outgoing, Recipient
from mailer.project.load import Project, load_project, load_templates
from mailer.sending.engine import Engine
from mailer.sending.plan import SendRequest, plan_send, record_plan
from mailer.sending.run import composer_for
from mailer.store.ledger import Ledger
from mailer.store.suppression import suppress, suppressed_keys
from mailer.transport.base import Lane, Transport
from mailer.transport.smtp import SmtpTransport
from tests.support.sending import add_people, deliveries, send, use_smtp
from tests.support.smtp_server import SmtpServer

Cli = Callable[..., tuple[int, str, str]]
KEY = b"one-message-test-signing-key-0123456789"
EVERYONE = 20
UTF8_ADDRESS = "andré.müller@exemple.fr"


@pytest.fixture(autouse=True)
def signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILER_UNSUBSCRIBE_KEY", KEY.decode())


@pytest.mark.parametrize("people", [2, 21])
def test_an_internationalised_address_goes_with_smtputf8_when_the_server_offers_it(
    run_cli: Cli, project_dir: Path, people: int
) -> None:
    with SmtpServer(smtputf8=True) as server:
        config = use_smtp(project_dir, server.port)
        _only_these(config, people - 1)
        code, out, err = send(run_cli, config)
        assert code == 0, err
        assert f"This run: {people} sent, 0 failed" in out
        (utf8,) = [m for m in server.received if m.recipients == [UTF8_ADDRESS]]
        assert "SMTPUTF8" in utf8.mail_options
        assert f"To: {UTF8_ADDRESS}".encode() in utf8.data or UTF8_ADDRESS.encode() in utf8.data
        assert len(server.received) == people


@pytest.mark.parametrize("people", [2, 21])
def test_without_smtputf8_that_delivery_alone_fails_and_status_says_why(
    run_cli: Cli, project_dir: Path, people: int
) -> None:
    with SmtpServer(smtputf8=False) as server:
        config = use_smtp(project_dir, server.port)
        _only_these(config, people - 1)
        code, out, err = send(run_cli, config)
        assert code == 0, err
        assert f"This run: {people - 1} sent, 1 failed" in out
        assert UTF8_ADDRESS not in {r for m in server.received for r in m.recipients}
        assert len(server.received) == people - 1
        row = deliveries(config)[UTF8_ADDRESS]
        assert (row["state"], row["cause"]) == ("failed", "relay")
        _, status, _ = run_cli("--config", str(config), "status")
        assert f"1 failed: {UTF8_ADDRESS} needs SMTPUTF8 (RFC 6531)" in status


def _only_these(config: Path, others: int) -> None:
    """The members list is `others` people plus the internationalised address."""
    members = config.parent / "recipients" / "members.csv"
    lines = members.read_text(encoding="utf-8").splitlines()
    members.write_text("\n".join(lines[:1]) + "\n", encoding="utf-8")
    add_people(
        config,
        f"{UTF8_ADDRESS},André Müller,fr\n"
        + "\n".join(f"person.{n}@example.org,Person {n},en" for n in range(others)),
    )
    text = config.read_text(encoding="utf-8")
    for name in ("partners", "speakers"):
        text = text.replace(f'[lists.{name}]\nfile = "recipients/{name}.csv"\n', "")
        text = text.replace(f'[segments.{name}]\nlists = ["{name}"]\n', "")
    text = text.replace('lists = ["members", "partners", "signups"]', 'lists = ["members"]')
    text = text.replace('tags_any = ["session-{date}"]\n', "")
    config.write_text(text, encoding="utf-8")


# -- a fault at each step, for one recipient chosen at random -------------------------------


class Injected(Exception):
    """The fault a test injects (not one of mailer's errors: a bug, as far as mailer knows)."""


STEPS = ("compose", "before sending", "after the data", "closing")


class FaultyLane(Lane):
    def __init__(self, inner: Lane, step: str, victim: str) -> None:
        self.inner, self.step, self.victim = inner, step, victim

    async def send(self, message: Outgoing) -> str:
        if self.step == "before sending" and message.recipient == self.victim:
            raise UnicodeEncodeError("ascii", "é", 0, 1, "injected")
        reply = await self.inner.send(message)
        if self.step == "after the data" and message.recipient == self.victim:
            raise Injected("after the server accepted it")
        return reply

    async def close(self) -> None:
        await self.inner.close()
        if self.step == "closing":
            raise Injected("while closing")


class FaultyTransport(Transport):
    name = "smtp"

    def __init__(self, inner: SmtpTransport, step: str, victim: str) -> None:
        self.inner, self.step, self.victim = inner, step, victim

    @property
    def lanes(self) -> int:
        return self.inner.lanes

    async def open_lane(self) -> Lane:
        return FaultyLane(await self.inner.open_lane(), self.step, self.victim)


@pytest.fixture
def planned(project_dir: Path) -> Iterator[tuple[Project, SmtpServer]]:
    with SmtpServer() as server:
        use_smtp(project_dir, server.port)
        yield load_project(project_dir / "config.toml"), server


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("seed", [1, 2])
def test_an_exception_at_any_step_fails_that_delivery_and_the_run_goes_on(
    planned: tuple[Project, SmtpServer], step: str, seed: int
) -> None:
    project, server = planned
    now = dt.datetime(2021, 4, 6, 9, tzinfo=dt.UTC)
    with project.store.open() as state:
        plan = plan_send(project, state, SendRequest(dt.date(2021, 4, 20), "invitation"), now)
        record_plan(state, plan, now)
        victim = random.Random(seed).choice(sorted(r.email for r in plan.audience(state)))
        composer = composer_for(project, load_templates(project), plan, now=now, signing_key=KEY)
        if step == "compose":
            composer = _failing_composer(composer, victim)
        smtp = project.config.delivery.smtp
        engine = Engine(
            ledger=Ledger(state),
            composer=composer,
            transport=FaultyTransport(SmtpTransport(smtp, None), step, victim),
            sending=project.config.delivery.sending,
            smtp=smtp,
            key=plan.key,
            deadline=plan.deadline,
            clock=lambda: now,
            suppressed=lambda: suppressed_keys(state),
            on_bounce=lambda message, reason: suppress(
                state, parse_address(message.recipient), "bounced", reason, now
            ),
        )
        result = asyncio.run(asyncio.wait_for(engine.run(), timeout=60))  # never hangs
    rows = deliveries(project.root / "config.toml")
    others = {address: row for address, row in rows.items() if address != victim}
    assert {row["state"] for row in others.values()} == {"sent"}
    got = server.recorder.by_recipient()
    assert all(got[address] == 1 for address in others)
    if step == "closing":  # after every message went: nobody is the worse for it
        assert rows[victim]["state"] == "sent" and result.tally.sent == EVERYONE
        return
    assert rows[victim]["state"] == "failed"
    assert rows[victim]["cause"] == ("content" if step == "compose" else "internal")
    assert (
        "injected" in rows[victim]["reason"]
        or "after the server accepted" in rows[victim]["reason"]
    )
    assert result.abort is None and result.tally.sent == EVERYONE - 1


def _failing_composer(composer: Composer, victim: str) -> Composer:
    """The real composer, except that composing the victim's email raises."""

    def compose(recipient: Recipient, *, message_id: str | None = None) -> Outgoing:
        if recipient.email == victim:
            raise Injected("injected while composing")
        return composer.compose(recipient, message_id=message_id)

    return cast(Composer, _Wrapped(composer, compose))


class _Wrapped:
    def __init__(self, inner: Composer, compose: Callable[[Recipient], Outgoing]) -> None:
        self._inner, self.compose = inner, compose

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)
