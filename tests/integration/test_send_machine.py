"""A hypothesis state machine over plan / send / crash / restart: nobody missed, nobody twice
(but for messages in flight at a crash, whose twins carry the same Message-ID).

In process, with the real engine, ledger and state file. A crash is modelled at the edges,
like the faulty SMTP server: from the crash on, the transport delivers nothing more and the
ledger commits nothing more, which is what a `kill -9` does to a process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from mailer.calendar.revisions import Revision
from mailer.config.settings import SendingSettings, SmtpSettings
from mailer.errors import TemporaryFailure, UnknownFate
from mailer.model import Outgoing, Recipient
from mailer.sending.engine import Engine
from mailer.store.ledger import Claimed, Ledger, Outcome, SendKey
from mailer.store.sqlite import SqliteState
from mailer.store.state import State
from mailer.transport.base import Lane, Transport
from tests.support.emails import composer
from tests.support.project import soak_rounds

pytestmark = pytest.mark.soak
KEY = SendKey("icom-france-solidarites-musees", dt.date(2021, 4, 20), "invitation")
DEADLINE = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
BATCH = 4


class Crash(BaseException):
    """The process died."""


class World:
    """What survives a crash: the mailboxes, and the state file."""

    def __init__(self) -> None:
        self.inbox: list[Outgoing] = []
        self.crashed = False
        self.unknown_fates = 0


class CrashingLedger(Ledger):
    """Commits nothing once the process is dead."""

    def __init__(self, state: State, world: World) -> None:
        super().__init__(state)
        self.world = world

    def claim(
        self,
        key: SendKey,
        limit: int,
        now: dt.datetime,
        max_attempts: int,
        caps: Sequence[tuple[int, dt.timedelta]] = (),
    ) -> list[Claimed] | None:
        if self.world.crashed:
            raise Crash
        return super().claim(key, limit, now, max_attempts, caps)

    def record(self, outcomes: Sequence[Outcome], now: dt.datetime) -> int:
        if self.world.crashed:
            raise Crash
        return super().record(outcomes, now)


class FlakyTransport(Transport):
    """Delivers to the world's inbox; may refuse, lose the reply, or die after n messages."""

    name = "memory"

    def __init__(self, world: World, crash_after: int | None, flaky: list[str]) -> None:
        self.world = world
        self.crash_after = crash_after
        self.flaky = flaky  # "temporary" / "unknown" / "ok", consumed one per message

    @property
    def lanes(self) -> int:
        return 2

    async def open_lane(self) -> Lane:
        return _FlakyLane(self)


class _FlakyLane(Lane):
    def __init__(self, transport: FlakyTransport) -> None:
        self.transport = transport

    async def send(self, message: Outgoing) -> str:
        transport = self.transport
        await asyncio.sleep(0)
        if transport.world.crashed:
            raise Crash
        if transport.crash_after is not None:
            if transport.crash_after <= 0:
                transport.world.crashed = True
                raise Crash
            transport.crash_after -= 1
        behaviour = transport.flaky.pop(0) if transport.flaky else "ok"
        if behaviour == "temporary":
            raise TemporaryFailure("451 try later")
        transport.world.inbox.append(message)
        if behaviour == "unknown":
            transport.world.unknown_fates += 1
            raise UnknownFate("connection lost after the final dot")
        return "250 ok"

    async def close(self) -> None:
        return None


class SendMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = Path(tempfile.mkdtemp(prefix="mailer-machine-"))
        self.state = SqliteState(self.folder / "mailer.db")
        self.world = World()
        self.planned: set[str] = set()
        self.crashes = 0
        self.made = composer(revision=Revision(0, DEADLINE, "", ""))
        self.next_person = 0

    def teardown(self) -> None:
        self.state.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def _people(self, count: int) -> list[Recipient]:
        people = []
        for _ in range(count):
            address = f"p{self.next_person}@example.org"
            people.append(Recipient(email=address, key=address, language="en", ascii_email=address))
            self.next_person += 1
        return people

    @initialize(count=st.integers(1, 12))
    def plan_first(self, count: int) -> None:
        self.plan_more(count)

    @rule(count=st.integers(1, 6))
    def plan_more(self, count: int) -> None:
        """The list grows and the same send is planned again."""
        people = self._people(count)
        Ledger(self.state).plan(
            KEY,
            "invitation",
            segments=["everyone"],
            deadline=DEADLINE,
            recipients=people,
            now=dt.datetime.now(dt.UTC),
        )
        self.planned.update(p.key for p in people)

    @rule(
        crash_after=st.none() | st.integers(0, 10),
        flaky=st.lists(st.sampled_from(["ok", "temporary", "unknown"]), max_size=6),
    )
    def send(self, crash_after: int | None, flaky: list[str]) -> None:
        """A run of `mailer send`, which may die part of the way."""
        self.world.crashed = False
        engine = Engine(
            ledger=CrashingLedger(self.state, self.world),
            composer=self.made,
            transport=FlakyTransport(self.world, crash_after, flaky),
            sending=SendingSettings(
                max_attempts=50,
                retry_after=dt.timedelta(milliseconds=1),
                retry_limit=dt.timedelta(milliseconds=5),
                batch=BATCH,
            ),
            smtp=SmtpSettings(),
            key=KEY,
            deadline=DEADLINE,
            clock=lambda: dt.datetime.now(dt.UTC),
            suppressed=frozenset,
            on_bounce=lambda *_: None,
        )
        try:
            asyncio.run(engine.run())
        except Crash:
            self.crashes += 1
        except BaseExceptionGroup as group:  # pragma: no cover - depends on task timing
            if not group.subgroup(Crash):
                raise
            self.crashes += 1

    @precondition(lambda self: self.planned)
    @rule()
    def finish(self) -> None:
        """A run that is not interrupted sends everyone what they are due."""
        self.send(None, [])
        assert self.delivered() == self.planned

    def delivered(self) -> set[str]:
        return {message.recipient for message in self.world.inbox}

    @invariant()
    def nobody_gets_two_different_emails(self) -> None:
        ids: dict[str, set[str]] = {}
        for message in self.world.inbox:
            ids.setdefault(message.recipient, set()).add(message.message_id)
        assert all(len(found) == 1 for found in ids.values())

    @invariant()
    def the_ledger_never_says_sent_for_an_email_that_did_not_arrive(self) -> None:
        rows = self.state.connection.execute(
            "SELECT recipient FROM deliveries WHERE state = 'sent'"
        ).fetchall()
        assert {row[0] for row in rows} <= self.delivered()

    @invariant()
    def nobody_planned_is_lost(self) -> None:
        rows = self.state.connection.execute("SELECT recipient, state FROM deliveries")
        states = dict(rows.fetchall())
        assert set(states) == self.planned
        assert "failed" not in states.values()

    @invariant()
    def duplicates_only_from_what_was_in_flight(self) -> None:
        copies = Counter(message.recipient for message in self.world.inbox)
        duplicates = sum(n - 1 for n in copies.values())
        assert duplicates <= self.crashes * BATCH + self.world.unknown_fates


TestSendMachine = SendMachine.TestCase
TestSendMachine.settings = settings(
    max_examples=soak_rounds(25), stateful_step_count=12, deadline=None
)
