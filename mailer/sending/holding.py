"""A run's hold on the ledger: one thread for every ledger call, a lost database waited for
(reconnecting), and the leases of the rows the run holds.

The rows a run takes are its own for `lease` seconds on the database's clock; a task renews
them while the run works. Here the run learns, for each row, until when it is surely still its
own (`ours`): a lease from its claim, or a lease from the last renewal that found every row
still held. A row whose lease may have run out (the renewals failed: the database is
unreachable, or the process was frozen) is not sent: others may have taken it. The database
lost for a while (StateUnavailable) is waited for, up to `DATABASE_PATIENCE`; then the error
stops the run (exit 75) and what it held is found again by whoever claims next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mailer.errors import StateUnavailable
from mailer.store.ledger import Ledger

log = logging.getLogger("mailer.sending")
DATABASE_PATIENCE = 180.0  # seconds of a lost database waited for, reconnecting
DATABASE_BACKOFF = (0.5, 1.0, 2.0, 5.0)
T = TypeVar("T")


class Holding:
    """The ledger as one run uses it (see the module's docstring). `on_wait` is told why the
    run waits (None: it no longer does)."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        sleep: Callable[[float], Awaitable[None]],
        on_wait: Callable[[str | None], None],
    ) -> None:
        self.ledger = ledger
        self.sleep = sleep
        self.on_wait = on_wait
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._claimed_until: dict[int, float] = {}
        self._renewed_until = 0.0
        self._margin = min(2.0, ledger.lease / 5)

    async def call(self, function: Callable[..., T], *arguments: Any) -> T:
        """Call the ledger in its thread; a lost database is waited for and reconnected to
        (every ledger call can be made again), up to DATABASE_PATIENCE."""
        waited = 0.0
        for attempt in range(1 << 30):
            try:
                result = await self._in_thread(function, *arguments)
            except StateUnavailable as error:
                if waited >= DATABASE_PATIENCE:
                    raise
                pause = DATABASE_BACKOFF[min(attempt, len(DATABASE_BACKOFF) - 1)]
                log.warning("the state waits (%s): trying again in %.1f s", error, pause)
                self.on_wait("the database is unreachable: waiting for it")
                await self.sleep(pause)
                waited += pause
                with contextlib.suppress(StateUnavailable):
                    await self._in_thread(self.ledger.state.reconnect)
                continue
            if waited:
                self.on_wait(None)
            return result
        raise AssertionError("unreachable")

    async def _in_thread(self, function: Callable[..., T], *arguments: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, function, *arguments
        )

    def close(self) -> None:
        self._executor.shutdown(wait=True)

    def now(self) -> float:
        """The moment a claim starts: its rows are ours for a lease from then."""
        return time.monotonic()

    def took(self, deliveries: Iterable[int], started: float) -> None:
        for delivery in deliveries:
            self._claimed_until[delivery] = started + self.ledger.lease - self._margin

    def done(self, deliveries: Iterable[int]) -> None:
        for delivery in deliveries:
            self._claimed_until.pop(delivery, None)

    def ours(self, delivery: int) -> bool:
        """Whether the row is surely still this run's (its lease has not run out)."""
        until = max(self._claimed_until.get(delivery, 0.0), self._renewed_until)
        return time.monotonic() < until

    async def renew_periodically(self, unrecorded: Callable[[], int]) -> None:
        """Renew the lease of the rows this run holds, a few times per lease. A renewal that
        finds fewer rows than the run holds means some lease ran out (the process was frozen,
        the database away): then only rows claimed less than a lease ago are sent."""
        while True:
            await asyncio.sleep(self.ledger.lease / 4)
            if unrecorded() <= 0:
                continue
            started = time.monotonic()
            try:
                held = await self._in_thread(self.ledger.renew)
            except StateUnavailable as error:
                log.warning("cannot renew the lease of the rows being sent: %s", error)
                with contextlib.suppress(StateUnavailable):
                    await self._in_thread(self.ledger.state.reconnect)
                continue
            if held < unrecorded():
                log.warning(
                    "%d of the rows this run took are no longer its own (their lease ran "
                    "out): they are not sent by this run",
                    unrecorded() - held,
                )
                self._renewed_until = 0.0
            else:
                self._renewed_until = started + self.ledger.lease - self._margin
