"""What the series page's dashboard counts, from the state (one SQL for both stores): per
session, the people its emails reached, bounced back and unsubscribed since; per week, the
emails sent, the bounces, the unsubscriptions and the sign-ups."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from mailer.store.ledger_queries import stamp
from mailer.store.state import State

SERIES_OF_WEEK = ("sent", "bounced", "unsubscribed", "signups")


class _Daily(NamedTuple):
    """A week chart's events, counted by their UTC day: `counted` of `table` whose `column`
    is a moment since the chart's first Monday and which meet `condition`; those of other
    series left out when `per_series` (bounces, suppressions and members are the state's,
    which holds one series' people)."""

    table: str
    column: str
    counted: str
    condition: str = ""
    per_series: bool = False

    def sql(self) -> str:
        day = f"substr({self.column}, 1, 10)"
        where = [f"{self.column} >= ?", self.condition, "series = ?" if self.per_series else ""]
        conditions = " AND ".join(part for part in where if part)
        return f"SELECT {day}, {self.counted} FROM {self.table} WHERE {conditions} GROUP BY {day}"


_BY_DAY = {
    "sent": _Daily("deliveries", "sent_at", "count(*)", "state = 'sent'", per_series=True),
    "bounced": _Daily("bounces", "received_at", "count(DISTINCT key)"),
    "unsubscribed": _Daily("suppressions", "created_at", "count(*)", "kind = 'unsubscribed'"),
    "signups": _Daily("members", "confirmed_at", "count(*)", "origin = 'signup'"),
}


@dataclass(frozen=True)
class SessionActivity:
    """Of one session's emails: the people they reached, those whose email bounced, and those
    of them who unsubscribed after it reached them."""

    reached: int = 0
    bounced: int = 0
    unsubscribed: int = 0


def session_activity(
    state: State, series: str, sessions: Iterable[dt.date]
) -> dict[dt.date, SessionActivity]:
    days = [day.isoformat() for day in sessions]
    if not days:
        return {}
    marks = ", ".join("?" for _ in days)
    found: dict[str, Counter[str]] = {day: Counter() for day in days}
    queries = {
        "reached": "SELECT session, count(DISTINCT recipient) FROM deliveries "
        f"WHERE series = ? AND state = 'sent' AND session IN ({marks}) GROUP BY session",
        "bounced": "SELECT d.session, count(DISTINCT b.key) FROM bounces b "
        "JOIN deliveries d ON d.message_id = b.message_id "
        f"WHERE d.series = ? AND d.session IN ({marks}) GROUP BY d.session",
        "unsubscribed": "SELECT d.session, count(DISTINCT s.key) FROM deliveries d "
        "JOIN suppressions s ON s.key = d.recipient AND s.kind = 'unsubscribed' "
        "AND s.created_at >= d.sent_at "
        f"WHERE d.series = ? AND d.state = 'sent' AND d.session IN ({marks}) GROUP BY d.session",
    }
    for what, sql in queries.items():
        for session, number in state.connection.execute(sql, (series, *days)):
            found[session][what] = int(number)
    return {
        dt.date.fromisoformat(day): SessionActivity(c["reached"], c["bounced"], c["unsubscribed"])
        for day, c in found.items()
    }


def recent_sessions(state: State, series: str, now: dt.datetime, count: int) -> list[dt.date]:
    """The last `count` sessions before `now` that emails went out for."""
    rows = state.connection.execute(
        "SELECT DISTINCT session FROM deliveries WHERE series = ? AND session <= ? "
        "ORDER BY session DESC LIMIT ?",
        (series, now.date().isoformat(), count),
    )
    return [dt.date.fromisoformat(session) for (session,) in rows]


def week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


def weekly_activity(
    state: State, series: str, now: dt.datetime, weeks: int
) -> tuple[Sequence[dt.date], dict[str, list[int]]]:
    """The Mondays (UTC) of the last `weeks` weeks, this one last, and for each of
    SERIES_OF_WEEK its count in each of those weeks."""
    last = week_start(now.astimezone(dt.UTC).date())
    mondays = [last - dt.timedelta(weeks=n) for n in reversed(range(weeks))]
    since = stamp(dt.datetime.combine(mondays[0], dt.time(), dt.UTC))
    index = {monday: i for i, monday in enumerate(mondays)}
    counts = {what: [0] * weeks for what in SERIES_OF_WEEK}
    for what, daily in _BY_DAY.items():
        parameters = (since, series) if daily.per_series else (since,)
        for day, number in state.connection.execute(daily.sql(), parameters):
            slot = index.get(week_start(dt.date.fromisoformat(day)))
            if slot is not None:
                counts[what][slot] += int(number)
    return mondays, counts
