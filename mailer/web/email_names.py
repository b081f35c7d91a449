"""What the organisers' pages call an email and a segment, in their own words: the ledger's
`reminder:P1D` is "Reminder the day before" ("Rappel la veille"), `warning:missing-file` the
organisers' warning, the built-in segment `everyone` "Everyone"."""

from __future__ import annotations

import datetime as dt

from mailer.config.durations import parse_duration
from mailer.web.words import Words

KINDS = {
    "invitation": "Invitation",
    "reminder": "Reminder",
    "update": "Update",
    "cancellation": "Cancellation",
    "followup": "Follow-up",
    "waitlist": "Waiting list",
    "place": "A place is free",
}
BUILT_IN_SEGMENTS = {"everyone": "Everyone"}


def _when(duration: dt.timedelta, after: bool, _: Words) -> str:
    """ "the day before", "3 hours after"..."""
    minutes = int(duration.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    if rest == 0 and days == 1:
        return _("the day after") if after else _("the day before")
    if rest == 0 and days % 7 == 0 and days >= 14:
        weeks = days // 7
        return (_("{n} weeks after") if after else _("{n} weeks before")).format(n=weeks)
    if rest == 0:
        return (_("{n} days after") if after else _("{n} days before")).format(n=days)
    if minutes == 60:
        return _("an hour after") if after else _("an hour before")
    if minutes % 60 == 0:
        n = minutes // 60
        return (_("{n} hours after") if after else _("{n} hours before")).format(n=n)
    return (_("{n} minutes after") if after else _("{n} minutes before")).format(n=minutes)


def email_name(key: str, _: Words) -> str:
    """The name of the email the ledger knows as `key` ("invitation", "reminder:P1D",
    "update:3:ab12cd", "warning:missing-file"); a kind of email names itself."""
    kind, _sep, rest = key.partition(":")
    if kind == "warning":
        return _("Warning to the organisers: the session has no file")
    if kind not in KINDS:
        return key
    name = _(KINDS[kind])
    rest, _at, new_date = rest.partition("@")  # a moved session's reminder: reminder:P1D@...
    if kind == "update" and rest:
        return _("{email} (version {n})").format(email=name, n=rest.split(":")[0])
    try:
        duration = parse_duration(rest) if rest else None
    except ValueError:
        duration = None
    if duration is None:
        return name
    when = _when(duration, kind == "followup", _)
    named = _("{email} {when}").format(email=name, when=when)
    return _("{email}, for the new date").format(email=named) if new_date else named


def segment_name(name: str, _: Words) -> str:
    """A built-in segment in the page's words; the organisers' own by the name they gave it."""
    return _(BUILT_IN_SEGMENTS[name]) if name in BUILT_IN_SEGMENTS else name
