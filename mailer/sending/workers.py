"""Sending with several processes: Python runs one core per process, and a big send has two
cores' worth of work (composing, and aiosmtplib's own per-message processing).

The parent holds the sender lock, planned and recorded the send, and recovered what a crash
left `sending`; then it starts P - 1 workers (spawned, each with its own event loop, composer,
connections and ledger connection) and sends its own share meanwhile, already warm (its
project read, its templates compiled), while the workers start. All claim batches from the same
ledger until nothing is due. SQLite serialises their claims and records; each keeps `batch / P`
deliveries unrecorded at most, so the duplicates a crash can cause stay at `batch`. The
connections are shared out; the rate, the relay's slow-downs and its caps are kept in the state
for every sender (`mailer.store.relays`; caps inside each claim's transaction). Workers die
with the parent (Linux PR_SET_PDEATHSIG), so killing `mailer send` stops every sender.
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
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from mailer.config.settings import DkimSettings
from mailer.errors import EXIT_INTERRUPTED, MailerError, SetupFailure
from mailer.messages.templates import TemplateSet
from mailer.model import MessageKind
from mailer.project.clock import Clock
from mailer.project.load import Project, load_project, load_templates
from mailer.sending.plan import SendPlan, plan_from_ledger
from mailer.sending.progress import RunResult, Tally
from mailer.sending.run import run_send
from mailer.store.ledger import Ledger, SendKey
from mailer.store.location import StoreLocation
from mailer.store.state import State
from mailer.transport.factory import build_transport

if TYPE_CHECKING:
    from mailer.transport.dkim import DkimSigner

MINIMUM_PER_WORKER = 10_000  # emails each process must have, or one process is as fast
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGHUP: the terminal went away
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
    restored: bool = False  # the plan's: an update that undoes a cancellation


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity, which containers set)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def processes_for(to_send: int, configured: int | None, cores: int | None = None) -> int:
    """How many processes are worth starting for a send of `to_send` emails: `configured`,
    or one per core (None, "auto"), and never more than one per `MINIMUM_PER_WORKER`."""
    wanted = configured if configured is not None else cores or usable_cores()
    return max(1, min(wanted, to_send // MINIMUM_PER_WORKER))


def _signer(settings: DkimSettings | None, pem: bytes | None) -> DkimSigner | None:
    if settings is None or pem is None:
        return None
    from mailer.transport.dkim import DkimSigner, read_key  # noqa: PLC0415 - dkimpy when used

    return DkimSigner(settings, read_key(pem))


def _share(project: Project, job: WorkerJob) -> Project:
    """The project as one process sends it: its share of connections, rate and batch."""
    delivery = project.config.delivery
    smtp = dataclasses.replace(delivery.smtp, connections=job.connections, rate=job.rate)
    sending = dataclasses.replace(delivery.sending, batch=job.batch)
    delivery = dataclasses.replace(delivery, smtp=smtp, sending=sending)
    return dataclasses.replace(
        project, config=dataclasses.replace(project.config, delivery=delivery)
    )


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
        project = _share(load_project(Path(launch.config_path)), job)
        config = project.config
        with project.store.open() as state:
            key = SendKey(config.series.id, job.day, job.message)
            plan = plan_from_ledger(project, state, key, job.kind, clock(), restored=job.restored)
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


def _jobs(launch: Launch, plan: SendPlan, project: Project, processes: int) -> list[WorkerJob]:
    """Each process's share: the connections and the batch, split evenly (the rate is the
    relay's: each batch's turn at it is reserved in the state)."""
    smtp, sending = project.config.delivery.smtp, project.config.delivery.sending
    return [
        WorkerJob(
            launch,
            plan.key.session,
            plan.kind,
            plan.key.message,
            max(1, smtp.connections // processes + (index < smtp.connections % processes)),
            smtp.rate,  # every batch reserves its turn at it (mailer.store.relays)
            max(1, sending.batch // processes),
            plan.restored,
        )
        for index in range(processes)
    ]


def run_parallel(
    project: Project,
    templates: TemplateSet,
    state: State,
    plan: SendPlan,
    processes: int,
    *,
    launch: Launch,
    clock: Callable[[], dt.datetime],
    on_progress: Callable[[Tally], None],
    on_hard_stop: Callable[[], None] = lambda: None,
) -> RunResult:
    """Send with this process and `processes - 1` workers; the caller holds the sender lock
    and recorded the plan. Ctrl-C, SIGTERM or SIGHUP: every sender stops cleanly; a second
    one: at once."""
    sending = project.config.delivery.sending
    Ledger(state).recover(plan.key, clock(), sending.max_attempts)
    before = Ledger(state).counts(plan.key)
    own, *others = _jobs(launch, plan, project, processes)
    context = multiprocessing.get_context("spawn")
    results: multiprocessing.queues.Queue[Any] = context.Queue()
    workers = [
        context.Process(
            target=_worker, args=(job, os.getpid(), results), name=f"mailer-sender-{index}"
        )
        for index, job in enumerate(others, start=1)
    ]
    for worker in workers:
        worker.start()
    tally = Tally()
    watching = threading.Event()
    watcher = threading.Thread(
        target=_watch,
        args=(project.store, plan),
        kwargs={"before": before, "tally": tally, "on_progress": on_progress, "done": watching},
        daemon=True,
    )
    watcher.start()
    try:
        mine = asyncio.run(
            _send_here(
                project,
                templates,
                state,
                plan,
                job=own,
                workers=workers,
                clock=clock,
                on_hard_stop=on_hard_stop,
            )
        )
    finally:
        watching.set()
        watcher.join()
    tally.retrying, tally.unknown = mine.tally.retrying, mine.tally.unknown
    abort = mine.abort
    for _ in workers:
        if results.empty():
            break
        _, counts, error, _stopped = results.get(timeout=5)
        if error is not None and abort is None:
            abort = SetupFailure(error)
        if counts:
            tally.retrying += counts["retrying"]
            tally.unknown += counts["unknown"]
    _progress(tally, before, Ledger(state).counts(plan.key))
    return RunResult(tally, mine.stopped and abort is None, abort)


async def _send_here(
    project: Project,
    templates: TemplateSet,
    state: State,
    plan: SendPlan,
    *,
    job: WorkerJob,
    workers: Sequence[multiprocessing.process.BaseProcess],
    clock: Callable[[], dt.datetime],
    on_hard_stop: Callable[[], None],
) -> RunResult:
    """The parent's share of the send, then the wait for the workers; signals reach all."""
    loop = asyncio.get_running_loop()
    engines: list[Any] = []
    stops = {"count": 0}

    def stop() -> None:
        stops["count"] += 1
        first = stops["count"] == 1
        for worker in workers:
            if worker.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGTERM if first else signal.SIGKILL)
        if not first:
            on_hard_stop()
            os._exit(EXIT_INTERRUPTED)
        for engine in engines:
            engine.stop()

    for signum in STOP_SIGNALS:
        loop.add_signal_handler(signum, stop)
    try:
        shared = _share(project, job)
        launch = job.launch
        result = await run_send(
            shared,
            templates,
            state,
            plan,
            signing_key=launch.signing_key,
            transport=build_transport(
                shared.config.delivery,
                resolve=project.path,
                password=launch.smtp_password,
                signer=_signer(shared.config.dkim, launch.dkim_key),
            ),
            clock=clock,
            on_engine=engines.append,
            recover=False,
        )
        await asyncio.to_thread(_join, workers)
    finally:
        for signum in STOP_SIGNALS:
            loop.remove_signal_handler(signum)
    return RunResult(result.tally, stops["count"] > 0, result.abort)


def _join(workers: Sequence[multiprocessing.process.BaseProcess]) -> None:
    for worker in workers:
        worker.join()


def _watch(
    store: StoreLocation,
    plan: SendPlan,
    *,
    before: Any,
    tally: Tally,
    on_progress: Callable[[Tally], None],
    done: threading.Event,
) -> None:
    """Progress of every sender, read from the ledger twice a second (its own
    connection, in its own thread: the lanes never wait for it)."""
    with store.open() as state:
        ledger = Ledger(state)
        while not done.wait(0.5):
            _progress(tally, before, ledger.counts(plan.key))
            on_progress(tally)


def _progress(tally: Tally, before: Any, now: Any) -> None:
    tally.sent = now.get("sent", 0) - before.get("sent", 0)
    tally.failed = now.get("failed", 0) - before.get("failed", 0)
    tally.skipped = now.get("skipped", 0) - before.get("skipped", 0)
