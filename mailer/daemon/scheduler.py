"""`mailer daemon`: the series runs itself. The only module that imports APScheduler.

The schedule is derived from config.toml, the session files and the ledger, at start and on
every reload; nothing is pickled into a job store. APScheduler only *wakes* a runner task of
ours, which asks `DaemonCore` to do whatever is due; the ledger decides what that is, so a
double fire, a restart or a catch-up sends nothing twice. Designed around APScheduler 3.x's
traps (each pinned by tests/integration/test_daemon_scheduler.py):

- `misfire_grace_time` defaults to 1 s, and a job later than that is dropped silently: ours
  is None (run however late) with `coalesce`; lateness is judged by `send_by`, in the ledger.
- one-shot (date) jobs are deleted when submitted, so a crash during one loses it: our jobs
  carry no state; on restart the schedule is derived again, and the ledger has the rest.
- a job store shared by two processes double-fires: ours is in memory, and a second daemon on
  the same state file is refused (a lock beside it). With PostgreSQL, daemons on several
  hosts elect a leader in the database (`mailer.daemon.leadership`); APScheduler stays each
  host's local timer.
- the asyncio executor cancels running jobs at shutdown: our jobs only set an event; sends run
  in our own task, which SIGTERM stops cleanly (in-flight messages finish, the rest is parked)
  before the scheduler shuts down.
- cron weekday numbers start at Monday = 0 (Sunday = 0 in crontab): we use no cron trigger;
  session dates come from the RFC 5545 rule (python-dateutil).

SIGHUP, or a change to config.toml, a session file, a list or a template, reloads; a new
config that does not pass `mailer check` is refused and the old one keeps running.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
import threading
from typing import Any

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger

from mailer.daemon.leadership import give_up_leadership, keep_leading, listen_for_work
from mailer.daemon.logs import configure_logging
from mailer.daemon.mailbox_round import read_mailbox_once
from mailer.daemon.reloading import Reloader, check_workspace, daemon_core, sync_session_files
from mailer.errors import EXIT_FAILURE, EXIT_TEMPFAIL, MailerError
from mailer.project.workspace import Workspace
from mailer.sending.due import Round
from mailer.sending.engine import Engine
from mailer.web.guard import KEEPALIVE, GuardedServer
from mailer.web.organisers import organisers_server
from mailer.web.public import make_app
from mailer.web.sends import WebSends

log = logging.getLogger("mailer.daemon")
JOB_DEFAULTS = {"misfire_grace_time": None, "coalesce": True, "max_instances": 1}


class Daemon:
    def __init__(self, workspace: Workspace) -> None:
        self.core = daemon_core(
            workspace, on_engine=self._engine_started, should_stop=self.stopping
        )
        self.reloader = Reloader(workspace, self.core)
        self.last_round: Round | None = None
        self.scheduler = AsyncIOScheduler(timezone=dt.UTC, job_defaults=JOB_DEFAULTS)
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._reload = False
        self._engine: Engine | None = None
        self._ticks = 0
        self._next_due: dt.datetime | None = None  # the next wake-up, on the daemon's clock
        self._mailbox_due = True  # read at start, then every [mailbox] check_every
        self.mailbox_error: str | None = None
        # one-off sends started from the organisers' pages; the daemon's own sends wait for
        # them (the sender lock), and go as soon as one ends
        self.web_sends = WebSends(on_finished=self._wakeup.set)

    @property
    def workspace(self) -> Workspace:
        """The workspace in use (a reload replaces it)."""
        return self.reloader.workspace

    # -- what the outside sees -----------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Alive ("ok", or "degraded" with what needs a person in `attention`), or "failing"
        (the scheduler stopped, the ledger cannot be read): docs/daemon.md, "Monitoring"."""
        report: dict[str, Any] = {
            "status": "ok",
            "scheduler": "running" if self.scheduler.running else "stopped",
            "rounds": self._ticks,
        }
        wake = self.scheduler.get_job("next")
        if self._next_due is not None:
            report["next_fire"] = self._next_due.isoformat()  # the daemon's clock (--now)
        if wake is not None and wake.next_run_time is not None:
            report["next_fire_wall"] = wake.next_run_time.isoformat()  # this machine's
            report["next_fire_timestamp"] = wake.next_run_time.timestamp()
        try:
            with self.workspace.state() as state:
                state.connection.execute("SELECT count(*) FROM deliveries").fetchone()
            report["ledger"] = "ok"
        except (MailerError, OSError) as error:
            report["ledger"] = str(error)
            report["status"] = "failing"
        if not self.scheduler.running:
            report["status"] = "failing"
        problems = []
        if self.mailbox_error is not None:
            report["mailbox"] = self.mailbox_error
            problems.append("mailbox")
        if self.reloader.refused is not None:  # still running, on the configuration before it
            report["config"] = f"the last edit was refused: {self.reloader.refused}"
            problems.append("config")
        last = self.last_round
        if last is not None and not last.ok:
            report["last_round"] = {
                "failed": last.failed,
                "relay_down": last.relay_down,
                "postponed": last.postponed,
            }
            problems.append("last_round")
        if self.workspace.store().shared:  # several daemons: which one leads
            held = self.core.held
            report["leader"] = held is not None
            if held is not None:
                report["epoch"] = held.epoch
        report["attention"] = problems
        if problems and report["status"] == "ok":
            report["status"] = "degraded"
        return report

    def request_stop(self) -> None:
        """SIGTERM/SIGINT: take no new work; the send in progress stops cleanly."""
        if not self._stopping:
            log.info("stopping: messages in flight finish, the rest waits for the next start")
        self._stopping = True
        if self._engine is not None:
            self._engine.stop()
        self.web_sends.stop()
        self._wakeup.set()

    def request_reload(self) -> None:
        self._reload = True
        self._wakeup.set()

    async def wake(self) -> None:
        """What every scheduler job does (a coroutine: it runs in our loop, not a thread)."""
        self._wakeup.set()

    async def wake_for_mailbox(self) -> None:
        self._mailbox_due = True
        self._wakeup.set()

    async def _read_mailbox(self) -> None:
        """The mailbox round, in a worker thread; its notices go at once."""
        if not self._mailbox_due or self.core.config.mailbox is None:
            return
        if self.core.held is None:  # several daemons: the leader reads it
            return
        self._mailbox_due = False
        try:
            await asyncio.to_thread(read_mailbox_once, self.workspace, self.core, self.stopping)
            self.mailbox_error = None
        except MailerError as error:
            self.mailbox_error = str(error)
        await self.core.send_notices(self.workspace.now())

    def _engine_started(self, engine: Engine) -> None:
        self._engine = engine
        if self._stopping:
            engine.stop()

    # -- running -------------------------------------------------------------------------------

    async def run(self) -> int:
        config = self.workspace.project().config
        lock = self.workspace.store().daemon_lock()
        lock.acquire()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        runner = web.AppRunner(
            make_app(lambda: self.workspace, self.health),
            access_log=None,
            keepalive_timeout=KEEPALIVE,
        )
        await runner.setup()
        server = GuardedServer(
            runner,
            config.http.host,
            config.http.port,
            key="http.listen",
            source=str(self.workspace.config_path),
        )
        pages = await organisers_server(
            lambda: self.workspace,
            reload=self.request_reload,
            health=self.health,
            sends=self.web_sends,
        )
        try:
            where = await server.start()  # the real port when [http] listen says 0
            if pages is not None:
                log.info("serving the organisers' pages on http://%s", await pages.start())
            self.scheduler.start()
            self.scheduler.add_job(
                self.wake,
                IntervalTrigger(seconds=config.daemon.check_every.total_seconds()),
                id="tick",
            )
            self._schedule_mailbox()
            log.info("started: %s, serving http://%s", self.workspace.config_path, where)
            self._wakeup.set()  # catch up at once with whatever is due
            await self._loop_with_others()
        finally:
            if self.scheduler.running:  # not yet, when an address could not be listened on
                self.scheduler.shutdown(wait=False)
            await self.web_sends.wait()
            server.close()
            await runner.cleanup()
            if pages is not None:
                pages.close()
                await pages.runner.cleanup()
            await asyncio.to_thread(give_up_leadership, self.core)
            lock.release()
            log.info("stopped")
        return 0

    def stopping(self) -> bool:
        """Whether a stop was asked for (a signal handler may set it during any await)."""
        return self._stopping

    async def _loop_with_others(self) -> None:
        """The rounds; with daemons on other hosts (PostgreSQL), beside them the leadership
        kept or taken, and the work others plan listened for."""
        if not self.workspace.store().shared:
            await self._loop()
            return
        loop = asyncio.get_running_loop()
        listening = threading.Event()

        def wake() -> None:
            loop.call_soon_threadsafe(self._wakeup.set)

        leading = asyncio.create_task(
            keep_leading(self.core, wake=self._wakeup.set, stopping=self.stopping)
        )
        listener = asyncio.create_task(
            asyncio.to_thread(listen_for_work, lambda: self.workspace, wake, listening)
        )
        try:
            await self._loop()
        finally:
            leading.cancel()
            listening.set()
            await asyncio.gather(leading, listener, return_exceptions=True)

    async def _loop(self) -> None:
        while not self.stopping():
            await self._wakeup.wait()
            self._wakeup.clear()
            if self.stopping():
                break
            self._ticks += 1
            try:
                self._reload_if_needed()
                if await sync_session_files(self.reloader):  # saved on another host
                    self._reload = True
                    self._reload_if_needed()
                self.last_round = await self.core.run_due(self.workspace.now())
                await self._read_mailbox()
            except MailerError as error:  # the database away, say: the next round tries again
                log.error("a round of the daemon stopped: %s", error)
            except Exception:  # a bug must not stop the series: log it, and go on
                log.exception("a round of the daemon failed")
            self._engine = None
            self._reschedule()

    def _reschedule(self) -> None:
        workspace = self.workspace
        now = workspace.now()
        try:
            upcoming = self.core.next_wakeup(now)
        except MailerError as error:  # the tick still wakes the daemon every check_every
            log.error("cannot compute the next wake-up: %s", error)
            upcoming = None
        except Exception:  # a bug, likewise
            log.exception("cannot compute the next wake-up")
            upcoming = None
        self._next_due = upcoming
        if upcoming is not None:
            run_at = max(upcoming, now) + dt.timedelta(milliseconds=50)
            if workspace.simulated_now is not None:  # a rehearsal's clock runs apart
                run_at = dt.datetime.now(dt.UTC) + (run_at - now)
            self.scheduler.add_job(
                self.wake, DateTrigger(run_date=run_at), id="next", replace_existing=True
            )

    def _reload_if_needed(self) -> None:
        force, self._reload = self._reload, False
        if self.reloader.refresh(force=force):
            every = self.core.config.daemon.check_every.total_seconds()
            self.scheduler.reschedule_job("tick", trigger=IntervalTrigger(seconds=every))
            self._schedule_mailbox()

    def _schedule_mailbox(self) -> None:
        """Read the mailbox every [mailbox] check_every (none without [mailbox]); a reload
        that adds, removes or changes it takes effect at once."""
        if self.scheduler.get_job("mailbox") is not None:
            self.scheduler.remove_job("mailbox")
        if (mailbox := self.core.config.mailbox) is not None:
            self._mailbox_due = True
            self.scheduler.add_job(
                self.wake_for_mailbox,
                IntervalTrigger(seconds=mailbox.check_every.total_seconds()),
                id="mailbox",
            )


def run_daemon(workspace: Workspace, log_format: str, *, once: bool = False) -> int:
    """Run until SIGTERM; 0 on a clean stop. A bad configuration stops it at once.

    `once`: do what is due now (and read the [mailbox], if any) and exit (cron, systemd
    timers, rehearsals): 0 if all went well, 1 if a send stopped on an error, 75 if another
    sender held the lock or the mailbox could not be read.
    """
    configure_logging(log_format)
    check_workspace(workspace)  # a bad configuration or missing secrets: InvalidInput, exit 2
    workspace.refuse_rehearsal_mail()
    workspace.refuse_placeholders()
    if once:
        return asyncio.run(_once(workspace))
    return asyncio.run(Daemon(workspace).run())


async def _once(workspace: Workspace) -> int:
    with workspace.store().daemon_lock():
        core = daemon_core(workspace)
        result = await core.run_due(workspace.now())
        mailbox_failed = False
        try:
            await asyncio.to_thread(read_mailbox_once, workspace, core, lambda: False)
        except MailerError:
            mailbox_failed = True
        await core.send_notices(workspace.now())
        give_up_leadership(core)
    log.info(
        "done: %d emails sent, %d sends too late, %d blocked",
        sum(result.sent.values()),
        len(result.skipped),
        len(result.blocked),
    )
    if result.failed:
        return EXIT_FAILURE
    return EXIT_TEMPFAIL if result.postponed or result.relay_down or mailbox_failed else 0
