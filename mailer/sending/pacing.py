"""How fast a send goes: a configured rate, slowed down when the relay asks, recovering.

A token bucket spaces messages at `rate` per second (0: as fast as the lanes go). The relay
asks for less in two ways, weighed differently:

- a 421 (or a throttling reply to MAIL FROM: the connection or the session, not one
  recipient) slows every lane at once: the rate drops to `DECREASE` of what it was (of what
  was achieved, with no configured rate) and every lane pauses `PAUSE_SECONDS`;
- a 4.7.x reply to one recipient (Gmail's "4.7.1 try again later" is often about that
  recipient) is that message's retry, and slows the send only when such replies are a
  `SHARE` of the last `WINDOW` messages: one throttled message never holds back the others.

Signals that come together (every lane hit by one burst) count once: after a decrease,
another changes nothing for `HOLD` seconds. Each success then adds back a little, in proportion
to the rate (AIMD, as TCP does), up to the configured rate; with none configured, the limit
goes once the rate is back above what was achieved.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

PAUSE_SECONDS = 2.0
MINIMUM_RATE = 0.2  # one message every five seconds
DECREASE = 0.7  # of the rate, at each decrease
HOLD = 2.0  # seconds after a decrease during which another signal changes nothing
WINDOW = 50  # the last messages weighed ...
SHARE = 0.2  # ... and the share of them throttled that slows the send
RECOVERY = 0.02  # of the rate added back after each success (at least RECOVERY_FLOOR)
RECOVERY_FLOOR = 0.05  # messages per second


class Pacer:
    """Spaces out messages; shared by the lanes of one process."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.configured = rate if rate > 0 else None
        self.current = self.configured
        self.clock = clock
        self.sleep = sleep
        self._next = clock()
        self._paused_until = 0.0
        self._decreased_at: float | None = None
        self._peak = 0.0  # the rate achieved when the first decrease came (no configured rate)
        self._recent: list[float] = []  # send times, to measure the achieved rate
        self._outcomes: deque[bool] = deque(maxlen=WINDOW)  # True: throttled
        # told of each decrease (the engine slows every sender of the relay with it)
        self.on_decrease: Callable[[], None] = lambda: None

    @property
    def slowed(self) -> bool:
        return self.current is not None and (
            self.configured is None or self.current < self.configured
        )

    def achieved_rate(self) -> float:
        """Messages per second over the last few seconds."""
        now = self.clock()
        self._recent = [t for t in self._recent if now - t < 10.0]
        if len(self._recent) < 2:
            return 0.0
        return len(self._recent) / max(now - self._recent[0], 0.001)

    async def wait(self) -> None:
        """Wait for the next message's turn."""
        now = self.clock()
        start = max(now, self._next, self._paused_until)
        if start > now:
            await self.sleep(start - now)
        if self.current is not None:
            self._next = max(start, self._next) + 1.0 / self.current
        self._recent.append(self.clock())

    def slow_down(self) -> bool:
        """The relay asked every connection for less (421): slow down, and pause every lane
        a moment. False when a decrease came just before (the same burst)."""
        if not self._decrease():
            return False
        self._paused_until = self.clock() + PAUSE_SECONDS
        return True

    def throttled(self) -> bool:
        """One message was refused for now with a throttling reply (4.7.x): it is retried;
        the send slows only when such replies are frequent. True when it slowed."""
        self._outcomes.append(True)
        throttled = sum(self._outcomes)
        if throttled < 5 or throttled < SHARE * len(self._outcomes):
            return False
        return self._decrease()

    def _decrease(self) -> bool:
        now = self.clock()
        if self._decreased_at is not None and now - self._decreased_at < HOLD:
            return False
        self._decreased_at = now
        if self.current is None:
            self._peak = max(self.achieved_rate(), 1.0)
            base = self._peak
        else:
            base = self.current
        self.current = max(MINIMUM_RATE, base * DECREASE)
        self.on_decrease()
        return True

    def succeeded(self) -> None:
        """A message went through: creep back towards the configured rate (or, with none,
        back above what was achieved, and then no limit)."""
        self._outcomes.append(False)
        if self.current is None:
            return
        self.current += max(RECOVERY_FLOOR, self.current * RECOVERY)
        if self.configured is not None:
            self.current = min(self.configured, self.current)
        elif self.current > 2 * self._peak:
            self.current = None  # fully recovered: no limit again


class RelayWatch:
    """Which of a run's connections cannot reach the relay now, and since when every one of
    them has been down: `down` says when the run has waited `patience` seconds for it."""

    def __init__(self, patience: float) -> None:
        self.patience = patience
        self.lanes = 1
        self._down: set[int] = set()
        self._since: float | None = None

    def down(self, lane: int) -> bool:
        """A connection cannot reach the relay; whether every one has been down long enough."""
        self._down.add(lane)
        now = time.monotonic()
        if self._since is None:
            self._since = now
        return len(self._down) >= self.lanes and now - self._since >= self.patience

    def up(self, lane: int) -> None:
        self._down.discard(lane)
        if not self._down:
            self._since = None
