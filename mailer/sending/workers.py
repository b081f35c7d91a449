"""Sending with several processes: Python runs one core per process, and a big send has two
cores' worth of work (composing, and aiosmtplib's own per-message processing).

The parent holds the sender lock, planned and recorded the send, and recovered what a crash
left `sending`; then P workers (spawned, each with its own event loop, composer, connections
and ledger connection) claim batches from the same ledger until nothing is due. SQLite
serialises their claims and records; each worker keeps `batch / P` deliveries unrecorded at
most, so the duplicates a crash can cause stay at `batch`. The connections and the rate are
shared out between workers; relay caps are checked inside each claim's transaction. Workers
die with the parent (Linux PR_SET_PDEATHSIG), so killing `mailer send` stops every sender.
Progress is read from the ledger.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import dataclasses
import datetime as dt
import multiprocessing
import multiprocessing.queues
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from mailer.audience.segments import Resolution
from mailer.config.settings import DkimSettings
from mailer.errors import MailerError, SetupFailure, TransportError
from mailer.model import MessageKind, Occurrence
from mailer.project.clock import Clock
from mailer.project.load import Project, load_project, load_templates
from mailer.recurrence import find_occurrence
from mailer.sending.plan import SendPlan
from mailer.sending.progress import RunResult, Tally
from mailer.sending.run import run_send
from mailer.store.ledger import Ledger, SendKey
from mailer.store.revisions import session_revision
from mailer.store.state import State
from mailer.transport.factory import build_transport

if TYPE_CHECKING:
    from mailer.transport.dkim import DkimSigner

MINIMUM_PER_WORKER = 500  # below this, one process is faster than starting others
_PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Launch:
    """What every worker of a send needs from its parent to rebuild the send on its own: the
    project's config file, the clock's (a rehearsal's) instant, and the secrets, which the
    parent read from its environment."""

    config_path: str
    simulated_now: str | None
    signing_key: bytes
    smtp_password: str | None
    dkim_key: bytes | None = None  # the PEM `[dkim]` signs with


@dataclass(frozen=True)
class WorkerJob:
    """One worker's share of the send."""

    launch: Launch
    day: dt.date
    kind: MessageKind
    message: str
    connections: int
    rate: float
    batch: int


def processes_for(plan: SendPlan, configured: int) -> int:
    """How many processes are worth starting for this send."""
    return max(1, min(configured, plan.to_send // MINIMUM_PER_WORKER))


def _signer(settings: DkimSettings | None, pem: bytes | None) -> DkimSigner | None:
    if settings is None or pem is None:
        return None
    from mailer.transport.dkim import DkimSigner, read_key  # noqa: PLC0415 - dkimpy when used

    return DkimSigner(settings, read_key(pem))


def _die_with_parent(parent: int) -> None:
    library = ctypes.util.find_library("c")
    if library:
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(library, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before we asked
        os._exit(1)


def _worker(job: WorkerJob, parent: int, results: multiprocessing.queues.Queue[Any]) -> None:
    _die_with_parent(parent)
    launch = job.launch
    clock = Clock(dt.datetime.fromisoformat(launch.simulated_now) if launch.simulated_now else None)
    try:
        project = load_project(Path(launch.config_path))
        config = project.config
        delivery = config.delivery
        settings = dataclasses.replace(delivery.smtp, connections=job.connections, rate=job.rate)
        sending = dataclasses.replace(delivery.sending, batch=job.batch)
        config = dataclasses.replace(
            config, delivery=dataclasses.replace(delivery, smtp=settings, sending=sending)
        )
        project = dataclasses.replace(project, config=config)
        with State(project.database) as state:
            plan = _plan(project, state, job, clock())
            engines: list[Any] = []

            def stop(_signum: int, _frame: FrameType | None) -> None:
                for engine in engines:
                    engine.stop()

            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            transport = build_transport(
                config.delivery,
                resolve=project.path,
                password=launch.smtp_password,
                signer=_signer(config.dkim, launch.dkim_key),
            )
            result = asyncio.run(
                run_send(
                    project,
                    load_templates(project),
                    state,
                    plan,
                    signing_key=launch.signing_key,
                    transport=transport,
                    clock=clock,
                    on_engine=engines.append,
                    recover=False,
                )
            )
        results.put(
            (
                "done",
                dataclasses.asdict(result.tally),
                str(result.abort) if result.abort else None,
                result.stopped,
            )
        )
    except MailerError as error:
        results.put(("error", None, f"{error}", False))


def _plan(project: Project, state: State, job: WorkerJob, now: dt.datetime) -> SendPlan:
    """The parent's plan, rebuilt from the ledger (the recipients are in it already)."""
    config = project.config
    occurrence: Occurrence = find_occurrence(config.series, project.sessions, job.day)
    revision = session_revision(state, config, occurrence, now)
    key = SendKey(config.series.id, occurrence.scheduled, job.message)
    deadline = Ledger(state).deadline(key)
    assert deadline is not None, "the parent records the send before starting workers"
    return SendPlan(
        key, job.kind, occurrence, revision, (), deadline, lambda: iter(()), 0, Resolution(), []
    )


def run_parallel(
    project: Project,
    plan: SendPlan,
    processes: int,
    on_progress: Callable[[Tally], None],
    *,
    launch: Launch,
    now: dt.datetime,
) -> RunResult:
    """Send with `processes` worker processes; the caller holds the sender lock and recorded
    the plan. Ctrl-C, SIGTERM or SIGHUP: the workers stop cleanly; a second one: they stop at
    once."""
    config = project.config
    smtp, sending = config.delivery.smtp, config.delivery.sending
    with State(project.database) as state:
        Ledger(state).recover(plan.key, now, sending.max_attempts)
        before = Ledger(state).counts(plan.key)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.queues.Queue[Any] = context.Queue()
    workers = []
    for index in range(processes):
        share = smtp.connections // processes + (index < smtp.connections % processes)
        job = WorkerJob(
            launch,
            plan.key.session,
            plan.kind,
            plan.key.message,
            max(1, share),
            smtp.rate / processes,
            max(1, sending.batch // processes),
        )
        worker = context.Process(
            target=_worker, args=(job, os.getpid(), results), name=f"mailer-sender-{index}"
        )
        worker.start()
        workers.append(worker)
    tally = Tally()
    stops = {"count": 0}

    def forward(_signum: int, _frame: FrameType | None) -> None:
        stops["count"] += 1
        for worker in workers:
            if worker.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGTERM if stops["count"] == 1 else signal.SIGKILL)

    stops_on = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {s: signal.signal(s, forward) for s in stops_on}
    try:
        with State(project.database) as state:
            ledger = Ledger(state)
            while any(worker.is_alive() for worker in workers):
                time.sleep(0.25)
                _progress(tally, before, ledger.counts(plan.key))
                on_progress(tally)
        for worker in workers:
            worker.join()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    abort: TransportError | None = None
    for _ in workers:
        if results.empty():
            break
        _, counts, error, _stopped = results.get(timeout=5)
        if error is not None:
            abort = SetupFailure(error)
        if counts:
            tally.retrying += counts["retrying"]
            tally.unknown += counts["unknown"]
    with State(project.database) as state:
        _progress(tally, before, Ledger(state).counts(plan.key))
    return RunResult(tally, stops["count"] > 0 and abort is None, abort)


def _progress(tally: Tally, before: Any, now: Any) -> None:
    tally.sent = now.get("sent", 0) - before.get("sent", 0)
    tally.failed = now.get("failed", 0) - before.get("failed", 0)
    tally.skipped = now.get("skipped", 0) - before.get("skipped", 0)
