"""How fast a send goes: a configured rate, slowed down when the server asks, recovering slowly.

A token bucket spaces messages at `rate` per second (0: as fast as the lanes go). A 421 or a
4.7.x reply (relays saying "too many, too fast") halves the rate (or, with no configured rate,
sets it to half of what was being achieved) and pauses every lane briefly; each success then
adds back a little (AIMD, as TCP does), never above the configured rate.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

PAUSE_SECONDS = 5.0
MINIMUM_RATE = 0.2  # one message every five seconds
RECOVERY_PER_SUCCESS = 0.02  # messages per second added back after each success


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
        self._recent: list[float] = []  # send times, to measure the achieved rate

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

    def slow_down(self) -> None:
        """The server asked for less: halve the rate and pause every lane a moment."""
        base = self.current if self.current is not None else max(self.achieved_rate(), 1.0)
        self.current = max(MINIMUM_RATE, base / 2)
        self._paused_until = self.clock() + PAUSE_SECONDS

    def succeeded(self) -> None:
        """A message went through: creep back towards the configured rate."""
        if self.current is None:
            return
        if self.configured is None:
            self.current += RECOVERY_PER_SUCCESS
            if self.current > 10_000:
                self.current = None  # fully recovered: no limit again
        else:
            self.current = min(self.configured, self.current + RECOVERY_PER_SUCCESS)
