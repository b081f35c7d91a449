"""The warning to the organiser that a session's file is missing while its invitation is due
(the daemon's `warning` job): one email, in the ledger like any send, so it goes once."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from mailer.config.settings import Config
from mailer.errors import MailerError
from mailer.messages.notices import organiser_notice
from mailer.model import Recipient
from mailer.sending.cadence import Job
from mailer.store.ledger import Ledger, Outcome, SendKey
from mailer.store.state import State
from mailer.transport.base import Transport

log = logging.getLogger("mailer.daemon")


async def warn_missing_file(
    config: Config,
    state: State,
    key: SendKey,
    job: Job,
    *,
    transport: Callable[[], Transport],
    now: dt.datetime,
) -> None:
    """Email the organiser, once, that the session's file is missing (a send of one email,
    in the ledger, to the organiser: `key`)."""
    to = config.daemon.warn_to or config.organiser.email
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
        notice = organiser_notice(
            config,
            f"missing-file:{job.occurrence.scheduled}",
            "missing_file",
            now,
            number=job.occurrence.number,
            session=job.occurrence.scheduled,
            start=job.occurrence.start,
            due=job.deadline,
            path=f"{config.series.sessions_dir}/{job.occurrence.scheduled}.toml",
        )
        lane = await transport().open_lane()
        try:
            reply = await lane.send(notice)
            ledger.record([Outcome(item.id, "sent", notice.message_id, reason=reply[:200])], now)
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
