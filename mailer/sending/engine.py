"""The sending engine: claim from the ledger, compose, send through lanes, record.

One asyncio loop: a feeder claims batches of due deliveries (committed as `sending` before any
of them goes out), composes each email and queues it; one task per lane sends; a recorder
commits outcomes in groups (a commit per message would cost an fsync per message). Ledger calls
run in one dedicated thread, so an fsync never stalls the lanes. What each failure means for a
delivery is `mailer.sending.verdicts`.

One message never stops the run: an error while composing or sending it (a bug included) fails
that delivery and the run goes on. What stops a run is what concerns every message: the
configuration (a certificate, a login, a refused sender: exit 2), the relay refusing everyone,
or the relay (or the outbox's disk) down on every connection for `RELAY_PATIENCE` seconds
(exit 75); then nobody is failed, and the next run (or the daemon's next round) sends to them.
Stopping (Ctrl-C, SIGTERM) takes no new work, lets the messages being sent finish, and puts
the ones still queued back.

`wait_for_retries`: how long a run waits for retries that are due soon (`mailer send`); the
daemon passes zero, so that a retry is scheduled work and never holds up another email.

Leases (`mailer.store.ledger`): the rows a run takes are its own for `lease` seconds on the
database's clock; a task renews them while it works. A message whose lease may have run out
(the renewals failed: the database is unreachable, or the process was frozen) is not sent, and
goes back: others may have taken it. The database lost for a while (StateUnavailable) is waited
for, up to `DATABASE_PATIENCE`, reconnecting; then the run stops (exit 75) and what it held is
found again by whoever claims next.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
import random
import time
from collections.abc import Awaitable, Callable, Container
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from mailer.config.settings import SendingSettings, SmtpSettings
from mailer.errors import (
    MailerError,
    PermanentFailure,
    RelayFailure,
    SetupFailure,
    StateUnavailable,
    TemporaryFailure,
    TransportError,
    Withheld,
)
from mailer.messages.compose import Composer
from mailer.model import Outgoing
from mailer.sending import verdicts
from mailer.sending.pacing import Pacer
from mailer.sending.progress import RunResult, Tally, first_error
from mailer.sending.verdicts import Breaker, Refusal, message_verdict, waits
from mailer.store.ledger import Claimed, Ledger, Outcome, SendKey
from mailer.transport.base import Lane, Transport

log = logging.getLogger("mailer.sending")
FLUSH_EVERY = 0.2  # seconds between group commits
RELAY_PATIENCE = 5.0  # seconds with every connection down before the run stops
RELAY_BACKOFF = (0.5, 1.0, 2.0)  # a connection's waits before it tries the relay again
TOO_LATE = "too late: the deadline of this send passed"
NOBODY_FAILED = "nobody was marked failed: they are sent when the relay is back"
DATABASE_PATIENCE = 180.0  # seconds of a lost database waited for, reconnecting
DATABASE_BACKOFF = (0.5, 1.0, 2.0, 5.0)
T = TypeVar("T")


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
        wait_for_retries: dt.timedelta | None = None,
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
        self.wait_for_retries = (
            sending.wait_for_retries if wait_for_retries is None else wait_for_retries
        )
        self.pacer = Pacer(smtp.rate if transport.name == "smtp" else 0.0)
        self.tally = Tally()
        self._stop = asyncio.Event()
        self._abort: TransportError | None = None
        self._outcomes: list[Outcome] = []
        self._breaker = Breaker(min(verdicts.BREAKER, sending.batch))
        self._bounces: list[tuple[Outgoing, str]] = []  # hard bounces to suppress
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ledger")
        self._in_flight = 0  # queued or being sent
        self._unrecorded = 0  # claimed, and the outcome not committed yet
        self._lanes = 1
        self._lanes_down: set[int] = set()  # connections that cannot reach the relay now
        self._relay_down_since: float | None = None
        self._put_back: RelayFailure | None = None  # a message waits: the relay was down
        caps = ((smtp.per_hour, dt.timedelta(hours=1)), (smtp.per_day, dt.timedelta(days=1)))
        self._caps = [
            (cap, window) for cap, window in caps if cap is not None and transport.name == "smtp"
        ]
        self._landed = asyncio.Event()  # a message in flight got its outcome
        self._random = random.Random()
        # until when (time.monotonic()) the rows this run holds are surely still its own: each
        # row a lease from its claim, all of them a lease from the last renewal that found
        # every one of them still ours
        self._claimed_until: dict[int, float] = {}
        self._renewed_until = 0.0
        self._margin = min(2.0, ledger.lease / 5)

    def stop(self) -> None:
        """Take no new work; finish what is being sent; put back what is queued."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    async def _db(self, function: Callable[..., T], *arguments: Any) -> T:
        """Call the ledger in its thread; a lost database is waited for and reconnected to
        (every ledger call can be made again), up to DATABASE_PATIENCE."""
        waited = 0.0
        for attempt in range(1 << 30):
            try:
                result = await self._in_ledger_thread(function, *arguments)
            except StateUnavailable as error:
                if waited >= DATABASE_PATIENCE:
                    raise
                pause = DATABASE_BACKOFF[min(attempt, len(DATABASE_BACKOFF) - 1)]
                log.warning("the state waits (%s): trying again in %.1f s", error, pause)
                self.tally.waiting = "the database is unreachable: waiting for it"
                self.on_progress(self.tally)
                await self.sleep(pause)
                waited += pause
                with contextlib.suppress(StateUnavailable):
                    await self._in_ledger_thread(self.ledger.state.reconnect)
                continue
            if waited:
                self.tally.waiting = None
            return result
        raise AssertionError("unreachable")

    async def _in_ledger_thread(self, function: Callable[..., T], *arguments: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor, function, *arguments
        )

    def _ours(self, delivery: int) -> bool:
        """Whether the row is surely still this run's (its lease has not run out)."""
        until = max(self._claimed_until.get(delivery, 0.0), self._renewed_until)
        return time.monotonic() < until

    async def _renew_periodically(self) -> None:
        """Renew the lease of the rows this run holds, a few times per lease. A renewal that
        finds fewer rows than the run holds means some lease ran out (the process was frozen,
        the database away): then only rows claimed less than a lease ago are sent."""
        while True:
            await asyncio.sleep(self.ledger.lease / 4)
            if self._unrecorded <= 0:
                continue
            started = time.monotonic()
            try:
                held = await self._in_ledger_thread(self.ledger.renew)
            except StateUnavailable as error:
                log.warning("cannot renew the lease of the rows being sent: %s", error)
                with contextlib.suppress(StateUnavailable):
                    await self._in_ledger_thread(self.ledger.state.reconnect)
                continue
            if held < self._unrecorded:
                log.warning(
                    "%d of the rows this run took are no longer its own (their lease ran "
                    "out): they are not sent by this run",
                    self._unrecorded - held,
                )
                self._renewed_until = 0.0
            else:
                self._renewed_until = started + self.ledger.lease - self._margin

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Send until nothing is due (or only retries later than wait_for_retries)."""
        try:
            if self.recover:
                await self._db(
                    self.ledger.recover, self.key, self.clock(), self.sending.max_attempts
                )
            lanes = [await self.transport.open_lane() for _ in range(self.transport.lanes)]
            self._lanes = len(lanes)
            queue: asyncio.Queue[tuple[Claimed, Outgoing] | None] = asyncio.Queue(
                maxsize=len(lanes) * 4
            )
            recorder = asyncio.create_task(self._record_periodically())
            renewer = asyncio.create_task(self._renew_periodically())
            try:
                async with asyncio.TaskGroup() as group:
                    group.create_task(self._feed(queue, len(lanes)))
                    for index, lane in enumerate(lanes):
                        group.create_task(self._drive(index, lane, queue))
            except BaseExceptionGroup as errors:  # the state file failed under the feeder
                raise first_error(errors) from None
            finally:
                await asyncio.gather(*(lane.close() for lane in lanes), return_exceptions=True)
                recorder.cancel()
                renewer.cancel()
                self._settle()
                await self._flush()
            if self._abort is None and self._put_back is not None:  # the relay never came back
                self._abort = RelayFailure(f"{self._put_back}; {NOBODY_FAILED}")
        finally:
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
                started = time.monotonic()
                claimed = await self._db(
                    self.ledger.claim,
                    self.key,
                    wanted,
                    now,
                    self.sending.max_attempts,
                    self._caps,
                )
                for item in claimed or ():
                    self._claimed_until[item.id] = started + self.ledger.lease - self._margin
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
                    await self._queue_one(queue, item, blocked)
        finally:
            for _ in range(lanes):
                await queue.put(None)

    async def _queue_one(
        self,
        queue: asyncio.Queue[tuple[Claimed, Outgoing] | None],
        item: Claimed,
        blocked: Container[str],
    ) -> None:
        if self._stop.is_set():
            self._outcomes.append(Outcome(item.id, "pending"))
            return
        if item.recipient.key in blocked:
            self._outcomes.append(Outcome(item.id, "skipped", reason="address suppressed"))
            self.tally.skipped += 1
            return
        try:
            message = self.composer.compose(
                item.recipient,
                message_id=item.message_id
                or self.composer.message_id(item.recipient.key, legacy=item.legacy),
            )
        except Exception as error:  # this one email cannot be made: it alone fails
            reason = f"cannot compose this email: {error}"
            if not isinstance(error, MailerError):
                log.exception("composing the email of delivery %d failed", item.id)
                reason = f"cannot compose this email: {type(error).__name__}: {error}"
            self._outcomes.append(Outcome(item.id, "failed", reason=reason[:300], cause="content"))
            self.tally.failed += 1
            return
        await self.pacer.wait()
        self._in_flight += 1
        await queue.put((item, message))

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
        # rows another sender holds: if it stops renewing them, they come back to be sent
        elsewhere = await self._db(self.ledger.held_elsewhere, self.key)
        if elsewhere is not None:
            back = now + dt.timedelta(seconds=elsewhere + 0.1)
            upcoming = back if upcoming is None else min(upcoming, back)
        if upcoming is None or upcoming >= self.deadline:
            return False
        if upcoming - now > self.wait_for_retries:
            return False
        if elsewhere is not None:
            self.tally.waiting = "other senders hold the rest: waiting for them"
        else:
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
        self, index: int, lane: Lane, queue: asyncio.Queue[tuple[Claimed, Outgoing] | None]
    ) -> None:
        while (job := await queue.get()) is not None:
            item, message = job
            try:
                await self._deliver(index, lane, item, message)
            finally:
                self._in_flight -= 1
                self._landed.set()
            self.on_progress(self.tally)

    async def _deliver(self, index: int, lane: Lane, item: Claimed, message: Outgoing) -> None:
        """Send one message; the relay being down makes this lane wait and try again."""
        lane.still_ours = functools.partial(self._ours, item.id)
        for wait in (*RELAY_BACKOFF, None):
            if self._stop.is_set() or not self._ours(item.id):
                # stopping; or others may have taken it (its lease could not be renewed)
                self._outcomes.append(Outcome(item.id, "pending"))
                return
            try:
                reply = await lane.send(message)
            except Withheld:
                self._outcomes.append(Outcome(item.id, "pending"))
                return
            except RelayFailure as error:
                if error.slow_down:
                    self.pacer.slow_down()
                self._relay_down(index, error)
                if wait is None or not await self._unless_stopped(self.sleep(wait)):
                    self._outcomes.append(waits(item, error))
                    self._put_back = error
                    return
                continue
            except TransportError as error:
                self._relay_up(index)
                self._failed(item, message, error)
            except Exception as error:  # a bug in a lane: this delivery fails, not the run
                log.exception("sending delivery %d failed", item.id)
                await _close_quietly(lane)
                reason = f"internal error while sending: {type(error).__name__}: {error}"
                self._outcomes.append(
                    Outcome(item.id, "failed", message.message_id, reason=reason, cause="internal")
                )
                self.tally.failed += 1
            else:
                self._relay_up(index)
                self._outcomes.append(
                    Outcome(item.id, "sent", message.message_id, reason=reply[:200])
                )
                self.tally.sent += 1
                self.pacer.succeeded()
                self._believe(self._breaker.accepted())
            return

    def _relay_down(self, index: int, error: RelayFailure) -> None:
        """A connection cannot reach the relay; with every one down long enough, stop."""
        self._lanes_down.add(index)
        now = time.monotonic()
        if self._relay_down_since is None:
            self._relay_down_since = now
        if len(self._lanes_down) >= self._lanes and now - self._relay_down_since >= RELAY_PATIENCE:
            if self._abort is None:
                self._abort = RelayFailure(f"{error}; {NOBODY_FAILED}")
            self.stop()

    def _relay_up(self, index: int) -> None:
        self._lanes_down.discard(index)
        self._put_back = None
        if not self._lanes_down:
            self._relay_down_since = None

    def _failed(self, item: Claimed, message: Outgoing, error: TransportError) -> None:
        if isinstance(error, SetupFailure):
            self._abort = error
            self._outcomes.append(waits(item, error))
            self.stop()
        elif isinstance(error, PermanentFailure) and not error.relay:
            outcome = Outcome(
                item.id, "failed", message.message_id, error.code, str(error), cause="recipient"
            )
            self._refused(Refusal(outcome, message, error.enhanced or ""))
        else:
            outcome = message_verdict(
                item,
                message,
                error,
                settings=self.sending,
                now=self.clock(),
                jitter=self._random.random(),
            )
            if error.slow_down and isinstance(error, TemporaryFailure):
                self.pacer.throttled()  # this one is retried; the send slows if many are
            elif error.slow_down:
                self.pacer.slow_down()
            if isinstance(error, TemporaryFailure):  # everyone's 4xx is the relay's, not theirs
                self._refused(Refusal(outcome, message, ""))
            else:
                self._believe([Refusal(outcome, message, "")])

    def _refused(self, refusal: Refusal) -> None:
        believed, back = self._breaker.refused(refusal)
        self._believe(believed)
        self._outcomes.extend(back)
        if self._breaker.tripped is not None and self._abort is None:
            self._abort = self._breaker.tripped
            self.stop()

    def _believe(self, refusals: list[Refusal]) -> None:
        for refusal in refusals:
            self._outcomes.append(refusal.outcome)
            state = refusal.outcome.state
            if state == "retry":
                self.tally.retrying += 1
            elif state == "unknown":
                self.tally.unknown += 1
            else:
                self.tally.failed += 1
            if refusal.enhanced.startswith("5.1."):
                self._bounces.append((refusal.message, refusal.outcome.reason or ""))

    def _settle(self) -> None:
        """At the end: refusals still held are believed, unless the run stopped for the relay's
        or the configuration's sake (then they wait for the next run)."""
        believed, back = self._breaker.settle(trusted=self._abort is None)
        self._believe(believed)
        self._outcomes.extend(back)

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
            written = await self._db(self.ledger.record, outcomes, self.clock())
            self._unrecorded -= len(outcomes)
            for outcome in outcomes:
                self._claimed_until.pop(outcome.id, None)
            if written < len(outcomes):
                log.warning(
                    "%d outcomes not recorded: another sender took those rows once their "
                    "lease ran out (it sends them again, with the same Message-ID)",
                    len(outcomes) - written,
                )
        for message, reason in bounces:
            await self._db(self.on_bounce, message, reason)


async def _close_quietly(lane: Lane) -> None:
    """Drop a lane's connection after a bug left it in an unknown state (it reconnects)."""
    with contextlib.suppress(Exception):  # the connection is abandoned either way
        await lane.close()
