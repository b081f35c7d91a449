"""Relay caps counted in the ledger, across every send."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from mailer.model import Recipient
from mailer.store.ledger import Ledger, Outcome, SendKey
from mailer.store.sqlite import SqliteState


def test_hourly_caps_are_counted_across_every_send_in_the_claim(tmp_path: Path) -> None:
    now = dt.datetime(2021, 4, 6, 9, tzinfo=dt.UTC)
    with SqliteState(tmp_path / "state.db") as state:
        ledger = Ledger(state)
        keys = [SendKey("s", dt.date(2021, 4, 20), name) for name in ("invitation", "reminder")]
        for key in keys:
            people = [
                Recipient(
                    email=f"{key.message}{n}@example.org",
                    key=f"{key.message}{n}@example.org",
                    language="fr",
                )
                for n in range(10)
            ]
            ledger.plan(
                key,
                key.message,
                segments=["everyone"],
                deadline=now.replace(year=2030),
                recipients=people,
                now=now,
            )
        cap = [(6, dt.timedelta(hours=1))]
        first = ledger.claim(keys[0], 4, now, 5, cap)
        assert first is not None and len(first) == 4
        ledger.record([Outcome(item.id, "sent") for item in first], now)
        second = ledger.claim(keys[1], 10, now, 5, cap)
        assert second is not None and len(second) == 2  # 6 an hour, all sends together
        assert ledger.claim(keys[1], 10, now, 5, cap) is None  # reached: wait
        ledger.record([Outcome(item.id, "sent") for item in second], now)
        later = ledger.claim(keys[1], 10, now + dt.timedelta(minutes=61), 5, cap)
        assert later is not None and len(later) == 6  # the hour has passed
