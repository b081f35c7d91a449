"""`mailer init DIR`: a working project for a new series (config, one session file, the
templates, an example list), which passes `mailer check` as written."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from zoneinfo import ZoneInfo

from mailer.errors import InvalidInput
from mailer.model import Series
from mailer.recurrence import DEFAULT_RULE, nearest_rule_dates

STARTER = Path(__file__).resolve().parent.parent / "starter_templates"

CONFIG = """\
# mailer: a new series. Every key is documented in docs/configuration.md; `mailer check`
# validates this file. Edit the series, the organiser and the meeting, then the session file.

[series]
id = "{series_id}"
timezone = "Europe/Paris"
# RFC 5545 RRULE: here every third Tuesday of the month
rule = "{rule}"
first = {first}
start = 13:00:00
end = 14:30:00
languages = ["en"]
sessions_dir = "sessions"

[series.title]
en = "Our meeting series"

[series.description]
en = "A discussion on Zoom every third Tuesday of the month, from 13:00 to 14:30 Paris time."

[organiser]
name = "The organisers"
email = "organisers@example.org"

[zoom]
url = "https://zoom.us/j/00000000000"
meeting_id = "000 0000 0000"
passcode = "000000"

[lists.members]
file = "recipients/members.csv"

[unsubscribe]
url = "https://lists.example.org/unsubscribe"
mailto = "unsubscribe@example.org"
key_env = "MAILER_UNSUBSCRIBE_KEY"

[state]
database = "state/mailer.db"
keep_deliveries = "P400D"

[[cadence]]
kind = "invitation"
before = "P14D"
segments = ["everyone"]

[[cadence]]
kind = "reminder"
before = "P1D"
segments = ["everyone"]
"""

SESSION = """\
# The session of {day} (this file's name). To move it:
#   moved_to = {{ date = {day}, start = 14:00:00, end = 15:30:00 }}
# To cancel it: status = "cancelled"

[title]
en = "The first session"

[questions]
en = ["What shall we talk about?"]

[[speakers]]
name = "A speaker"
role = {{ en = "Their role" }}

[moderator]
name = "A moderator"
role = {{ en = "Their role" }}
"""

MEMBERS = """\
email,name,language,tags,timezone
someone@example.org,Someone,en,member,Europe/Paris
"""


def first_session(today: dt.date) -> dt.date:
    """The first date of the starter's rule on or after `today` (the series' own recurrence)."""
    probe = Series(
        id="new",
        timezone=ZoneInfo("Europe/Paris"),
        rule=DEFAULT_RULE,
        first=today.replace(day=1),
        start=dt.time(13),
        end=dt.time(14, 30),
        languages=("en",),
        title={"en": ""},
        description={"en": ""},
    )
    day = nearest_rule_dates(probe, today)[1]
    assert day is not None  # the rule has no end
    return day


def init_project(folder: Path, today: dt.date) -> list[Path]:
    """Write a new project in `folder` (which must be empty or not exist); the files written."""
    if folder.exists() and any(folder.iterdir()):
        raise InvalidInput(f"{folder} is not empty: give a new folder, mailer overwrites nothing")
    if not STARTER.is_dir():
        raise InvalidInput(f"the starter templates are missing from this install ({STARTER})")
    day = first_session(today)
    name = "".join(c if c.isalnum() else "-" for c in folder.resolve().name.lower()).strip("-")
    files = {
        "config.toml": CONFIG.format(
            series_id=name or "my-series", rule=DEFAULT_RULE, first=day.isoformat()
        ),
        f"sessions/{day.isoformat()}.toml": SESSION.format(day=day.isoformat()),
        "recipients/members.csv": MEMBERS,
    }
    written = []
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    shutil.copytree(STARTER, folder / "templates", ignore=shutil.ignore_patterns("fr", "es"))
    written.append(folder / "templates")
    return written
