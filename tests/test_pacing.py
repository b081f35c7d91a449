"""Pacing (on a simulated clock) and the relay's hourly caps (in the ledger's claims)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from mailer.ledger import Ledger, Outcome, SendKey
from mailer.pacing import MINIMUM_RATE, PAUSE_SECONDS, Pacer
from mailer.recipients import Recipient
from mailer.state import State


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


def paced(pacer: Pacer, count: int) -> list[float]:
    times = []

    async def go() -> None:
        for _ in range(count):
            await pacer.wait()
            times.append(pacer.clock())

    asyncio.run(go())
    return times


def test_a_rate_spaces_messages_evenly() -> None:
    clock = Clock()
    pacer = Pacer(4.0, clock=clock, sleep=clock.sleep)
    times = paced(pacer, 9)
    assert [round(t, 3) for t in times] == [0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]


def test_no_rate_means_no_waiting() -> None:
    clock = Clock()
    assert paced(Pacer(0.0, clock=clock, sleep=clock.sleep), 50)[-1] == 0.0


def test_a_throttling_reply_halves_the_rate_pauses_and_recovery_is_slow() -> None:
    clock = Clock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)
    paced(pacer, 5)
    pacer.slow_down()
    assert pacer.current == 5.0 and pacer.slowed
    resumed = paced(pacer, 1)[0]
    assert resumed >= 0.4 + PAUSE_SECONDS - 0.01  # every lane paused a moment
    for _ in range(100):
        pacer.succeeded()
    assert pacer.current is not None and abs(pacer.current - 7.0) < 1e-9  # +0.02 a success
    for _ in range(1000):
        pacer.succeeded()
    assert pacer.current == 10.0 and not pacer.slowed  # never above the configured rate


def test_without_a_configured_rate_a_slow_down_starts_from_what_was_achieved() -> None:
    clock = Clock()
    pacer = Pacer(0.0, clock=clock, sleep=clock.sleep)
    for step in range(40):
        clock.now = step * 0.05  # 20 messages a second
        paced(pacer, 1)
    pacer.slow_down()
    assert pacer.current is not None and 9.0 <= pacer.current <= 11.0
    for _ in range(20):
        pacer.slow_down()
    assert pacer.current == MINIMUM_RATE


def test_hourly_caps_are_counted_across_every_send_in_the_claim(tmp_path: Path) -> None:
    now = dt.datetime(2021, 4, 6, 9, tzinfo=dt.UTC)
    with State(tmp_path / "state.db") as state:
        ledger = Ledger(state)
        keys = [SendKey("s", dt.date(2021, 4, 20), name) for name in ("invitation", "reminder")]
        for key in keys:
            people = [
                Recipient(
                    email=f"{key.message}{n}@example.org",
                    key=f"{key.message}{n}@example.org",
                    language="fr",
                )
                for n in range(10)
            ]
            ledger.plan(
                key,
                key.message,
                segments=["everyone"],
                deadline=now.replace(year=2030),
                recipients=people,
                now=now,
            )
        cap = [(6, dt.timedelta(hours=1))]
        first = ledger.claim(keys[0], 4, now, 5, cap)
        assert first is not None and len(first) == 4
        ledger.record([Outcome(item.id, "sent") for item in first], now)
        second = ledger.claim(keys[1], 10, now, 5, cap)
        assert second is not None and len(second) == 2  # 6 an hour, all sends together
        assert ledger.claim(keys[1], 10, now, 5, cap) is None  # reached: wait
        ledger.record([Outcome(item.id, "sent") for item in second], now)
        later = ledger.claim(keys[1], 10, now + dt.timedelta(minutes=61), 5, cap)
        assert later is not None and len(later) == 6  # the hour has passed
