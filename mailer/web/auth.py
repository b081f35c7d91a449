"""Who may use the organisers' pages: logins, their cookies, CSRF, and the login rate limit.

- A login session is a random token in a `__Host-` cookie (Secure, HttpOnly, SameSite=Strict,
  Path=/), kept in the state file by its hash with its own CSRF token, for
  `[web] session_lifetime`; it ends when the account leaves config.toml or its password hash
  changes.
- Every POST carries the session's CSRF token (compared in constant time) and, when the browser
  says where it comes from (Origin, Sec-Fetch-Site), comes from these pages; the login form
  has a token of its own (a double-submit cookie), so nobody can log a browser in to their
  account either.
- Failed logins are limited per account and per client address (5 in 15 minutes, then 429
  with Retry-After); scrypt runs in a thread, one at a time (each takes 128 MiB), and an unknown
  address costs as much as a known one.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import secrets
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from mailer.config.passwords import hash_password, verify_password
from mailer.config.settings import OrganiserAccount, WebSettings
from mailer.project.workspace import Workspace
from mailer.store.web import LoginSession, close_session, find_session, open_session

log = logging.getLogger("mailer.web")
SESSION_COOKIE = "__Host-mailer-session"
LOGIN_COOKIE = "__Host-mailer-login"
FAILURES = 5  # failed logins allowed per account and per address ...
WINDOW = 15 * 60.0  # ... in this many seconds


@functools.cache
def _dummy_hash() -> str:
    """What an unknown address is checked against, so that it costs what a known one does."""
    return hash_password("not a password", b"mailer-dummy-salt")


def is_open(path: str) -> bool:
    """Whether a path is served without a login: the login page and the style sheet."""
    return path == "/login" or path.startswith("/static/")


@dataclass(frozen=True)
class Organiser:
    """The organiser logged in for a request."""

    email: str
    name: str
    csrf: str


def account_digest(account: OrganiserAccount) -> str:
    """What a login session remembers of the account it was opened for."""
    return hashlib.sha256(account.password_hash.encode()).hexdigest()[:24]


class RateLimit:
    """Failed attempts per key within a sliding window (in memory: a restart forgets them,
    which costs an attacker a restart of the daemon they cannot cause)."""

    def __init__(self, failures: int = FAILURES, window: float = WINDOW) -> None:
        self.failures, self.window = failures, window
        self._seen: defaultdict[str, deque[float]] = defaultdict(deque)

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._seen[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._seen[key]
        return times

    def retry_after(self, keys: tuple[str, ...], now: float | None = None) -> int:
        """Seconds until any of `keys` may try again (0: now)."""
        moment = time.monotonic() if now is None else now
        waits = [
            times[0] + self.window - moment
            for key in keys
            if len(times := self._recent(key, moment)) >= self.failures
        ]
        return int(max(waits)) + 1 if waits else 0

    def failed(self, keys: tuple[str, ...]) -> None:
        now = time.monotonic()
        for key in keys:
            self._seen[key].append(now)

    def forget(self, keys: tuple[str, ...]) -> None:
        for key in keys:
            self._seen.pop(key, None)


class Auth:
    def __init__(self, current: Callable[[], Workspace]) -> None:
        self.current = current
        self.limit = RateLimit()
        self._kdf = asyncio.Semaphore(1)

    def settings(self) -> WebSettings:
        web_settings = self.current().project().config.web
        assert web_settings is not None, "the pages are served only with [web]"
        return web_settings

    # -- logging in and out ------------------------------------------------------------------

    async def check_password(self, email: str, password: str) -> OrganiserAccount | None:
        account = self.settings().account(email)
        stored = account.password_hash if account is not None else _dummy_hash()
        async with self._kdf:
            good = await asyncio.to_thread(verify_password, password, stored)
        return account if good and account is not None else None

    def open(self, account: OrganiserAccount, response: web.StreamResponse) -> None:
        """Log `account` in: a new session, its cookie on `response`."""
        workspace = self.current()
        now = workspace.now()
        lifetime = self.settings().session_lifetime
        token = secrets.token_urlsafe(32)
        session = LoginSession(
            account.email, account_digest(account), secrets.token_urlsafe(32), now + lifetime
        )
        with workspace.state() as state:
            open_session(state, token, session, now)
        set_cookie(response, SESSION_COOKIE, token, int(lifetime.total_seconds()))
        response.del_cookie(LOGIN_COOKIE, path="/")

    def close(self, request: web.Request, response: web.StreamResponse) -> None:
        if token := request.cookies.get(SESSION_COOKIE):
            with self.current().state() as state:
                close_session(state, token)
        response.del_cookie(SESSION_COOKIE, path="/")

    def organiser(self, request: web.Request) -> Organiser | None:
        """Who the request's cookie logs in, if anybody."""
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            return None
        workspace = self.current()
        with workspace.state() as state:
            session = find_session(state, token, workspace.now())
        if session is None:
            return None
        account = self.settings().account(session.organiser)
        if account is None or not hmac.compare_digest(account_digest(account), session.account):
            return None  # removed from config.toml, or a new password
        return Organiser(account.email, account.name, session.csrf)

    # -- every request ----------------------------------------------------------------------

    def same_origin(self, request: web.Request) -> bool:
        """Whether what the browser says of the request's origin (if anything) is us."""
        if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
            return False
        origin = request.headers.get("Origin")
        if origin is None:
            return True
        base = self.settings().base_url
        ours = {f"{request.scheme}://{request.host}", *([base] if base else [])}
        return origin in ours

    @staticmethod
    async def csrf_ok(request: web.Request, expected: str) -> bool:
        form = await request.post()
        given = form.get("csrf")
        return isinstance(given, str) and hmac.compare_digest(given.encode(), expected.encode())


def set_cookie(response: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        secure=True,
        httponly=True,
        samesite="Strict",
    )


def login_token(request: web.Request) -> tuple[str, bool]:
    """The login form's token (from its cookie), and whether it is new (to be set)."""
    token = request.cookies.get(LOGIN_COOKIE)
    if token and len(token) >= 32:
        return token, False
    return secrets.token_urlsafe(32), True
