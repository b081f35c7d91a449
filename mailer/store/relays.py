"""A relay's pace shared by every sender of the state (any process, any host): one row per relay
in `relays`, on the database's clock.

A sender that took a batch of deliveries reserves the time to send them at the relay's
`[smtp] rate` (`reserve`): the reservations follow each other, so that all the senders
together never go faster than the rate, however many there are. When the relay asks one of
them to slow down (421, throttling), it slows them all (`slow_down`): the shared factor drops
and every sender pauses; it recovers by RECOVERY of the rate per second.
"""

from __future__ import annotations

from mailer.store.state import State

RECOVERY = 0.02  # of the rate regained per second after a slow-down
MINIMUM_FACTOR = 0.05


def reserve(state: State, relay: str, count: int, rate: float) -> float:
    """Reserve the time to send `count` messages through `relay` at `rate` per second (slowed
    by the shared factor); the seconds to wait before the first may go."""
    dialect = state.dialect
    with state.transaction(exclusive=False) as connection:
        connection.execute(
            "INSERT INTO relays (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (relay,)
        )
        row = connection.execute(
            f"SELECT next_free, factor, paused_until, updated, {dialect.clock} FROM relays "
            f"WHERE name = ?{dialect.for_update}",
            (relay,),
        ).fetchone()
        next_free, factor, paused_until, updated, now = (float(value) for value in row)
        factor = min(1.0, factor + RECOVERY * max(now - updated, 0.0))
        start = max(now, next_free, paused_until)
        connection.execute(
            "UPDATE relays SET next_free = ?, factor = ?, updated = ? WHERE name = ?",
            (start + count / (rate * factor), factor, now, relay),
        )
        return start - now


def slow_down(state: State, relay: str, decrease: float, pause: float) -> None:
    """The relay asked a sender for less: every sender goes slower, after a pause."""
    clock = state.dialect.clock
    with state.transaction(exclusive=False) as connection:
        connection.execute(
            "INSERT INTO relays (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (relay,)
        )
        connection.execute(
            f"UPDATE relays SET factor = CASE WHEN factor * ? < ? THEN ? ELSE factor * ? END, "
            f"paused_until = {clock} + ?, updated = {clock} WHERE name = ?",
            (decrease, MINIMUM_FACTOR, MINIMUM_FACTOR, decrease, pause, relay),
        )
