"""The sending engine: claim from the ledger, compose, send through lanes, record.

One asyncio loop: a feeder claims batches of due deliveries (committed as `sending` before any
of them goes out), composes each email and queues it; one task per lane sends; a recorder
commits outcomes in groups (a commit per message would cost an fsync per message). Ledger calls
run in one dedicated thread, so an fsync never stalls the lanes. What each failure means for a
delivery is `mailer.sending.verdicts`.

One message never stops the run: an error while composing or sending it (a bug included) fails
that delivery and the run goes on. What stops a run is what concerns every message: the
configuration (a certificate, a login, a refused sender: exit 2), the relay refusing everyone,
or the relay (or the outbox's disk) down on every connection for `[sending] relay_patience`
(exit 75); then nobody is failed, and the next run (or the daemon's next round) sends to them.
Stopping (Ctrl-C, SIGTERM) takes no new work, lets the messages being sent finish, and puts
the ones still queued back.

`wait_for_retries`: how long a run waits for retries that are due soon (`mailer send`); the
daemon passes zero, so that a retry is scheduled work and never holds up another email.

Leases and a lost database: `mailer.sending.holding`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable, Container

from mailer.config.settings import SendingSettings, SmtpSettings
from mailer.errors import (
    MailerError,
    RelayFailure,
    SetupFailure,
    StateError,
    TransportError,
    Withheld,
)
from mailer.messages.compose import Composer
from mailer.model import Outgoing
from mailer.sending.holding import Holding
from mailer.sending.pacing import DECREASE, PAUSE_SECONDS, Pacer, RelayWatch
from mailer.sending.progress import RunResult, Tally, first_error
from mailer.sending.verdicts import Judged, waits
from mailer.store import relays
from mailer.store.ledger import Claimed, Ledger, Outcome, SendKey
from mailer.transport.base import Lane, Transport

log = logging.getLogger("mailer.sending")
FLUSH_EVERY = 0.2  # seconds between group commits
RELAY_BACKOFF = (0.5, 1.0, 2.0)  # a connection's waits before it tries the relay again
TOO_LATE = "too late: the deadline of this send passed"
HELD_ELSEWHERE_POLL = 1.0  # seconds between looks at the rows another sender holds
NOBODY_FAILED = "nobody was marked failed: they are sent when the relay is back"


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
        # the relay's rate and slow-downs, shared with every sender of the state
        self._relay_name = f"{smtp.host}:{smtp.port}"
        self._shared_rate = smtp.rate if transport.name == "smtp" and smtp.rate > 0 else None
        self._told: set[asyncio.Task[None]] = set()
        if transport.name == "smtp":
            self.pacer.on_decrease = self._slow_everyone
        self.tally = Tally()
        self._stop = asyncio.Event()
        self._abort: TransportError | None = None
        self._judged = Judged(self.tally, sending, self.pacer)
        self.holding = Holding(ledger, sleep=sleep, on_wait=self._waiting)
        self._in_flight = 0  # queued or being sent
        self._unrecorded = 0  # claimed, and the outcome not committed yet
        self._relay = RelayWatch(self.sending.relay_patience.total_seconds())
        self._put_back: RelayFailure | None = None  # a message waits: the relay was down
        caps = ((smtp.per_hour, dt.timedelta(hours=1)), (smtp.per_day, dt.timedelta(days=1)))
        self._caps = [
            (cap, window) for cap, window in caps if cap is not None and transport.name == "smtp"
        ]
        self._landed = asyncio.Event()  # a message in flight got its outcome

    def stop(self) -> None:
        """Take no new work; finish what is being sent; put back what is queued."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _slow_everyone(self) -> None:
        """This sender slowed down for the relay: every other sender of it does too."""
        task = asyncio.get_running_loop().create_task(self._tell_relay())
        self._told.add(task)
        task.add_done_callback(self._told.discard)

    async def _tell_relay(self) -> None:
        with contextlib.suppress(StateError):  # the others slow down by themselves anyway
            await self.holding.call(
                relays.slow_down, self.ledger.state, self._relay_name, DECREASE, PAUSE_SECONDS
            )

    def _waiting(self, why: str | None) -> None:
        self.tally.waiting = why
        if why is not None:
            self.on_progress(self.tally)

    # -- the run -------------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Send until nothing is due (or only retries later than wait_for_retries)."""
        try:
            if self.recover:
                await self.holding.call(
                    self.ledger.recover, self.key, self.clock(), self.sending.max_attempts
                )
            lanes = [await self.transport.open_lane() for _ in range(self.transport.lanes)]
            self._relay.lanes = len(lanes)
            queue: asyncio.Queue[tuple[Claimed, Outgoing] | None] = asyncio.Queue(
                maxsize=len(lanes) * 4
            )
            recorder = asyncio.create_task(self._record_periodically())
            renewer = asyncio.create_task(self.holding.renew_periodically(lambda: self._unrecorded))
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
                self._judged.settle(trusted=self._abort is None)
                await self._flush()
            if self._abort is None and self._put_back is not None:  # the relay never came back
                self._abort = RelayFailure(f"{self._put_back}; {NOBODY_FAILED}")
        finally:
            self.holding.close()
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
                    self.tally.skipped += await self.holding.call(
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
                started = self.holding.now()
                claimed = await self.holding.call(
                    self.ledger.claim,
                    self.key,
                    wanted,
                    now,
                    self.sending.max_attempts,
                    self._caps,
                )
                self.holding.took((item.id for item in claimed or ()), started)
                if claimed is None:
                    if not await self._wait_for_cap(now):
                        break
                    continue
                if not claimed:
                    if not await self._wait_for_retries(now):
                        break
                    continue
                claimed_total += len(claimed)
                if self._shared_rate is not None:  # its turn among every sender of the relay
                    turn = await self.holding.call(
                        relays.reserve,
                        self.ledger.state,
                        self._relay_name,
                        len(claimed),
                        self._shared_rate,
                    )
                    if turn > 0:
                        await self._unless_stopped(self.sleep(turn))
                self._unrecorded += len(claimed)
                blocked = await self.holding.call(self.suppressed)
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
            self._judged.outcomes.append(Outcome(item.id, "pending"))
            return
        if item.recipient.key in blocked:
            self._judged.outcomes.append(Outcome(item.id, "skipped", reason="address suppressed"))
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
            self._judged.outcomes.append(
                Outcome(item.id, "failed", reason=reason[:300], cause="content")
            )
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
            if self._judged.outcomes:
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
        upcoming = await self.holding.call(
            self.ledger.next_retry, self.key, self.sending.max_attempts
        )
        # rows another sender holds: if it stops renewing them, they come back to be sent
        elsewhere = await self.holding.call(
            self.ledger.held_elsewhere, self.key, now, self.sending.max_attempts
        )
        if elsewhere is not None:  # looked at again every second: they are mostly sent by then
            back = now + dt.timedelta(seconds=min(elsewhere + 0.1, HELD_ELSEWHERE_POLL))
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
        lane.still_ours = functools.partial(self.holding.ours, item.id)
        for wait in (*RELAY_BACKOFF, None):
            if self._stop.is_set() or not self.holding.ours(item.id):
                # stopping; or others may have taken it (its lease could not be renewed)
                self._judged.outcomes.append(Outcome(item.id, "pending"))
                return
            try:
                reply = await lane.send(message)
            except Withheld:
                self._judged.outcomes.append(Outcome(item.id, "pending"))
                return
            except RelayFailure as error:
                if error.slow_down:
                    self.pacer.slow_down()
                self._relay_down(index, error)
                if wait is None or not await self._unless_stopped(self.sleep(wait)):
                    self._judged.outcomes.append(waits(item, error))
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
                self._judged.outcomes.append(
                    Outcome(item.id, "failed", message.message_id, reason=reason, cause="internal")
                )
                self.tally.failed += 1
            else:
                self._relay_up(index)
                self._judged.sent(item, message, reply)
            return

    def _relay_down(self, index: int, error: RelayFailure) -> None:
        """A connection cannot reach the relay; with every one down long enough, stop."""
        if self._relay.down(index):
            if self._abort is None:
                self._abort = RelayFailure(f"{error}; {NOBODY_FAILED}")
            self.stop()

    def _relay_up(self, index: int) -> None:
        self._relay.up(index)
        self._put_back = None

    def _failed(self, item: Claimed, message: Outgoing, error: TransportError) -> None:
        stops = self._judged.failed(item, message, error, self.clock())
        if stops is not None and (self._abort is None or isinstance(stops, SetupFailure)):
            self._abort = stops
            self.stop()

    # -- recording -----------------------------------------------------------------------------

    async def _record_periodically(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_EVERY)
            await self._flush()

    async def _flush(self) -> None:
        """Commit the outcomes so far (and suppress hard bounces), in the ledger's thread."""
        outcomes, bounces = self._judged.take()
        if outcomes:
            written = await self.holding.call(self.ledger.record, outcomes, self.clock())
            self._unrecorded -= len(outcomes)
            self.holding.done(outcome.id for outcome in outcomes)
            if written < len(outcomes):
                log.warning(
                    "%d outcomes not recorded: another sender took those rows once their "
                    "lease ran out (it sends them again, with the same Message-ID)",
                    len(outcomes) - written,
                )
        for message, reason in bounces:
            await self.holding.call(self.on_bounce, message, reason)


async def _close_quietly(lane: Lane) -> None:
    """Drop a lane's connection after a bug left it in an unknown state (it reconnects)."""
    with contextlib.suppress(Exception):  # the connection is abandoned either way
        await lane.close()
