"""The login rate limit: failures per key within a sliding window."""

from __future__ import annotations

import time

from mailer.web.auth import FAILURES, WINDOW, RateLimit
from mailer.web.site import safe_next


def test_five_failures_lock_the_key_for_the_rest_of_the_window() -> None:
    limit = RateLimit()
    keys = ("account:marie@example.org", "client:192.0.2.1")
    start = time.monotonic()
    for _ in range(FAILURES - 1):
        limit.failed(keys)
    assert limit.retry_after(keys) == 0
    limit.failed(keys)
    wait = limit.retry_after(keys)
    assert WINDOW - 5 < wait <= WINDOW + 1
    # another account from the same client is locked too; another client for another account not
    assert limit.retry_after(("account:paul@example.org", "client:192.0.2.1")) > 0
    assert limit.retry_after(("account:paul@example.org", "client:192.0.2.2")) == 0
    # once the window has passed, the key may try again, and is forgotten
    assert limit.retry_after(keys, now=start + WINDOW + 1) == 0
    assert limit.retry_after(keys, now=start + WINDOW + 1) == 0


def test_a_success_forgets_the_failures() -> None:
    limit = RateLimit()
    keys = ("account:marie@example.org",)
    for _ in range(FAILURES - 1):
        limit.failed(keys)
    limit.forget(keys)
    limit.failed(keys)
    assert limit.retry_after(keys) == 0


def test_after_logging_in_only_a_path_of_ours() -> None:
    assert safe_next("/sessions/2021-04-20?x=1") == "/sessions/2021-04-20?x=1"
    for target in (None, "", "//evil.example/", "/\\\\evil.example", "https://evil.example/"):
        assert safe_next(target) == "/"
