"""Who may use the organisers' pages: logins, their cookies, CSRF, and the login rate limit.

- A login session is a random token in a `__Host-` cookie (Secure, HttpOnly, SameSite=Strict,
  Path=/), kept in the state file by its hash with its own CSRF token, for
  `[web] session_lifetime`; it ends when the account leaves config.toml or its password hash
  changes.
- Every POST carries the session's CSRF token (compared in constant time) and, when the browser
  says where it comes from (Origin, Sec-Fetch-Site), comes from these pages; the login form
  has a token of its own (a double-submit cookie), so nobody can log a browser in to their
  account either.
- Attempts to log in are limited per client, per account and per known browser, counted
  before the password is checked, and scrypt runs one check at a time (`mailer.web.logins`);
  an unknown address costs as much as a known one.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from mailer.config.passwords import hash_password, verify_password
from mailer.config.settings import OrganiserAccount, WebSettings
from mailer.project.workspace import Workspace
from mailer.store.web import LoginSession, close_session, find_session, open_session
from mailer.web.logins import DeviceCookies, LoginLimits, PasswordGate, client_address

log = logging.getLogger("mailer.web")
SESSION_COOKIE = "__Host-mailer-session"
LOGIN_COOKIE = "__Host-mailer-login"
DEVICE_COOKIE = "__Host-mailer-device"
DEVICE_LIFETIME = 400 * 24 * 3600  # seconds: the longest browsers keep a cookie


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


class Auth:
    def __init__(self, current: Callable[[], Workspace]) -> None:
        self.current = current
        self.limits = LoginLimits()
        self.gate = PasswordGate()

    def settings(self) -> WebSettings:
        web_settings = self.current().project().config.web
        assert web_settings is not None, "the pages are served only with [web]"
        return web_settings

    # -- logging in and out ------------------------------------------------------------------

    def client(self, request: web.Request) -> str:
        """The client's address (behind a trusted reverse proxy, the one it names)."""
        settings = self.settings()
        forwarded = request.headers.get(settings.client_header)
        return client_address(request.remote, forwarded, settings.trusted_proxies)

    def devices(self) -> DeviceCookies:
        return DeviceCookies(self.current().signing_key())

    async def check_password(
        self, email: str, password: str, *, known_browser: bool
    ) -> OrganiserAccount | bool:
        """The account if the password is its own; False if not; True if it could not be
        checked now (too many checks waiting)."""
        account = self.settings().account(email)
        stored = account.password_hash if account is not None else _dummy_hash()
        good = await self.gate.run(lambda: verify_password(password, stored), first=known_browser)
        if good is None:
            return True
        return account if good and account is not None else False

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


def remember_browser(response: web.StreamResponse, value: str) -> None:
    """The device cookie of a browser that just logged in."""
    set_cookie(response, DEVICE_COOKIE, value, DEVICE_LIFETIME)


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
