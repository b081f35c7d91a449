"""The clock every command and the daemon read: the real one, or a rehearsal's.

A rehearsal (`mailer --now ...`) starts at a given instant and goes on ticking, so that retries
and deadlines behave in it as they would for real.
"""

from __future__ import annotations

import datetime as dt
import time


class Clock:
    """The current instant, time-zone aware: real, or simulated from `start` on."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.start = start
        self._started = time.monotonic()

    @property
    def simulated(self) -> bool:
        return self.start is not None

    def __call__(self) -> dt.datetime:
        if self.start is None:
            return dt.datetime.now(dt.UTC)
        return self.start + dt.timedelta(seconds=time.monotonic() - self._started)
