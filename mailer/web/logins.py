"""Who may try a password, how often, and in what order (docs/web.md, "Logging in").

- An attempt is counted when it starts, before its password is checked: guesses sent all at
  once count as they arrive, and the excess is refused at once (429, no scrypt).
- Per client (its address; behind a reverse proxy, the one a trusted proxy names in its
  header): `FAILURES` attempts that did not succeed within `WINDOW`, then 429 until the window
  has passed.
- Per account, from browsers that never logged in to it: `FAILURES` at once, then one more
  every `ACCOUNT_PACE` seconds (a token bucket). Guessing one account from many addresses is
  slowed to a crawl; its owner is delayed, never locked out.
- A browser that logged in to the account before carries a signed device cookie (OWASP's
  "device cookies"): it skips both limits and has its own `FAILURES`, so nobody else's guesses
  can lock its organiser out, from wherever they come.
- scrypt (128 MiB, about 0.4 s) runs one check at a time; at most `WAITING` attempts wait for it
  (the rest get 503 at once), a known browser before the others: a burst cannot starve the
  organisers' own logins.

All in memory, in the daemon's event loop (a restart forgets it: an attacker cannot restart
the daemon).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import ipaddress
import math
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from mailer.config.settings import Network

FAILURES = 5  # attempts that did not succeed, per client, device or account ...
WINDOW = 15 * 60.0  # ... within this many seconds
ACCOUNT_PACE = 6.0  # seconds: one more attempt per account, once its FAILURES are spent
WAITING = 8  # attempts that may wait for scrypt at once
DEVICE_MAC_BYTES = 16
T = TypeVar("T")


@dataclass
class Attempt:
    """One password check in progress: where it was counted."""

    keys: tuple[str, ...]
    stamp: float
    bucket: str | None  # the account whose bucket it took a token from (None: a known browser)


@dataclass
class _Bucket:
    tokens: float
    updated: float


class LoginLimits:
    """The limits of the module's docstring; `clock` is monotonic seconds."""

    def __init__(
        self,
        *,
        failures: int = FAILURES,
        window: float = WINDOW,
        pace: float = ACCOUNT_PACE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.failures, self.window, self.pace, self.clock = failures, window, pace, clock
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)
        self._buckets: dict[str, _Bucket] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def _bucket(self, account: str, now: float) -> _Bucket:
        bucket = self._buckets.setdefault(account, _Bucket(float(self.failures), now))
        bucket.tokens = min(self.failures, bucket.tokens + (now - bucket.updated) / self.pace)
        bucket.updated = now
        return bucket

    def begin(self, account: str, client: str, device: str | None) -> Attempt | int:
        """Count an attempt to log in to `account` from `client` (`device`: the browser's
        device cookie for this account, if it has a valid one): the attempt, or how many
        seconds to wait before the next one may start."""
        now = self.clock()
        keys = (f"device:{device}",) if device else (f"client:{client}",)
        waits = [
            times[0] + self.window - now
            for key in keys
            if len(times := self._recent(key, now)) >= self.failures
        ]
        bucket = None if device else self._bucket(account.casefold(), now)
        if bucket is not None and bucket.tokens < 1:
            waits.append((1 - bucket.tokens) * self.pace)
        if waits:
            return max(1, math.ceil(max(waits)))
        for key in keys:
            self._seen[key].append(now)
        if bucket is not None:
            bucket.tokens -= 1
        return Attempt(keys, now, None if device else account.casefold())

    def succeeded(self, attempt: Attempt) -> None:
        """The password was right: the failures counted where it was counted are forgotten,
        and the account's pace is reset."""
        for key in attempt.keys:
            self._seen.pop(key, None)
        if attempt.bucket is not None:
            self._buckets.pop(attempt.bucket, None)

    def forget_idle(self) -> None:
        """Drop what no longer limits anybody (called now and then: memory stays bounded)."""
        now = self.clock()
        for key in [k for k in self._seen if not self._recent(k, now)]:
            del self._seen[key]
        full = [a for a in self._buckets if self._bucket(a, now).tokens >= self.failures]
        for account in full:
            del self._buckets[account]


@dataclass(order=True)
class _Waiting:
    priority: int
    number: int
    turn: asyncio.Future[None] = field(compare=False)


class PasswordGate:
    """Runs password checks (scrypt) one at a time in a thread; the rest wait their turn, a
    known browser first, and no more than `waiting` of them."""

    def __init__(self, waiting: int = WAITING) -> None:
        self.waiting = waiting
        self._busy = False
        self._queue: list[_Waiting] = []
        self._numbers = 0

    async def run(self, function: Callable[[], T], *, first: bool) -> T | None:
        """`function()` in a thread once it is its turn; None, at once, when too many wait."""
        if self._busy:
            if len(self._queue) >= self.waiting:
                return None
            self._numbers += 1
            entry = _Waiting(0 if first else 1, self._numbers, asyncio.Future())
            self._queue.append(entry)
            self._queue.sort()
            try:
                await entry.turn
            except BaseException:
                if entry in self._queue:
                    self._queue.remove(entry)
                elif entry.turn.done() and not entry.turn.cancelled():
                    self._next()  # given the turn as it was cancelled: pass it on
                raise
        self._busy = True
        task = asyncio.ensure_future(asyncio.to_thread(function))
        try:
            result = await asyncio.shield(task)
        except asyncio.CancelledError:  # the client went away: the next waits for the thread
            if task.done():
                self._next()
            else:
                task.add_done_callback(lambda _: self._next())
            raise
        except BaseException:
            self._next()
            raise
        self._next()
        return result

    def _next(self) -> None:
        while self._queue:
            entry = self._queue.pop(0)
            if not entry.turn.done():
                entry.turn.set_result(None)
                return
        self._busy = False


class DeviceCookies:
    """A browser's proof that it logged in to an account before: a random id and an HMAC of
    it with the account, keyed with the series' secret (one spelling per value)."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _mac(self, account: str, device: str) -> str:
        message = f"mailer-device\n{account.casefold()}\n{device}".encode()
        digest = hmac.digest(self.key, message, "sha256")[:DEVICE_MAC_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def make(self, account: str) -> str:
        device = secrets.token_urlsafe(16)
        return f"{device}.{self._mac(account, device)}"

    def read(self, value: str | None, account: str) -> str | None:
        """The device id of a genuine cookie for `account`, or None."""
        device, _, mac = (value or "").partition(".")
        if not device or not hmac.compare_digest(mac, self._mac(account, device)):
            return None
        return device


def client_address(remote: str | None, forwarded: str | None, trusted: Sequence[Network]) -> str:
    """Who a request comes from: its peer's address, unless that peer is a trusted proxy and
    names the client in its header (`forwarded`, X-Forwarded-For's list): then the last
    address in that list that is not a trusted proxy (what a client writes before it cannot
    change that)."""
    peer = remote or ""
    if not forwarded or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in forwarded.split(",")]
    for hop in reversed(hops):
        if not _is_address(hop):
            return peer  # a malformed header: the proxy is all we know
        if not _within(hop, trusted):
            return hop
    return hops[0]


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _within(text: str, networks: Sequence[Network]) -> bool:
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    return any(address in network for network in networks)
