"""What the series page's dashboard counts, from the state (one SQL for both stores): per
session, the people its emails reached, bounced back and unsubscribed since; per week, the
emails sent, the bounces, the unsubscriptions and the sign-ups."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from mailer.store.ledger_queries import stamp
from mailer.store.state import State

SERIES_OF_WEEK = ("sent", "bounced", "unsubscribed", "signups")
# each counted by its UTC day since a moment (`?`); the series' emails only (bounces,
# suppressions and members are the state's, which holds one series' people)
_BY_DAY = {
    "sent": "SELECT substr(sent_at, 1, 10), count(*) FROM deliveries "
    "WHERE state = 'sent' AND sent_at >= ? AND series = ? GROUP BY substr(sent_at, 1, 10)",
    "bounced": "SELECT substr(received_at, 1, 10), count(DISTINCT key) FROM bounces "
    "WHERE received_at >= ? GROUP BY substr(received_at, 1, 10)",
    "unsubscribed": "SELECT substr(created_at, 1, 10), count(*) FROM suppressions "
    "WHERE created_at >= ? AND kind = 'unsubscribed' GROUP BY substr(created_at, 1, 10)",
    "signups": "SELECT substr(confirmed_at, 1, 10), count(*) FROM members "
    "WHERE confirmed_at >= ? AND origin = 'signup' GROUP BY substr(confirmed_at, 1, 10)",
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
    for what, sql in _BY_DAY.items():
        parameters = (since, series) if "series = ?" in sql else (since,)
        for day, number in state.connection.execute(sql, parameters):
            slot = index.get(week_start(dt.date.fromisoformat(day)))
            if slot is not None:
                counts[what][slot] += int(number)
    return mondays, counts
