"""Pacing (on a simulated clock): a configured rate, slowing down when the relay asks, and
recovering; a throttled message does not hold back the others."""

from __future__ import annotations

import asyncio
import random

from mailer.sending.pacing import DECREASE, HOLD, MINIMUM_RATE, PAUSE_SECONDS, Pacer


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


def test_a_421_slows_every_lane_once_per_burst_and_the_rate_grows_back() -> None:
    clock = Clock()
    pacer = Pacer(10.0, clock=clock, sleep=clock.sleep)
    paced(pacer, 5)
    assert pacer.slow_down()
    assert pacer.current == 10.0 * DECREASE and pacer.slowed
    assert not pacer.slow_down() and pacer.current == 10.0 * DECREASE  # the same burst
    resumed = paced(pacer, 1)[0]
    assert resumed >= 0.4 + PAUSE_SECONDS - 0.01  # every lane paused a moment
    for _ in range(50):
        pacer.succeeded()
    assert pacer.current == 10.0 and not pacer.slowed  # back, never above the configured rate


def test_one_throttled_recipient_in_twenty_slows_nothing() -> None:
    """5% of messages get "451 4.7.1" (about those recipients): the send keeps its pace;
    before, each one halved the rate and paused every lane, and 300 messages took minutes."""
    clock = Clock()
    pacer = Pacer(0.0, clock=clock, sleep=clock.sleep)
    draw = random.Random(7)
    for _ in range(300):
        paced(pacer, 1)
        clock.now += 0.01  # 100 a second
        if draw.random() < 0.05:
            assert not pacer.throttled()
        else:
            pacer.succeeded()
    assert pacer.current is None and clock.now < 3.1  # never slowed, never paused


def test_frequent_throttling_slows_down_and_recovers_without_flooring() -> None:
    clock = Clock()
    pacer = Pacer(0.0, clock=clock, sleep=clock.sleep)
    for _ in range(40):
        paced(pacer, 1)
        clock.now += 0.05  # 20 a second
        pacer.succeeded()
    slowed = [pacer.throttled() for _ in range(12)]  # a burst: every lane told at once
    assert slowed.count(True) == 1 and pacer.current is not None
    assert 20 * DECREASE * 0.9 <= pacer.current <= 20 * DECREASE * 1.1
    for _ in range(100):  # a relay throttling a third of everything, for a while
        clock.now += HOLD / 4
        if pacer.throttled() is False:
            pacer.succeeded()
            pacer.succeeded()
    assert pacer.current is not None and pacer.current >= MINIMUM_RATE
    for _ in range(200):  # the relay is fine again: the limit goes
        paced(pacer, 1)
        pacer.succeeded()
    assert pacer.current is None
