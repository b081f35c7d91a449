"""Notices the daemon emails the organiser (plain text, English): a session file is missing."""

from __future__ import annotations

import datetime as dt
import email.policy
import email.utils
from email.headerregistry import Address
from email.message import EmailMessage

from mailer.config.settings import Config
from mailer.messages.compose import message_id
from mailer.model import Occurrence, Outgoing


def missing_file_notice(
    config: Config,
    occurrence: Occurrence,
    invitation_due: dt.datetime,
    now: dt.datetime,
    message: str,
) -> Outgoing:
    """Tell the organiser that a session has no file while its invitation is coming due."""
    to = config.daemon.warn_to or config.organiser.email
    path = f"{config.series.sessions_dir}/{occurrence.scheduled.isoformat()}.toml"
    local_due = invitation_due.astimezone(config.series.timezone)
    domain = Address(addr_spec=config.organiser.email).domain.encode("idna").decode()
    notice = EmailMessage(policy=email.policy.SMTP)
    notice["From"] = Address(f"mailer ({config.organiser.name})", addr_spec=config.organiser.email)
    notice["To"] = to
    notice["Subject"] = (
        f"[mailer] Session {occurrence.number} ({occurrence.scheduled.isoformat()}) has no file yet"
    )
    notice["Date"] = email.utils.format_datetime(now.astimezone(dt.UTC))
    notice["Message-ID"] = message_id(config.series.id, occurrence, message, to, domain)
    notice["Auto-Submitted"] = "auto-generated"
    notice.set_content(
        f'Session {occurrence.number} of "{config.series.title[config.series.default_language]}'
        f'", on {occurrence.start:%A %d %B %Y at %H:%M %Z}, has no session file.\n\n'
        f"Its invitation is due on {local_due:%A %d %B %Y at %H:%M %Z}. Without the file it "
        f"will not be sent: mailer never sends emails with blanks.\n\n"
        f"Create {path} (title, questions, speakers, moderator, in every language), then run "
        f"`mailer check`. The daemon picks it up by itself.\n"
    )
    return Outgoing(
        str(notice["Message-ID"]),
        config.organiser.email,
        to,
        notice.as_bytes(policy=email.policy.SMTP),
        smtputf8=not to.isascii(),
    )
