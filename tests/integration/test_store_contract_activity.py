"""The dashboard's numbers (mailer/store/activity.py), on both stores: the people a session's
emails reached and those of them who unsubscribed after, and the weeks' counts."""

from __future__ import annotations

import datetime as dt

from mailer.audience.addresses import parse_address
from mailer.model import Recipient
from mailer.store.activity import (
    SessionActivity,
    recent_sessions,
    session_activity,
    weekly_activity,
)
from mailer.store.ledger import SendKey
from mailer.store.state import State
from mailer.store.suppression import suppress
from tests.integration.test_store_contract_members import opener, store  # noqa: F401
from tests.support.sending import recorded_sent

NOW = dt.datetime(2021, 4, 14, 9, tzinfo=dt.UTC)  # a Wednesday
DAY = dt.date(2021, 4, 20)


def sent_to(state: State, addresses: list[str], at: dt.datetime) -> None:
    people = [Recipient(email=a, key=a, language="fr") for a in addresses]
    recorded_sent(state, SendKey("series", DAY, "invitation"), people, at)


def test_a_session_counts_whom_it_reached_and_who_left_after(store: State) -> None:  # noqa: F811
    assert session_activity(store, "series", [DAY]) == {DAY: SessionActivity()}
    sent_to(store, ["a@example.org", "b@example.org", "c@example.org"], NOW)
    suppress(
        store, parse_address("b@example.org"), "unsubscribed", "link", NOW + dt.timedelta(hours=1)
    )
    assert session_activity(store, "series", [DAY]) == {DAY: SessionActivity(3, 0, 1)}
    assert session_activity(store, "other series", [DAY]) == {DAY: SessionActivity()}
    assert recent_sessions(store, "series", dt.datetime(2021, 5, 1, tzinfo=dt.UTC), 4) == [DAY]
    assert recent_sessions(store, "series", NOW, 4) == []  # not yet held


def test_the_weeks_count_what_happened_in_each(store: State) -> None:  # noqa: F811
    sent_to(store, ["a@example.org", "b@example.org"], NOW - dt.timedelta(days=7))
    suppress(store, parse_address("a@example.org"), "unsubscribed", "link", NOW)
    mondays, counts = weekly_activity(store, "series", NOW, 3)
    assert mondays == [dt.date(2021, 3, 29), dt.date(2021, 4, 5), dt.date(2021, 4, 12)]
    assert counts == {
        "sent": [0, 2, 0],
        "bounced": [0, 0, 0],
        "unsubscribed": [0, 0, 1],
        "signups": [0, 0, 0],
    }
