"""Several daemons on several hosts (PostgreSQL): who leads, and what wakes the others.

Every daemon renews or tries to take the leader's lease every third of a lease
(`[state] lease`), in a task of its own, whatever its rounds are doing: a leader in the middle
of a long send keeps its lease, and a follower takes over within a lease of the leader's last
renewal, then starts a round at once (the reminder the dead leader did not plan goes now).
A follower also listens for the work others plan (LISTEN/NOTIFY) and starts a round to help
send it; the daemon's `check_every` tick is the fallback when a wake-up is lost.

With SQLite one daemon runs (the daemon lock): it leads from its first round, and nothing here
runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable

from mailer.errors import MailerError
from mailer.project.workspace import Workspace
from mailer.sending.due import DaemonCore
from mailer.store.leases import release

log = logging.getLogger("mailer.daemon")
LISTEN_POLL = 5.0  # seconds between two looks at whether the daemon stops, while listening


async def keep_leading(
    core: DaemonCore, *, wake: Callable[[], None], stopping: Callable[[], bool]
) -> None:
    """Renew the leadership, or take it once it runs out, every third of a lease; a daemon
    that becomes the leader starts a round (`wake`)."""
    while not stopping():
        before = core.held
        try:
            leading = await asyncio.to_thread(core.lead)
        except MailerError as error:  # its lease runs out: its fenced writes are refused
            log.warning("cannot renew or take the leadership: %s", error)
        else:
            if leading and (before is None or core.held != before):
                wake()
        await asyncio.sleep(core.config.lease.total_seconds() / 3)


def give_up_leadership(core: DaemonCore) -> None:
    """A clean stop: another daemon takes over at once, not a lease later."""
    held, core.held = core.held, None
    if held is None:
        return
    with contextlib.suppress(MailerError), core.project.store.open() as state:
        release(state, held)
        log.info("gave the leadership up (epoch %d)", held.epoch)


def listen_for_work(
    workspace: Callable[[], Workspace], wake: Callable[[], None], stop: threading.Event
) -> None:
    """In a thread: wake the daemon when another planned work (PostgreSQL only)."""
    signal = workspace().store().work_signal()
    if signal is None:
        return
    try:
        while not stop.is_set():
            try:
                if signal.wait(LISTEN_POLL):
                    wake()
            except MailerError as error:  # the database away: the tick polls meanwhile
                log.debug("listening for planned work: %s", error)
                stop.wait(LISTEN_POLL)
    finally:
        signal.close()
