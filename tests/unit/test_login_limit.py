"""The login limits: attempts counted before they are checked, per client, per account (a
pace, never a lock) and per known browser; the order of password checks; device cookies; the
client's address behind a proxy; where to go after logging in."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import threading
import time

from mailer.web.logins import (
    ACCOUNT_PACE,
    FAILURES,
    WINDOW,
    Attempt,
    DeviceCookies,
    LoginLimits,
    PasswordGate,
    client_address,
)
from mailer.web.site import safe_next


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_has_five_attempts_that_did_not_succeed_per_window() -> None:
    clock = Clock()
    limits = LoginLimits(clock=clock)
    attempts = [limits.begin(f"a{n}@example.org", "192.0.2.1", None) for n in range(FAILURES)]
    assert all(isinstance(a, Attempt) for a in attempts)  # counted as they begin
    wait = limits.begin("another@example.org", "192.0.2.1", None)
    assert isinstance(wait, int) and WINDOW - 5 < wait <= WINDOW + 1
    assert isinstance(limits.begin("a0@example.org", "192.0.2.2", None), Attempt)  # others may
    clock.now += WINDOW + 1
    assert isinstance(limits.begin("x@example.org", "192.0.2.1", None), Attempt)


def test_an_account_is_paced_not_locked_and_a_success_resets_it() -> None:
    clock = Clock()
    limits = LoginLimits(clock=clock)
    account = "marie@example.org"
    for n in range(FAILURES):
        assert isinstance(limits.begin(account, f"198.51.100.{n}", None), Attempt)
    wait = limits.begin(account, "198.51.100.99", None)  # a new client: the account's pace
    assert wait == ACCOUNT_PACE
    clock.now += ACCOUNT_PACE
    attempt = limits.begin(account, "198.51.100.99", None)
    assert isinstance(attempt, Attempt)
    assert isinstance(limits.begin(account, "198.51.100.98", None), int)
    limits.succeeded(attempt)
    assert isinstance(limits.begin(account, "198.51.100.98", None), Attempt)


def test_a_known_browser_skips_others_limits_and_has_its_own() -> None:
    clock = Clock()
    limits = LoginLimits(clock=clock)
    account = "marie@example.org"
    for _ in range(FAILURES):
        limits.begin(account, "192.0.2.1", None)
    assert isinstance(limits.begin(account, "192.0.2.1", None), int)  # client and account spent
    for _ in range(FAILURES):
        assert isinstance(limits.begin(account, "192.0.2.1", "device-1"), Attempt)
    assert isinstance(limits.begin(account, "192.0.2.1", "device-1"), int)  # its own, spent
    assert isinstance(limits.begin(account, "192.0.2.1", "device-2"), Attempt)
    clock.now += 2 * WINDOW
    limits.forget_idle()
    assert not limits._seen and not limits._buckets  # nothing kept for nothing


def test_password_checks_run_one_at_a_time_known_browsers_first_and_few_wait() -> None:
    running: list[int] = []
    order: list[str] = []
    lock = threading.Lock()

    def check(name: str) -> str:
        with lock:
            running.append(1)
            assert len(running) == 1  # never two at once
        time.sleep(0.05)
        with lock:
            running.pop()
            order.append(name)
        return name

    async def main() -> list[str | None]:
        gate = PasswordGate(waiting=3)
        first = asyncio.ensure_future(gate.run(lambda: check("first"), first=False))
        await asyncio.sleep(0.01)  # running now
        queued = [
            asyncio.ensure_future(gate.run(functools.partial(check, f"guess {n}"), first=False))
            for n in range(2)
        ]
        await asyncio.sleep(0)
        known = asyncio.ensure_future(gate.run(lambda: check("known"), first=True))
        await asyncio.sleep(0)
        refused = await gate.run(lambda: check("too many"), first=False)  # at once
        return [refused, *await asyncio.gather(first, *queued, known)]

    results = asyncio.run(main())
    assert results[0] is None
    assert order == ["first", "known", "guess 0", "guess 1"]


def test_device_cookies_are_signed_for_one_account() -> None:
    cookies = DeviceCookies(b"a signing key of the series, 32b")
    value = cookies.make("Marie@example.org")
    device = cookies.read(value, "marie@example.org")
    assert device is not None and value.startswith(device + ".")
    assert cookies.read(value, "paul@example.org") is None
    assert cookies.read(value + "x", "marie@example.org") is None
    assert cookies.read(None, "marie@example.org") is None
    other = DeviceCookies(b"another key of another series..")
    assert other.read(value, "marie@example.org") is None


def test_the_proxy_header_is_believed_only_from_a_trusted_proxy() -> None:
    trusted = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.0.0.0/8"))
    forwarded = "203.0.113.66, 198.51.100.1, 10.1.2.3"  # a client's lie, the client, a proxy
    assert client_address("127.0.0.1", forwarded, trusted) == "198.51.100.1"
    assert client_address("198.51.100.9", "127.0.0.1", trusted) == "198.51.100.9"
    assert client_address("127.0.0.1", "not an address", trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", None, trusted) == "127.0.0.1"
    assert client_address("127.0.0.1", "198.51.100.1", ()) == "127.0.0.1"  # none trusted


def test_after_logging_in_only_a_path_of_ours() -> None:
    assert safe_next("/sessions/2021-04-20?x=1") == "/sessions/2021-04-20?x=1"
    for target in (None, "", "//evil.example/", "/\\evil.example", "https://evil.example/"):
        assert safe_next(target) == "/"
    for target in ("/\t/evil.example/", "/\r/x", "/\n/x", "/ /evil", "/\x7f/x", "/\x00/x"):
        assert safe_next(target) == "/"  # browsers drop tabs and line breaks: //evil.example
