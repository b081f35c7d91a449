"""The daemon's work, without the scheduler: which jobs are due, and doing them.

`DaemonCore.run_due(now)` is idempotent: the ledger decides what is still to send, so it can be
called as often as anyone likes (the scheduler's wake-ups, a restart, a double fire) and sends
nothing twice. It sends what is due and not yet done (including people added to a list since,
and retries), skips and reports what became too late, logs what is blocked, and warns the
organiser of missing session files. The clock is injected, so tests run months in seconds.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from mailer.cadence import WARNING_MESSAGE, Job, cadence_jobs, change_job, session_window
from mailer.config import Config
from mailer.controllers import check
from mailer.engine import TOO_LATE, Engine
from mailer.errors import InvalidInput, LockHeld, MailerError
from mailer.ledger import Ledger, Outcome, SendKey
from mailer.locks import sender_lock
from mailer.notices import missing_file_notice
from mailer.recipients import Recipient
from mailer.recurrence import occurrences
from mailer.revision_store import session_revision
from mailer.sending import SendRequest, make_transport, plan_send, record_plan, run_send
from mailer.suppression import suppression_count
from mailer.transport.base import Transport
from mailer.workspace import Workspace

log = logging.getLogger("mailer.daemon")
HORIZON = dt.timedelta(days=60)


def watched_files(workspace: Workspace) -> Iterator[Path]:
    """The files whose change reloads the daemon: config, sessions, lists, templates."""
    project = workspace.project()
    yield workspace.config_path
    yield from project.sessions_dir.glob("*.toml")
    for mailing_list in project.config.mailing.lists:
        yield project.path(mailing_list.file)
    yield from project.path(project.config.templates).rglob("*.*")


def fingerprint(workspace: Workspace) -> tuple[tuple[str, float, int], ...]:
    """What the watched files look like now (names, times, sizes)."""
    found = []
    for path in watched_files(workspace):
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((str(path), stat.st_mtime_ns / 1e9, stat.st_size))
    return tuple(sorted(found))


@dataclass
class Round:
    """What one call of run_due did."""

    sent: dict[str, int] = field(default_factory=dict)  # job id -> messages sent
    skipped: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # stopped by an error (logged)
    postponed: bool = False  # another sender held the lock


class DaemonCore:
    def __init__(
        self,
        workspace: Workspace,
        *,
        transport: Callable[[Config, Workspace], Transport] = make_transport,
        on_engine: Callable[[Engine], None] = lambda _: None,
        should_stop: Callable[[], bool] = lambda: False,
    ) -> None:
        self.workspace = workspace
        self.should_stop = should_stop
        self.transport = transport
        self.on_engine = on_engine
        self._reported: set[str] = set()  # blocked or missed jobs already logged
        self._files = fingerprint(workspace)
        self.refused: str | None = None  # why the last edit was refused, if it was
        self._settled: dict[str, tuple[object, int]] = {}  # job id -> what it was complete for

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the configuration if a watched file changed (or if forced): True if reloaded.

        A new configuration that does not pass `mailer check` is refused, with its problems
        logged, and the one in use keeps running.
        """
        files = fingerprint(self.workspace)
        if not force and files == self._files:
            return False
        candidate = self.workspace.fresh()
        self._files = files  # a refused edit is not checked again until the files change
        try:
            check(candidate)
        except InvalidInput as error:
            self.refused = f"{error} ({len(error.problems)} problems)"
            log.error("the new configuration is refused, the old one keeps running: %s", error)
            for problem in error.problems:
                if problem.is_error:
                    log.error("  %s", problem)
            return False
        self.workspace = candidate
        self._files = fingerprint(candidate)
        self.refused = None
        log.info("reloaded the configuration")
        return True

    @property
    def config(self) -> Config:
        return self.workspace.project().config

    def jobs(self, now: dt.datetime, horizon: dt.timedelta = HORIZON) -> list[Job]:
        """Every job that matters from `missed_lookback` ago to `horizon` ahead."""
        project = self.workspace.project()
        config = project.config
        start, end = session_window(config, now, horizon, config.daemon.missed_lookback)
        jobs = [
            job
            for job in cadence_jobs(config, project.sessions, start=start, end=end)
            if job.due <= now + horizon
        ]
        with self.workspace.state() as state:
            ledger = Ledger(state)
            # every session, cancelled ones included: those have no cadence jobs, but may owe
            # a cancellation to the people already invited
            for occurrence in occurrences(config.series, project.sessions, start=start, end=end):
                if occurrence.content is None:
                    continue
                revision = session_revision(state, config, occurrence, now)
                notified = ledger.notified_sequence(config.series.id, occurrence.scheduled)
                change = change_job(config, occurrence, revision.sequence, notified, now)
                if change is not None:
                    jobs.append(change)
        jobs.sort(key=lambda job: (job.due, job.id))
        return jobs

    def key(self, job: Job) -> SendKey:
        return SendKey(self.config.series.id, job.occurrence.scheduled, job.message)

    async def run_due(self, now: dt.datetime) -> Round:
        """Do every job that is due (see the module's docstring)."""
        result = Round()
        for job in self.jobs(now):
            if self.should_stop():
                break
            state = job.state(now)
            if state == "waiting":
                continue
            if state == "late":
                self._late(job, now, result)
                continue
            if job.blocked is not None:
                self._report(
                    job.id,
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
            except MailerError as error:
                log.error("the %s of %s failed: %s", job.kind, job.occurrence.scheduled, error)
                result.failed.append(job.id)
        return result

    def _late(self, job: Job, now: dt.datetime, result: Round) -> None:
        """A job whose deadline passed: whatever was not sent is skipped, and said so once."""
        if job.deadline < now - self.config.daemon.missed_lookback or job.kind == "warning":
            return
        key = self.key(job)
        with self.workspace.state() as state:
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
                job.id,
                f"MISSED: the {job.kind} of {job.occurrence.scheduled} "
                f"(due {job.due:%Y-%m-%d %H:%M}Z, too late since "
                f"{job.deadline:%Y-%m-%d %H:%M}Z): {how}",
            )
        result.skipped.append(job.id)

    def _report(self, job_id: str, message: str) -> None:
        if job_id not in self._reported:
            self._reported.add(job_id)
            log.warning(message)

    async def _send(self, job: Job, now: dt.datetime, result: Round) -> None:
        assert job.kind != "warning"
        request = SendRequest(
            job.occurrence.scheduled,
            job.kind,
            job.segments,
            message=job.message,
            deadline=job.deadline,
        )
        lock = sender_lock(self.workspace.database())
        lock.acquire()
        try:
            with self.workspace.state() as state:
                # a finished send is looked at again only when a list (or any file) or the
                # suppression list changed: resolving 100,000 people every few minutes is waste
                settled = (self._files, suppression_count(state))
                if self._settled.get(job.id) == settled:
                    return
                plan = plan_send(self.workspace, state, request, now)
                if plan.to_send == 0:
                    if Ledger(state).complete(plan.key):
                        self._settled[job.id] = settled
                    return
                record_plan(state, plan, now)
                log.info(
                    "sending the %s of %s: %d to send", job.kind, plan.key.session, plan.to_send
                )
                outcome = await run_send(
                    self.workspace,
                    state,
                    plan,
                    transport=self.transport(self.config, self.workspace),
                    on_engine=self.on_engine,
                )
                counts = Ledger(state).counts(plan.key)
        finally:
            lock.release()
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
            result.failed.append(job.id)

    async def _warn(self, job: Job, now: dt.datetime) -> None:
        """Email the organiser, once, that the session's file is missing."""
        config = self.config
        key = self.key(job)
        to = config.daemon.warn_to or config.organiser.email
        with self.workspace.state() as state:
            ledger = Ledger(state)
            if ledger.complete(key):
                return
            ledger.plan(
                key,
                "warning",
                segments=(),
                deadline=job.deadline,
                now=now,
                recipients=[Recipient(email=to, key=to, language="en", ascii_email=to)],
            )
            claimed = ledger.claim(key, 1, now, config.delivery.sending.max_attempts) or []
            for item in claimed:
                notice = missing_file_notice(
                    config, job.occurrence, job.deadline, now, WARNING_MESSAGE
                )
                lane = await self.transport(config, self.workspace).open_lane()
                try:
                    reply = await lane.send(notice)
                    ledger.record(
                        [Outcome(item.id, "sent", notice.message_id, reason=reply[:200])], now
                    )
                    log.warning(
                        "WARNED %s: session %s has no file and its invitation is due %s",
                        to,
                        job.occurrence.scheduled,
                        job.deadline,
                    )
                except MailerError as error:
                    ledger.record(
                        [
                            Outcome(
                                item.id,
                                "retry",
                                reason=str(error),
                                next_attempt=now + dt.timedelta(minutes=5),
                            )
                        ],
                        now,
                    )
                finally:
                    await lane.close()

    def next_wakeup(self, now: dt.datetime) -> dt.datetime | None:
        """The next instant something becomes due: a job, or a retry of a send in progress."""
        jobs = self.jobs(now)
        upcoming = [job.due for job in jobs if job.due > now]
        with self.workspace.state() as state:
            ledger = Ledger(state)
            for job in jobs:
                if job.state(now) == "due":
                    retry = ledger.next_retry(
                        self.key(job), self.config.delivery.sending.max_attempts
                    )
                    if retry is not None:
                        upcoming.append(max(retry, now))
        return min(upcoming, default=None)
