"""One-off sends started from the organisers' pages, run in the daemon's loop.

The same path as `mailer send`: plan against the ledger, record the plan before anything goes
out, run the engine under the sender lock; the page only watches the tally. A daemon stopping
(SIGTERM) stops them cleanly like its own sends: the ledger has the rest, for the next run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from mailer.actions.send import refuse_if_too_late
from mailer.errors import InvalidInput, MailerError, PlanChanged, SendPaused
from mailer.project.workspace import Workspace
from mailer.sending.engine import Engine
from mailer.sending.plan import SendPlan, SendRequest, plan_send, record_plan
from mailer.sending.progress import Tally
from mailer.sending.run import run_send
from mailer.store.ledger import Ledger, SendKey
from mailer.store.location import Lock
from mailer.store.pauses import pause, paused, resume
from mailer.store.web import audit

log = logging.getLogger("mailer.web")
_numbers = itertools.count(1)


@dataclass
class WebSend:
    """A send started from the pages, as the progress page shows it."""

    number: int
    organiser: str
    request: SendRequest
    to_send: int
    started: dt.datetime
    tally: Tally = field(default_factory=Tally)
    finished: bool = False
    counts: dict[str, int] = field(default_factory=dict)  # the whole send, by state, at the end
    problem: str | None = None
    engine: Engine | None = None
    key: SendKey | None = None
    paused_by: str | None = None  # who paused it (the rest waits in the ledger)
    resumed_as: int | None = None  # the send that resumed it


class WebSends:
    """The sends started from the pages since the daemon started."""

    def __init__(self, on_finished: Callable[[], None] = lambda: None) -> None:
        self.on_finished = on_finished  # the daemon wakes: what waited for the lock can go
        self.sends: dict[int, WebSend] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.stopping = False

    def start(
        self,
        workspace: Workspace,
        request: SendRequest,
        confirmed: int,
        who: str,
        *,
        resuming: bool = False,
    ) -> WebSend:
        """Record the plan the organiser confirmed and start sending it (LockHeld when another
        send runs; PlanChanged when the plan is no longer what they saw; SendPaused when it is
        paused, unless this resumes it)."""
        now = workspace.now()
        lock = workspace.store().sender_lock()
        lock.acquire()
        try:
            with workspace.state() as state:
                plan = plan_send(workspace.project(), state, request, now)
                refuse_if_too_late(plan, now)
                if plan.to_send != confirmed:
                    raise PlanChanged(
                        f"the plan changed since you saw it: {plan.to_send} emails to send now, "
                        f"not {confirmed}; look at it again"
                    )
                if plan.to_send == 0:
                    raise InvalidInput("nothing to send: everyone in the plan has been served")
                if resuming:
                    resume(state, plan.key)
                elif (held := paused(state, plan.key)) is not None:
                    raise SendPaused(
                        f"this send is paused (by {held.by}): resume it on its progress page"
                    )
                record_plan(state, plan, now)
                action = "resume" if resuming else "send"
                detail = f"{_what(request)}: {plan.to_send} emails"
                audit(state, who, action, subject=str(request.day), detail=detail, now=now)
        except BaseException:
            lock.release()
            raise
        sent = WebSend(next(_numbers), who, request, plan.to_send, now, key=plan.key)
        self.sends[sent.number] = sent
        log.info("%s started the %s of %s: %d emails", who, request.kind, request.day, confirmed)
        task = asyncio.create_task(self._run(workspace, plan, sent, lock))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return sent

    async def _run(self, workspace: Workspace, plan: SendPlan, sent: WebSend, lock: Lock) -> None:
        def on_progress(tally: Tally) -> None:
            sent.tally = tally

        def on_engine(engine: Engine) -> None:
            sent.engine = engine
            if self.stopping:
                engine.stop()

        try:
            with workspace.state() as state:
                outcome = await run_send(
                    workspace.project(),
                    workspace.templates(),
                    state,
                    plan,
                    signing_key=workspace.signing_key(),
                    transport=workspace.transport(),
                    clock=workspace.now,
                    on_progress=on_progress,
                    on_engine=on_engine,
                    wait_for_retries=dt.timedelta(0),  # the daemon retries in later rounds
                )
                sent.tally = outcome.tally
                if outcome.abort is not None:
                    sent.problem = str(outcome.abort)
                sent.counts = dict(Ledger(state).counts(plan.key))
        except MailerError as error:
            sent.problem = str(error)
        except Exception as error:  # a bug: logged, shown as such, the daemon goes on
            log.exception("the send started from the pages failed")
            sent.problem = f"an internal error ({type(error).__name__}); see the daemon's log"
        finally:
            lock.release()
            sent.finished = True
            self.on_finished()
            log.info(
                "the %s of %s started by %s: %d sent, %d failed",
                plan.kind,
                plan.key.session,
                sent.organiser,
                sent.tally.sent,
                sent.tally.failed,
            )

    def pause(self, workspace: Workspace, sent: WebSend, who: str) -> None:
        """Pause a send: the messages in flight finish, the rest waits in the ledger, and
        nobody sends it (another organiser, `mailer send`, a daemon) until it is resumed."""
        assert sent.key is not None
        now = workspace.now()
        with workspace.state() as state:
            pause(state, sent.key, who, now)
            audit(
                state,
                who,
                "pause",
                subject=str(sent.request.day),
                detail=_what(sent.request),
                now=now,
            )
        sent.paused_by = who
        if sent.engine is not None and not sent.finished:
            sent.engine.stop()
        log.info("%s paused the %s of %s", who, sent.request.kind, sent.request.day)

    def resume(self, workspace: Workspace, sent: WebSend, confirmed: int, who: str) -> WebSend:
        """Lift the pause and send what is left (as `start`: the plan the organiser saw)."""
        resumed = self.start(workspace, sent.request, confirmed, who, resuming=True)
        sent.resumed_as = resumed.number
        log.info("%s resumed the %s of %s", who, sent.request.kind, sent.request.day)
        return resumed

    def stop(self) -> None:
        """The daemon stops: in-flight messages finish, the rest waits in the ledger."""
        self.stopping = True
        for sent in self.sends.values():
            if sent.engine is not None and not sent.finished:
                sent.engine.stop()

    async def wait(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


def _what(request: SendRequest) -> str:
    """The audit log's detail of a send: "reminder to partners"."""
    return f"{request.kind} to {', '.join(request.segments) or 'those served'}"
