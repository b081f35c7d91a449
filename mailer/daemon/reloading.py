"""The daemon's project, kept current: its core made from a workspace, a reload when a watched
file changes (refused, the old configuration running on, when the edit does not pass `mailer
check`), and with several hosts the session files brought up to date with the copies saved in
the state (`mailer.project.shared_files`) before a round."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Callable

from mailer.actions.project import check
from mailer.errors import InvalidInput, MailerError
from mailer.project.shared_files import STATUS_FILE, bring_up_to_date
from mailer.project.watch import fingerprint
from mailer.project.workspace import Workspace
from mailer.sending.due import DaemonCore
from mailer.sending.engine import Engine
from mailer.transport.base import Transport

log = logging.getLogger("mailer.daemon")


def check_workspace(workspace: Workspace) -> None:
    """`mailer check` on a workspace, secrets included: InvalidInput (exit 2) listing every
    problem."""
    check(
        workspace.project(),
        workspace.templates(),
        now=workspace.now(),
        secret_problems=workspace.secret_problems(mailbox=True),
    )


TransportFor = Callable[[Workspace], Callable[[], Transport]]


def configured_transport(workspace: Workspace) -> Callable[[], Transport]:
    """The transport config.toml asks for (what the daemon uses, unless a test says otherwise)."""
    return workspace.transport


def daemon_core(
    workspace: Workspace,
    *,
    transport_for: TransportFor = configured_transport,
    on_engine: Callable[[Engine], None] = lambda _: None,
    should_stop: Callable[[], bool] = lambda: False,
) -> DaemonCore:
    """The daemon's work on the workspace's project, with its adapters."""
    return DaemonCore(
        workspace.project(),
        workspace.templates(),
        signing_key=workspace.signing_key,
        transport=transport_for(workspace),
        clock=workspace.now,
        version=fingerprint(workspace.config_path, workspace.project()),
        on_engine=on_engine,
        should_stop=should_stop,
    )


class Reloader:
    """Reloads the configuration when a watched file changes (or when asked), refusing an edit
    that does not pass `mailer check`: the configuration in use keeps running."""

    def __init__(
        self,
        workspace: Workspace,
        core: DaemonCore,
        transport_for: TransportFor = configured_transport,
    ) -> None:
        self.workspace = workspace
        self.core = core
        self.transport_for = transport_for
        self._files = fingerprint(workspace.config_path, workspace.project())
        self.refused: str | None = None  # why the last edit was refused, if it was

    def refresh(self, *, force: bool = False) -> bool:
        """Reload if a watched file changed (or if forced): True if reloaded."""
        files = fingerprint(self.workspace.config_path, self.workspace.project())
        if not force and files == self._files:
            return False
        candidate = self.workspace.fresh()
        self._files = files  # a refused edit is not checked again until the files change
        try:
            check_workspace(candidate)
        except InvalidInput as error:
            count = sum(1 for problem in error.problems if problem.is_error)
            self.refused = f"{error} ({count} problem{'s' * (count != 1)})"
            log.error("the new configuration is refused, the old one keeps running: %s", error)
            errors = [str(problem) for problem in error.problems if problem.is_error]
            for line in errors:
                log.error("  %s", line)
            detail = "\n".join(f"    {line}" for line in errors) or f"    {error}"
            digest = hashlib.sha256(detail.encode()).hexdigest()[:16]
            self.core.notify(f"refused:{digest}", "refused", None, detail)
            return False
        self.workspace = candidate
        self._files = fingerprint(candidate.config_path, candidate.project())
        self.core.use(
            candidate.project(),
            candidate.templates(),
            transport=self.transport_for(candidate),
            version=self._files,
        )
        self.refused = None
        log.info("reloaded the configuration")
        return True


async def sync_session_files(reloader: Reloader) -> bool:
    """With several hosts (PostgreSQL): publish this folder's edited session files, take the
    ones saved elsewhere; whether files were written here (then reload). Not while an edit is
    refused: a broken file is never published."""
    workspace = reloader.workspace
    store = workspace.store()
    if not store.shared or reloader.refused is not None:
        return False

    def sync() -> list[str]:
        with store.open() as state:
            status = store.local_folder / STATUS_FILE
            return bring_up_to_date(workspace.project(), state, status, workspace.now())

    try:
        return bool(await asyncio.to_thread(sync))
    except (MailerError, OSError) as error:  # the next round tries again
        log.error("cannot bring the session files up to date with the saved copies: %s", error)
        return False
