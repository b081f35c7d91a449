"""The sending engine: claim from the ledger, compose, send through lanes, record.

One asyncio loop: a feeder claims batches of due deliveries (committed as `sending` before any
of them goes out), composes each email and queues it; one task per lane sends; a recorder
commits outcomes in groups (a commit per message would cost an fsync per message). Ledger calls
run in one dedicated thread, so an fsync never stalls the lanes.

What each outcome means:
  accepted                    -> sent
  4xx, connection lost before -> retry after retry_after x 2^(attempt-1) (+-20%), up to
  the data                       retry_limit; failed after max_attempts
  fate unknown (lost during   -> unknown: sent again, with the same Message-ID
  or after the data)
  5xx for the recipient       -> failed; 5.1.x (no such mailbox/domain) also suppresses the
                                 address (a hard bounce)
  refused sender, TLS, login  -> the run stops; the deliveries stay to send
  the same 5xx for the first  -> the run stops: the relay refuses everyone (a configuration
  BREAKER recipients in a row    problem, not theirs); they stay to send
  the deadline passed         -> skipped ("too late"), and nothing more is sent
Stopping (Ctrl-C, SIGTERM) takes no new work, lets the messages being sent finish, and puts
the ones still queued back.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import time
from collections.abc import Awaitable, Callable, Container
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mailer.config.settings import SendingSettings, SmtpSettings
from mailer.errors import (
    PermanentFailure,
    SetupFailure,
    TemporaryFailure,
    TransportError,
    UnknownFate,
)
from mailer.messages.compose import Composer
from mailer.model import Outgoing
from mailer.sending.pacing import Pacer
from mailer.store.ledger import Claimed, Ledger, Outcome, SendKey
from mailer.transport.base import Lane, Transport

BREAKER = 20
FLUSH_EVERY = 0.2  # seconds between group commits
TOO_LATE = "too late: the deadline of this send passed"
T = TypeVar("T")


@dataclass
class Tally:
    """What this run did (the ledger has the totals)."""

    sent: int = 0
    failed: int = 0
    retrying: int = 0
    unknown: int = 0
    skipped: int = 0
    started: float = field(default_factory=time.monotonic)
    waiting: str | None = None  # why the run is idle, if it is

    @property
    def done(self) -> int:
        return self.sent + self.failed + self.skipped

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def rate(self) -> float:
        elapsed = self.elapsed()
        return self.sent / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True)
class RunResult:
    tally: Tally
    stopped: bool
    abort: TransportError | None


def backoff(attempts: int, settings: SendingSettings, jitter: float) -> dt.timedelta:
    """The wait before attempt `attempts + 1`: doubling from retry_after, capped, +-20%."""
    delay: dt.timedelta = settings.retry_after * (2 ** max(attempts - 1, 0))
    capped: dt.timedelta = min(delay, settings.retry_limit)
    return capped * (0.8 + 0.4 * jitter)


class Engine:
    """Sends one email (a SendKey) to its deliveries in the ledger."""

    def __init__(
        self,
        *,
        ledger: Ledger,
        composer: Composer,
        transport: Transport,
        sending: SendingSettings,
        smtp: SmtpSettings,
        key: SendKey,
        deadline: dt.datetime,
        clock: Callable[[], dt.datetime],
        suppressed: Callable[[], Container[str]],
        on_bounce: Callable[[Outgoing, str], object],
        on_progress: Callable[[Tally], None] = lambda _: None,
        limit: int | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        recover: bool = True,
    ) -> None:
        self.ledger = ledger
        self.composer = composer
        self.transport = transport
        self.sending = sending
        self.smtp = smtp
        self.key = key
        self.deadline = deadline
        self.clock = clock
        self.suppressed = suppressed
        self.on_bounce = on_bounce
        self.on_progress = on_progress
        self.limit = limit
        self.sleep = sleep
        self.recover = recover  # False in worker processes: the parent recovered, once
        self.pacer = Pacer(smtp.rate if transport.name == "smtp" else 0.0)
        self.tally = Tally()
        self._stop = asyncio.Event()
        self._abort: TransportError | None = None
        self._outcomes: list[Outcome] = []
        self._doubtful: list[tuple[Outcome, Outgoing, str]] = []  # 5xx not yet believed
        self._bounces: list[tuple[Outgoing, str]] = []  # hard bounces to suppress
        self._confirmed = False  # some message went through: 5xx are the recipients' own
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._in_flight = 0  # queued or being sent
        self._unrecorded = 0  # claimed, and the outcome not committed yet
        self._breaker = min(BREAKER, sending.batch)
        caps = ((smtp.per_hour, dt.timedelta(hours=1)), (smtp.per_day, dt.timedelta(days=1)))
        self._caps = [
            (cap, window) for cap, window in caps if cap is not None and transport.name == "smtp"
        ]
        self._landed = asyncio.Event()  # a message in flight got its outcome
        self._random = random.Random()

    def stop(self) -> None:
        """Take no new work; finish what is being sent; put back what is queued."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def _db(self, function: Callable[..., T], *arguments: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, function, *arguments
        )

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Send until nothing is due (or only retries later than wait_for_retries)."""
        if self.recover:
            await self._db(self.ledger.recover, self.key, self.clock())
        lanes = [await self.transport.open_lane() for _ in range(self.transport.lanes)]
        queue: asyncio.Queue[tuple[Claimed, Outgoing] | None] = asyncio.Queue(
            maxsize=len(lanes) * 4
        )
        recorder = asyncio.create_task(self._record_periodically())
        try:
            await asyncio.gather(
                self._feed(queue, len(lanes)), *(self._drive(lane, queue) for lane in lanes)
            )
        finally:
            await asyncio.gather(*(lane.close() for lane in lanes), return_exceptions=True)
            recorder.cancel()
            self._settle_doubtful(final=True)
            await self._flush()
            self._executor.shutdown(wait=True)
        self.on_progress(self.tally)
        return RunResult(self.tally, self._stop.is_set() and self._abort is None, self._abort)

    async def _feed(
        self, queue: asyncio.Queue[tuple[Claimed, Outgoing] | None], lanes: int
    ) -> None:
        claimed_total = 0
        try:
            while not self._stop.is_set():
                now = self.clock()
                if now >= self.deadline:
                    self.tally.skipped += await self._db(
                        self.ledger.skip_remaining, self.key, TOO_LATE, now
                    )
                    break
                if not await self._keep_window():
                    break
                wanted = self.sending.batch - self._unrecorded
                if self.limit is not None:
                    wanted = min(wanted, self.limit - claimed_total)
                    if wanted <= 0:
                        break
                claimed = await self._db(
                    self.ledger.claim,
                    self.key,
                    wanted,
                    now,
                    self.sending.max_attempts,
                    self._caps,
                )
                if claimed is None:
                    if not await self._wait_for_cap(now):
                        break
                    continue
                if not claimed:
                    if not await self._wait_for_retries(now):
                        break
                    continue
                claimed_total += len(claimed)
                self._unrecorded += len(claimed)
                blocked = await self._db(self.suppressed)
                for item in claimed:
                    if self._stop.is_set():
                        self._outcomes.append(Outcome(item.id, "pending"))
                        continue
                    if item.recipient.key in blocked:
                        self._outcomes.append(
                            Outcome(item.id, "skipped", reason="address suppressed")
                        )
                        self.tally.skipped += 1
                        continue
                    message = self.composer.compose(item.recipient)
                    await self.pacer.wait()
                    self._in_flight += 1
                    await queue.put((item, message))
        finally:
            for _ in range(lanes):
                await queue.put(None)

    async def _keep_window(self) -> bool:
        """Hold back until fewer than `batch` deliveries are claimed and not yet recorded.

        This is what bounds the duplicates a crash can cause: only those deliveries can be
        found `sending` by the next run. False if the run is stopping.
        """
        while self._unrecorded >= self.sending.batch and not self._stop.is_set():
            if self._outcomes:
                await self._flush()
            elif self._in_flight:
                await self._next_landing()
            else:
                break  # only refusals held back (fewer than the breaker, itself <= batch)
        return not self._stop.is_set()

    async def _wait_for_cap(self, now: dt.datetime) -> bool:
        self.tally.waiting = "the relay's hourly or daily cap is reached"
        self.on_progress(self.tally)
        return await self._pause(min(60.0, (self.deadline - now).total_seconds()))

    async def _wait_for_retries(self, now: dt.datetime) -> bool:
        """Wait for the next retry if it is due soon enough; False when the run should end.

        While messages are still being sent, their outcome may call for a retry: wait for them
        first.
        """
        if self._in_flight:
            return await self._next_landing()
        await self._flush()
        upcoming = await self._db(self.ledger.next_retry, self.key, self.sending.max_attempts)
        if upcoming is None or upcoming >= self.deadline:
            return False
        if upcoming - now > self.sending.wait_for_retries:
            return False
        self.tally.waiting = f"retrying at {upcoming.astimezone():%H:%M:%S}"
        self.on_progress(self.tally)
        return await self._pause(max((upcoming - now).total_seconds(), 0.05))

    async def _pause(self, seconds: float) -> bool:
        """Sleep, unless asked to stop; True if the run goes on."""
        going_on = await self._unless_stopped(self.sleep(seconds))
        self.tally.waiting = None
        return going_on

    async def _next_landing(self) -> bool:
        """Wait until a message in flight lands, unless asked to stop; True if the run goes on."""
        self._landed.clear()
        return await self._unless_stopped(self._landed.wait())

    async def _unless_stopped(self, awaited: Awaitable[object]) -> bool:
        """Wait for `awaited` or a stop, whichever comes first, leaving no task behind."""
        waiting = asyncio.ensure_future(awaited)
        stopper = asyncio.ensure_future(self._stop.wait())
        await asyncio.wait({waiting, stopper}, return_when=asyncio.FIRST_COMPLETED)
        waiting.cancel()
        stopper.cancel()
        return not self._stop.is_set()

    # -- one lane ------------------------------------------------------------------------------

    async def _drive(
        self, lane: Lane, queue: asyncio.Queue[tuple[Claimed, Outgoing] | None]
    ) -> None:
        while (job := await queue.get()) is not None:
            item, message = job
            try:
                await self._send_one(lane, item, message)
            finally:
                self._in_flight -= 1
                self._landed.set()
            self.on_progress(self.tally)

    async def _send_one(self, lane: Lane, item: Claimed, message: Outgoing) -> None:
        if self._stop.is_set():
            self._outcomes.append(Outcome(item.id, "pending"))
            return
        try:
            reply = await lane.send(message)
        except TransportError as error:
            self._failed(item, message, error)
        else:
            self._outcomes.append(Outcome(item.id, "sent", message.message_id, reason=reply[:200]))
            self.tally.sent += 1
            self.pacer.succeeded()
            if not self._confirmed:
                self._confirmed = True
                self._settle_doubtful()

    def _failed(self, item: Claimed, message: Outgoing, error: TransportError) -> None:
        now = self.clock()
        attempts_left = item.attempts < self.sending.max_attempts
        if isinstance(error, SetupFailure):
            self._abort = error
            self._outcomes.append(Outcome(item.id, "pending", code=error.code, reason=str(error)))
            self.stop()
        elif isinstance(error, PermanentFailure):
            outcome = Outcome(item.id, "failed", message.message_id, error.code, str(error))
            self._doubtful.append((outcome, message, error.enhanced or ""))
            self._settle_doubtful()
        elif isinstance(error, UnknownFate):
            self.tally.unknown += 1
            self._outcomes.append(
                Outcome(
                    item.id,
                    "unknown",
                    message.message_id,
                    error.code,
                    str(error),
                    now if attempts_left else None,
                )
            )
        elif isinstance(error, TemporaryFailure) and attempts_left:
            if error.slow_down:
                self.pacer.slow_down()
            delay = backoff(item.attempts, self.sending, self._random.random())
            self.tally.retrying += 1
            self._outcomes.append(
                Outcome(item.id, "retry", message.message_id, error.code, str(error), now + delay)
            )
        else:
            self.tally.failed += 1
            self._outcomes.append(
                Outcome(
                    item.id,
                    "failed",
                    message.message_id,
                    error.code,
                    f"{error} (after {item.attempts} attempts)",
                )
            )

    def _settle_doubtful(self, *, final: bool = False) -> None:
        """Believe refusals once something got through; stop when everyone is refused."""
        if not self._doubtful:
            return
        if self._confirmed or (final and len(self._doubtful) < self._breaker):
            for outcome, message, enhanced in self._doubtful:
                self._outcomes.append(outcome)
                self.tally.failed += 1
                if enhanced.startswith("5.1."):
                    self._bounces.append((message, outcome.reason or ""))
            self._doubtful.clear()
        elif len(self._doubtful) >= self._breaker:
            codes = {outcome.code for outcome, _, _ in self._doubtful}
            self._abort = SetupFailure(
                f"the server refused the first {len(self._doubtful)} recipients and accepted "
                f"none (codes {', '.join(str(c) for c in sorted(codes, key=str))}): this looks "
                "like the relay's configuration, not theirs; they are kept to send"
            )
            for outcome, _, _ in self._doubtful:
                self._outcomes.append(
                    Outcome(outcome.id, "pending", code=outcome.code, reason=outcome.reason)
                )
            self._doubtful.clear()
            self.stop()

    # -- recording -----------------------------------------------------------------------------

    async def _record_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            await self._flush()

    async def _flush(self) -> None:
        """Commit the outcomes so far (and suppress hard bounces), in the ledger's thread."""
        outcomes, self._outcomes = self._outcomes, []
        bounces, self._bounces = self._bounces, []
        if outcomes:
            await self._db(self.ledger.record, outcomes, self.clock())
            self._unrecorded -= len(outcomes)
        for message, reason in bounces:
            await self._db(self.on_bounce, message, reason)
