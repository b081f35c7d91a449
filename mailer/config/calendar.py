"""Validating `[calendar]`: publish events to add, or send real meeting invitations."""

from __future__ import annotations

from mailer.config.settings import CalendarMethod, CalendarSettings
from mailer.config.tables import TableReader
from mailer.config.values import address_problem


def read_calendar(root: TableReader) -> CalendarSettings:
    table = root.table("calendar")
    if table is None:
        return CalendarSettings()
    chosen = table.choice("method", ("publish", "request"), default="publish")
    method: CalendarMethod = "request" if chosen == "request" else "publish"
    organizer = table.string("organizer")
    if organizer is not None and (problem := address_problem(organizer)):
        table.error("organizer", problem, "The address that receives the calendar replies.")
        organizer = None
    rsvp = table.boolean("rsvp", default=True)
    signed = table.boolean("signed_replies", default=True)
    meeting_only = ("organizer", "rsvp", "signed_replies")
    if method == "publish" and any(key in table.data for key in meeting_only):
        table.warning(
            None,
            'organizer, rsvp and signed_replies only matter with method = "request"',
            "Remove them, or send meeting invitations.",
        )
    table.finish()
    return CalendarSettings(method, organizer, rsvp, signed)
