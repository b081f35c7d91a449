"""The daemon's work, without the scheduler: which jobs are due, and doing them.

`DaemonCore.run_due(now)` is idempotent: the ledger decides what is still to send, so it can be
called as often as anyone likes (the scheduler's wake-ups, a restart, a double fire) and sends
nothing twice. It sends what is due and not yet done (including people added to a list since,
and retries), skips and reports what became too late, logs what is blocked, and warns the
organiser of missing session files. The clock is injected, so tests run months in seconds.

Several daemons (PostgreSQL): one leader at a time (`mailer.store.leases`). The leader plans
(records each due send), tells the organiser, skips what is too late, forgets old rows: every
such write fenced by its epoch. Every daemon, leader or not, sends what is planned and due.
With SQLite the one daemon is the leader.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from mailer.config.settings import Config
from mailer.errors import LockHeld, MailerError, NotLeader, RelayFailure
from mailer.messages.notices import organiser_notice
from mailer.messages.templates import TemplateSet
from mailer.project.load import Project
from mailer.sending.cadence import Job
from mailer.sending.engine import TOO_LATE, Engine
from mailer.sending.jobs import HORIZON, due_jobs, send_key
from mailer.sending.missing import warn_missing_file
from mailer.sending.plan import SendPlan, SendRequest, plan_from_ledger, plan_send, record_plan
from mailer.sending.progress import RunResult
from mailer.sending.run import run_send
from mailer.store.answers import answers_version
from mailer.store.leases import LEADER, Held, hold
from mailer.store.ledger import Ledger, SendKey, new_owner
from mailer.store.members import members_version
from mailer.store.notices import mark_sent, unsent, waiting_notices
from mailer.store.pauses import paused
from mailer.store.people import prune
from mailer.store.state import State
from mailer.store.suppression import suppression_version
from mailer.transport.base import Transport

log = logging.getLogger("mailer.daemon")
RELAY_RETRY_AT_LEAST = dt.timedelta(seconds=1)  # the relay was down: not sooner than this


@dataclass
class Round:
    """What one call of run_due did."""

    sent: dict[str, int] = field(default_factory=dict)  # job id -> messages sent
    skipped: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # stopped by an error (logged)
    postponed: bool = False  # another sender held the lock
    relay_down: bool = False  # a send stopped because the relay could not be reached

    @property
    def ok(self) -> bool:
        return not (self.failed or self.postponed or self.relay_down)


class DaemonCore:
    """The daemon's work on one version of the project (`use` switches to another on reload).

    `signing_key` gives the unsubscribe key (it raises when the key is unusable), `transport`
    makes the configured transport, `clock` is the daemon's clock. `version` says what the
    project's files looked like when it was loaded: a finished send is looked at again only
    when it changes.
    """

    def __init__(
        self,
        project: Project,
        templates: TemplateSet,
        *,
        signing_key: Callable[[], bytes],
        transport: Callable[[], Transport],
        clock: Callable[[], dt.datetime],
        version: object = None,
        on_engine: Callable[[Engine], None] = lambda _: None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.project = project
        self.templates = templates
        self.signing_key = signing_key
        self.transport = transport
        self.clock = clock
        self.version = version
        self.should_stop = should_stop
        self.on_engine = on_engine
        self._reported: set[str] = set()  # blocked or missed jobs already logged
        self._settled: dict[str, tuple[object, ...]] = {}  # job id -> what it was complete for
        self._retry_at: dt.datetime | None = None  # the relay again, after it was down
        self._notices: dict[str, tuple[str, dict[str, object]]] = {}  # key -> to tell
        self._pruned: dt.date | None = None  # the day old delivery rows were last deleted
        self.holder = new_owner()  # this daemon, in the leader's lease
        self.held: Held | None = None  # the leadership, while this daemon has it

    def use(
        self,
        project: Project,
        templates: TemplateSet,
        *,
        transport: Callable[[], Transport],
        version: object,
    ) -> None:
        """Work on a new version of the project from now on (a reload)."""
        self.project, self.templates, self.transport = project, templates, transport
        self.version = version

    def state(self, *, fenced: bool = False) -> State:
        """The state; `fenced`: for a leader's writes, refused once it is no longer one."""
        state = self.project.store.open()
        if fenced:
            if self.held is None:
                state.close()
                raise NotLeader("this daemon is not the leader")
            state.fence = self.held
        return state

    def lead(self) -> bool:
        """Take the leadership, or renew it; whether this daemon is the leader now."""
        lease = self.config.lease.total_seconds()
        with self.project.store.open() as state:
            held = hold(state, LEADER, self.holder, lease, steal=state.one_sender)
        if held is not None and self.held != held:
            log.info("this daemon leads now (epoch %d)", held.epoch)
        elif held is None and self.held is not None:
            log.warning("this daemon no longer leads: another took over")
        self.held = held
        return held is not None

    @property
    def config(self) -> Config:
        return self.project.config

    def jobs(self, now: dt.datetime, horizon: dt.timedelta = HORIZON) -> list[Job]:
        """Every job that matters from `missed_lookback` ago to `horizon` ahead."""
        with self.state() as state:
            needs = self.templates.needs(self.config.series.languages, "followup")
            return due_jobs(self.project, state, now, horizon, needs=needs)

    def key(self, job: Job) -> SendKey:
        return send_key(self.project, job)

    async def run_due(self, now: dt.datetime) -> Round:
        """Do every job that is due (see the module's docstring)."""
        result = Round()
        self._retry_at = None
        leading = self.lead()
        if leading:
            self._keep_only(now)
        for job in self.jobs(now):
            if self.should_stop():
                break
            state = job.state(now)
            if state == "waiting":
                continue
            if not leading:  # the leader plans; this daemon sends what it planned
                if state == "due" and job.kind != "warning":
                    await self._help(job, now, result)
                continue
            if state == "late":
                self._late(job, now, result)
                continue
            if job.blocked is not None:
                self._report(
                    job,
                    "blocked",
                    f"BLOCKED: the {job.kind} of {job.occurrence.scheduled} is "
                    f"due but {job.blocked}: nothing is sent with blanks",
                )
                result.blocked.append(job.id)
                continue
            try:
                if job.kind == "warning":
                    await self._warn(job, now)
                else:
                    await self._send(job, now, result)
            except LockHeld:
                log.info(
                    "another sender holds the lock: the %s of %s waits for the next round",
                    job.kind,
                    job.occurrence.scheduled,
                )
                result.postponed = True
                return result
            except NotLeader as error:  # its write refused: another daemon leads now
                log.warning("the %s of %s: %s", job.kind, job.occurrence.scheduled, error)
                self.held, leading = None, False
            except MailerError as error:
                log.error("the %s of %s failed: %s", job.kind, job.occurrence.scheduled, error)
                self.notify(f"failed:{job.id}:{error}", "failed", job, str(error))
                result.failed.append(job.id)
        if leading:
            await self.send_notices(now)
        return result

    def _keep_only(self, now: dt.datetime) -> None:
        """Once a day, forget the delivery rows older than `[state] keep_deliveries`."""
        keep = self.config.keep_deliveries
        if keep is None or self._pruned == now.date():
            return
        self._pruned = now.date()
        before = (now - keep).date()
        with self.state(fenced=True) as state:
            deleted = prune(state, self.config.series.id, before)
        if deleted:
            log.info("retention: deleted %d delivery rows of sessions before %s", deleted, before)

    def _late(self, job: Job, now: dt.datetime, result: Round) -> None:
        """A job whose deadline passed: whatever was not sent is skipped, and said so once."""
        if job.deadline < now - self.config.daemon.missed_lookback or job.kind == "warning":
            return
        key = self.key(job)
        with self.state(fenced=True) as state:
            ledger = Ledger(state)
            if ledger.complete(key):
                return
            skipped = ledger.skip_remaining(key, TOO_LATE, now)
            planned = ledger.deadline(key) is not None
        if not planned and job.kind in ("update", "cancellation"):
            return  # changed once the session had begun: too late to tell anyone
        if job.id not in self._reported:
            how = f"{skipped} not sent" if planned else "not sent at all (was the daemon stopped?)"
            self._report(
                job,
                "missed",
                f"MISSED: the {job.kind} of {job.occurrence.scheduled} "
                f"(due {job.due:%Y-%m-%d %H:%M}Z, too late since "
                f"{job.deadline:%Y-%m-%d %H:%M}Z): {how}",
            )
        result.skipped.append(job.id)

    def _report(self, job: Job, problem: str, message: str) -> None:
        """Log a blocked or missed job once per run, and tell the organiser once for good."""
        if job.id not in self._reported:
            self._reported.add(job.id)
            log.warning(message)
            self.notify(f"{problem}:{job.id}", problem, job, message.split(": ", 1)[1])

    def notify(self, key: str, problem: str, job: Job | None, detail: str, **more: object) -> None:
        """Queue a notice to the organiser; `key` names the problem: each is sent once."""
        fields: dict[str, object] = {"detail": detail, **more}
        if job is not None:
            fields.update(
                kind=job.kind, session=job.occurrence.scheduled, number=job.occurrence.number
            )
        self._notices[key] = (problem, fields)

    async def send_notices(self, now: dt.datetime) -> None:
        """Email the organiser the notices not sent yet; one that cannot go waits for the
        next round (the state file says which were sent, across restarts). The leader sends
        them (with several daemons)."""
        if self.held is None and not self.lead():
            return
        with self.state() as state:
            for key, problem, fields in waiting_notices(state):
                self._notices.setdefault(key, (problem, fields))
            if not self._notices:
                return
            waiting = unsent(state, list(self._notices))
        for key in list(self._notices):
            problem, fields = self._notices[key]
            if key not in waiting:
                del self._notices[key]
                continue
            notice = organiser_notice(self.config, key, problem, now, **fields)
            try:
                await self.transport().send_one(notice)
            except MailerError as error:
                log.warning("the notice to the organiser (%s) waits: %s", key, error)
                return
            with self.state(fenced=True) as state:
                mark_sent(state, key, notice.message_id, now)
            log.info("NOTIFIED %s: %s", notice.recipient, key)
            del self._notices[key]

    async def _send(self, job: Job, now: dt.datetime, result: Round) -> None:
        assert job.kind != "warning"
        request = SendRequest(
            job.occurrence.scheduled,
            job.kind,
            job.segments,
            message=job.message,
            deadline=job.deadline,
        )
        lock = self.project.store.sender_lock()
        lock.acquire()
        try:
            with self.state(fenced=True) as state:
                if paused(state, self.key(job)) is not None:  # an organiser paused it
                    log.info("the %s of %s is paused", job.kind, job.occurrence.scheduled)
                    return
                # a finished send is looked at again only when a list (or any file, or a
                # kept list), the suppression list or the answers changed: resolving 100,000
                # people every few minutes is waste
                settled = (
                    self.version,
                    suppression_version(state),
                    answers_version(state, self.config.series.id),
                    members_version(state),
                )
                if self._settled.get(job.id) == settled:
                    return
                plan = plan_send(self.project, state, request, now, record=True)
                if plan.to_send == 0:
                    if Ledger(state).complete(plan.key):
                        self._settled[job.id] = settled
                    return
                record_plan(state, plan, now)
                state.notify_work()  # the other daemons help
            log.info("sending the %s of %s: %d to send", job.kind, plan.key.session, plan.to_send)
            outcome, counts = await self._run(plan)
        finally:
            lock.release()
        self._after(job, plan, outcome=outcome, counts=counts, now=now, result=result)

    async def _help(self, job: Job, now: dt.datetime, result: Round) -> None:
        """Send what the leader planned of a job, if anything is left to send of it."""
        assert job.kind != "warning"
        key = self.key(job)
        with self.state() as state:
            ledger = Ledger(state)
            if ledger.deadline(key) is None or ledger.complete(key) or paused(state, key):
                return
            plan = plan_from_ledger(self.project, state, key, job.kind, now)
        outcome, counts = await self._run(plan)
        self._after(job, plan, outcome=outcome, counts=counts, now=now, result=result)

    async def _run(self, plan: SendPlan) -> tuple[RunResult, dict[str, int]]:
        with self.state() as state:
            outcome = await run_send(
                self.project,
                self.templates,
                state,
                plan,
                signing_key=self.signing_key(),
                transport=self.transport(),
                clock=self.clock,
                on_engine=self.on_engine,
                wait_for_retries=dt.timedelta(0),  # a retry is a job of a later round
            )
            return outcome, dict(Ledger(state).counts(plan.key))

    def _after(
        self,
        job: Job,
        plan: SendPlan,
        *,
        outcome: RunResult,
        counts: dict[str, int],
        now: dt.datetime,
        result: Round,
    ) -> None:
        """Log what a send did; tell the organiser when it stopped."""
        result.sent[job.id] = outcome.tally.sent
        log.info(
            "the %s of %s: %d sent now; in all %s",
            job.kind,
            plan.key.session,
            outcome.tally.sent,
            ", ".join(f"{n} {s}" for s, n in sorted(counts.items())),
        )
        if outcome.abort is not None:
            log.error("the %s of %s stopped: %s", job.kind, plan.key.session, outcome.abort)
            self.notify(f"stopped:{job.id}:{outcome.abort}", "failed", job, str(outcome.abort))
            if isinstance(outcome.abort, RelayFailure):
                result.relay_down = True
                # again after [sending] retry_after (a minute by default)
                wait = max(self.config.delivery.sending.retry_after, RELAY_RETRY_AT_LEAST)
                self._retry_at = now + wait
            else:
                result.failed.append(job.id)
        if outcome.tally.failed:
            log.warning(
                "the %s of %s: %d deliveries failed (mailer status %s says why)",
                job.kind,
                plan.key.session,
                outcome.tally.failed,
                plan.key.session,
            )

    async def _warn(self, job: Job, now: dt.datetime) -> None:
        """Email the organiser, once, that the session's file is missing."""
        with self.state(fenced=True) as state:
            await warn_missing_file(
                self.config, state, self.key(job), job, transport=self.transport, now=now
            )

    def next_wakeup(self, now: dt.datetime) -> dt.datetime | None:
        """The next instant something becomes due: a job, a retry of a send in progress, or
        the relay again after it could not be reached."""
        jobs = self.jobs(now)
        upcoming = [job.due for job in jobs if job.due > now]
        if self._retry_at is not None:
            upcoming.append(max(self._retry_at, now))
        with self.state() as state:
            ledger = Ledger(state)
            for job in jobs:
                if job.state(now) == "due":
                    retry = ledger.next_retry(
                        self.key(job), self.config.delivery.sending.max_attempts
                    )
                    if retry is not None:
                        upcoming.append(max(retry, now))
        return min(upcoming, default=None)
