"""Paused sends (mailer/store/pauses.py), on both stores: a pause is kept with who made it,
pausing again keeps the first, resuming lifts it once, and the series' paused sends come with
what resuming them needs."""

from __future__ import annotations

import datetime as dt

from mailer.model import Recipient
from mailer.store.ledger import Ledger, SendKey
from mailer.store.pauses import Pause, pause, paused, paused_sends, resume
from mailer.store.state import State
from tests.integration.test_store_contract_members import opener, store  # noqa: F401

NOW = dt.datetime(2021, 4, 14, 9, tzinfo=dt.UTC)
KEY = SendKey("series", dt.date(2021, 4, 20), "reminder")


def test_a_pause_is_kept_until_it_is_lifted(store: State) -> None:  # noqa: F811
    Ledger(store).plan(
        KEY,
        "reminder",
        segments=("partners", "press"),
        deadline=NOW + dt.timedelta(days=5),
        recipients=[Recipient(email="a@example.org", key="a@example.org", language="fr")],
        now=NOW,
    )
    assert paused(store, KEY) is None and paused_sends(store, "series") == []
    pause(store, KEY, "marie@x.org", NOW)
    pause(store, KEY, "paul@x.org", NOW + dt.timedelta(hours=1))  # the first pause stays
    assert paused(store, KEY) == Pause("marie@x.org", NOW)
    (held,) = paused_sends(store, "series")
    assert (held.session, held.message, held.kind) == (KEY.session, "reminder", "reminder")
    assert held.segments == ("partners", "press") and held.by == "marie@x.org"
    assert paused_sends(store, "another series") == []
    assert resume(store, KEY) and not resume(store, KEY)  # lifted once
    assert paused(store, KEY) is None and paused_sends(store, "series") == []
