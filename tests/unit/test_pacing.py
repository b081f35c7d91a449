"""Pacing (on a simulated clock) and the relay's hourly caps (in the ledger's claims)."""

from __future__ import annotations

import asyncio

from mailer.sending.pacing import MINIMUM_RATE, PAUSE_SECONDS, Pacer


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
