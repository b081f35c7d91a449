"""How many processes a send uses: one per core for big sends, one for small ones."""

from __future__ import annotations

import pytest

from mailer.sending.workers import processes_for


@pytest.mark.parametrize(
    ("to_send", "configured", "cores", "expected"),
    [
        (1_000, None, 2, 1),  # a small send: starting a process costs more than it gives
        (25_000, None, 2, 2),  # one per core
        (25_000, 1, 8, 1),  # as configured
        (30_000, None, 8, 3),  # never fewer than 10,000 emails a process
        (100_000, None, 8, 8),
        (100_000, 4, 2, 4),  # configured beyond the cores: the operator knows
    ],
)
def test_processes_follow_the_cores_for_big_sends(
    to_send: int, configured: int | None, cores: int, expected: int
) -> None:
    assert processes_for(to_send, configured, cores) == expected
