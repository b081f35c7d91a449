"""ISO 8601 durations in weeks, days, hours, minutes and seconds (`P14D`, `PT1H`, `P1DT12H`).

Years and months are refused: their length varies, and "a month before" a session is better said
in days.
"""

from __future__ import annotations

import datetime as dt
import re

_DURATION = re.compile(
    r"^P(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)


def parse_duration(text: str) -> dt.timedelta:
    """`P14D` -> 14 days. Raises ValueError with a message that says how to write it."""
    candidate = text.strip().upper()
    match = _DURATION.match(candidate)
    if not match or candidate in ("P", "PT") or candidate.endswith("T"):
        if re.match(r"^P(\d+Y|\d+M)", candidate):
            raise ValueError(
                f"'{text}' uses years or months, whose length varies; write days, e.g. P30D"
            )
        raise ValueError(f"'{text}' is not an ISO 8601 duration like P14D, P1D, PT1H or PT30M")
    parts = {name: float(value) for name, value in match.groupdict().items() if value}
    return dt.timedelta(**parts)


def format_duration(duration: dt.timedelta) -> str:
    """The shortest ISO 8601 spelling of a non-negative duration (14 days -> `P14D`)."""
    if duration < dt.timedelta(0):
        raise ValueError("durations here are never negative")
    seconds_total = duration.total_seconds()
    days, rest = divmod(int(seconds_total), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, whole_seconds = divmod(rest, 60)
    seconds = whole_seconds + round(seconds_total - int(seconds_total), 6)
    text = "P" + (f"{days}D" if days else "")
    clock = "".join(
        f"{value:g}{unit}"
        for value, unit in ((hours, "H"), (minutes, "M"), (seconds, "S"))
        if value
    )
    if clock:
        text += "T" + clock
    return text if text != "P" else "PT0S"
