"""The daemon's mailbox round: read the [mailbox] every `check_every`, in a worker thread
(IMAP is blocking), and tell the organiser what it suppressed."""

from __future__ import annotations

import logging
from collections.abc import Callable

from mailer.actions.mailbox import MailboxRound, capacities, read_inbox
from mailer.errors import LockHeld, MailerError
from mailer.project.workspace import Workspace
from mailer.sending.due import DaemonCore

log = logging.getLogger("mailer.daemon")


def read_mailbox_once(
    workspace: Workspace, core: DaemonCore, should_stop: Callable[[], bool]
) -> MailboxRound | None:
    """One reading of the mailbox (None without [mailbox], or when another reader is at
    it); a mailbox that cannot be read now is logged and tried at the next round."""
    config = workspace.project().config
    if config.mailbox is None:
        return None
    now = workspace.now()
    try:
        key = workspace.signing_key()
        lock = workspace.store().mailbox_lock()
        with lock, workspace.state() as state, workspace.mailbox() as inbox:
            done = read_inbox(
                config,
                state,
                inbox,
                key,
                now,
                should_stop=should_stop,
                capacities=capacities(workspace.project()),
            )
    except LockHeld:
        log.info("the mailbox is being read by another process: next round")
        return None
    except MailerError as error:
        log.warning("the mailbox waits for the next round: %s", error)
        raise
    if done.read:
        log.info(
            "mailbox: read %d (%s)",
            done.read,
            ", ".join(f"{n} {o}" for o, n in sorted(done.outcomes.items())),
        )
    if done.suppressed:
        detail = "\n".join(f"    {address}: {why}" for address, why in done.suppressed)
        core.notify(
            f"bounced:{now.isoformat()}", "bounced", None, detail, count=len(done.suppressed)
        )
    return done
