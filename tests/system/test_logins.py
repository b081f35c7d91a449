"""Logging in to the organisers' pages under attack, against a real `mailer daemon` behind a
(simulated) reverse proxy: guesses sent all at once, from one client and from sixty; an
organiser's own login in the middle of a burst; a stranger who fails five times does not lock
the organiser out, from a browser she used before or from a new one."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.daemon import DaemonProcess
from tests.support.organisers import (
    PASSWORD,
    Client,
    Reply,
    pages_port,
    project_with_pages,
    token,
)

NOW = "2021-04-01T10:00:00+02:00"
ACCOUNTS = ("marie", "paul", "claire", "luc", "anne")
DOMAIN = "icom-france.example.org"


class Site:
    def __init__(self, daemon: DaemonProcess, port: int) -> None:
        self.daemon, self.port = daemon, port

    def client(self, address: str = "198.51.100.1") -> Client:
        """A browser at `address`, as the reverse proxy in front of the pages names it."""
        return ForwardedClient("127.0.0.1", self.port, forwarded=address)

    def checks(self, account: str) -> int:
        """How many passwords of `account` were checked and failed (scrypt ran)."""
        return len(re.findall(rf"failed login for {account}@{DOMAIN} from", self.daemon.log()))


class ForwardedClient(Client):
    def __init__(self, host: str, port: int, *, forwarded: str) -> None:
        super().__init__(host, port)
        self.forwarded = forwarded

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        # what a client could add itself is kept in front: the proxy appends the real one
        sent = {"X-Forwarded-For": f"203.0.113.66, {self.forwarded}", **(headers or {})}
        return super().request(method, path, form, sent)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    accounts = [(f"{name}@{DOMAIN}", name.title()) for name in ACCOUNTS]
    config = project_with_pages(
        tmp_path_factory.mktemp("logins"), accounts, 'trusted_proxies = ["127.0.0.1"]\n'
    )
    daemon = DaemonProcess(config, NOW)
    try:
        yield Site(daemon, pages_port(daemon))
    finally:
        assert daemon.stop() == 0
        assert "Traceback" not in daemon.log()


def attempt(client: Client, account: str, password: str) -> Reply:
    page = client.get("/login")
    return client.post(
        "/login", {"email": f"{account}@{DOMAIN}", "password": password, "csrf": token(page)}
    )


def at_once(clients: list[Client], account: str, password: str = "wrong guess") -> list[Reply]:
    """Each client's login form fetched first, then every password posted at the same time."""
    pages = [client.get("/login") for client in clients]
    form = {"email": f"{account}@{DOMAIN}", "password": password}

    def post(pair: tuple[Client, Reply]) -> Reply:
        client, page = pair
        return client.post("/login", {**form, "csrf": token(page)})

    with ThreadPoolExecutor(len(clients)) as pool:
        return list(pool.map(post, zip(clients, pages, strict=True)))


def test_guesses_sent_at_once_are_counted_before_any_is_checked(site: Site) -> None:
    one = site.client("198.51.100.20")
    replies = at_once([one] * 20, "paul")
    assert Counter(r.status for r in replies) == {401: 5, 429: 15}
    assert site.checks("paul") == 5  # scrypt ran five times, not twenty
    refused = next(r for r in replies if r.status == 429)
    assert int(refused.headers["Retry-After"]) > 60
    # sixty clients guessing one account: five checks, then one every few seconds at most
    many = [site.client(f"198.51.100.{100 + n}") for n in range(60)]
    started = time.monotonic()
    replies = at_once(many, "claire")
    elapsed = time.monotonic() - started
    codes = Counter(r.status for r in replies)
    assert codes[401] <= 5 + elapsed / 6 + 1 and codes[401] + codes[429] + codes[503] == 60
    assert site.checks("claire") == codes[401]
    assert all(int(r.headers["Retry-After"]) <= 6 for r in replies if r.status == 429)


def test_an_organisers_own_browser_logs_in_during_a_burst(site: Site) -> None:
    mine = site.client("192.0.2.7")
    assert attempt(mine, "marie", PASSWORD).status == 303  # her browser is known from now on
    assert "__Host-mailer-device" in mine.cookies
    assert mine.post("/logout", {"csrf": token(mine.get("/"))}).status == 303
    attackers = [site.client(f"198.51.100.{n}") for n in range(2, 62)]
    with ThreadPoolExecutor(2) as pool:
        burst = pool.submit(at_once, attackers, "marie")
        time.sleep(0.2)  # the burst is under way
        started = time.monotonic()
        own = attempt(mine, "marie", PASSWORD)
        waited = time.monotonic() - started
        burst.result()
    assert own.status == 303, own.body
    assert waited < 10  # checked before the waiting guesses, never starved
    assert site.checks("marie") <= 5 + 9  # the burst's checks stayed bounded meanwhile


def test_a_stranger_failing_five_times_locks_nobody_else_out(site: Site) -> None:
    stranger = site.client("203.0.113.9")
    assert [attempt(stranger, "luc", "wrong").status for _ in range(6)] == [401] * 5 + [429]
    assert attempt(stranger, "luc", PASSWORD).status == 429  # that client, even rightly
    # a new browser elsewhere: the account is slowed down, not locked
    new = site.client("192.0.2.44")
    first = attempt(new, "luc", PASSWORD)
    if first.status == 429:
        wait = int(first.headers["Retry-After"])
        assert wait <= 6
        time.sleep(wait)
        first = attempt(new, "luc", PASSWORD)
    assert first.status == 303
    # the stranger again, five more failures, now through the same proxy address as she is
    again = site.client("192.0.2.45")
    assert [attempt(again, "luc", "wrong").status for _ in range(5)].count(401) >= 1
    # a browser that logged in before goes in at once, whatever others did
    assert new.post("/logout", {"csrf": token(new.get("/"))}).status == 303
    assert attempt(new, "luc", PASSWORD).status == 303


def test_after_logging_in_a_browser_goes_only_to_a_path_of_ours(site: Site) -> None:
    for target in ("/%09/evil.example/", "/%0D/x", "/%0A/x", "/%5C/evil.example"):
        client = site.client("192.0.2.90")
        page = client.get(f"/login?next={target}")
        form = {"email": f"anne@{DOMAIN}", "password": PASSWORD, "csrf": token(page)}
        reply = client.post(f"/login?next={target}", form)
        assert (reply.status, reply.headers["Location"]) == (303, "/"), target
