"""The organisers' pages (aiohttp), served by the daemon on `[web] listen`, off without `[web]`.

Nobody sees anything but the login page without logging in; every POST is checked for its
CSRF token and origin; every change and every send is written to the audit log with who did
it (`mailer.web.auth` says how). The pages:

- `/`: the series: coming sessions and their status, what the daemon will send and when, and
  what blocks it (`mailer plan`'s rows); `/sessions/<date>`: the session editor
  (`mailer.web.editor`);
- `/sessions/<date>/preview`, `/proof`, `/send`, `/sends/<n>`: previews, proofs, one-off sends
  (`mailer.web.sending_pages`);
- `/status`, `/audit`: what was sent, bounced, answered; who did what
  (`mailer.web.follow_pages`);
- `/people`, `/people/person`, `/lists/<name>`: everyone, one person, the lists kept in the
  state (`mailer.web.people_pages`).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable, Mapping
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

from mailer.project.workspace import Workspace
from mailer.web import editor, follow_pages, people_pages, progress_pages, sending_pages
from mailer.web.auth import (
    DEVICE_COOKIE,
    LOGIN_COOKIE,
    Auth,
    is_open,
    login_token,
    remember_browser,
    set_cookie,
)
from mailer.web.guard import KEEPALIVE, GuardedServer
from mailer.web.public import Handler
from mailer.web.render import SERVING, page, refusal
from mailer.web.sends import WebSends
from mailer.web.site import Site, organiser_of, redirect, safe_next
from mailer.web.words import words_for

log = logging.getLogger("mailer.web")
PAGES_OFF = "The organisers' pages are off ([web] is not set)."
NOT_LOGGED_IN = "You are not logged in (or your session ended)."
TOO_MANY = "Too many attempts: try again in {minutes} minutes."
TOO_MANY_SECONDS = "Too many attempts: try again in {seconds} seconds."
BUSY = "Too many logins at once: try again in a moment."
EXPIRED = (
    "This form has expired or did not come from these pages: go back, reload the page, and "
    "try again."
)


async def organisers_server(
    current: Callable[[], Workspace],
    *,
    reload: Callable[[], None],
    health: Callable[[], Mapping[str, Any]],
    sends: WebSends,
) -> GuardedServer | None:
    """The organisers' pages on `[web] listen`, set up, not yet listening; None without
    `[web]` (read at start: a reload changes the accounts, not where the pages listen)."""
    settings = current().project().config.web
    if settings is None:
        return None
    app = make_organisers_app(current, reload=reload, health=health, sends=sends)
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=KEEPALIVE)
    await runner.setup()
    source = str(current().config_path)
    return GuardedServer(runner, settings.host, settings.port, key="web.listen", source=source)


def make_organisers_app(
    current: Callable[[], Workspace],
    *,
    reload: Callable[[], None],
    health: Callable[[], Mapping[str, Any]],
    sends: WebSends,
) -> web.Application:
    """The organisers' site on the workspace in use (`current()`)."""
    site = Site(current, reload, health, Auth(current), sends)
    auth = site.auth

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            SERVING.set((request.path, site.brand(), site.project().config.organiser.name))
            if site.project().config.web is None:  # [web] removed: the pages are off
                return refusal(None, words_for("en"), 404, PAGES_OFF)
            if is_open(request.path):
                return await handler(request)
            organiser = auth.organiser(request)
            if organiser is None:
                if request.method in ("GET", "HEAD"):
                    return redirect("/login?" + urlencode({"next": request.path_qs}))
                return refusal(None, site.words(), 403, NOT_LOGGED_IN)
            if request.method not in ("GET", "HEAD") and not (
                auth.same_origin(request) and await auth.csrf_ok(request, organiser.csrf)
            ):
                log.warning(
                    "refused a %s %s by %s: CSRF", request.method, request.path, organiser.email
                )
                return refusal(organiser, site.words(), 403, EXPIRED)
            request["organiser"] = organiser
            return await handler(request)
        except web.HTTPNotFound:
            return refusal(request.get("organiser"), site.words(), 404, "There is no such page.")
        except web.HTTPException:
            raise
        except Exception:  # the one place unexpected errors become a page
            log.exception("error serving %s", request.path)
            return refusal(
                request.get("organiser"), site.words(), 500, "Something went wrong on our side."
            )

    app = web.Application(middlewares=[guard], client_max_size=2**20)

    async def login_page(request: web.Request) -> web.Response:
        return await _login(site, request)

    async def logout(request: web.Request) -> web.Response:
        response = redirect("/login")
        site.audit(organiser_of(request).email, "logout", "", "")
        auth.close(request, response)
        return response

    app.router.add_get("/login", login_page)
    app.router.add_post("/login", login_page)
    app.router.add_post("/logout", logout)
    for name, content_type in (("web.css", "text/css"), ("progress.js", "text/javascript")):
        app.router.add_get(f"/static/{name}", _static(name, content_type))
    follow_pages.add_routes(app, site)
    editor.add_routes(app, site)
    sending_pages.add_routes(app, site)
    progress_pages.add_routes(app, site)
    people_pages.add_people_routes(app, site)
    return app


def _static(name: str, content_type: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    """A file of the package's static/ folder, read once, served with an hour's cache."""
    text = resources.files("mailer.web").joinpath(f"static/{name}").read_text("utf-8")
    headers = {"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"}

    async def serve(_: web.Request) -> web.Response:
        return web.Response(text=text, content_type=content_type, headers=headers)

    return serve


async def _login(site: Site, request: web.Request) -> web.Response:
    auth = site.auth
    token, new = login_token(request)
    target = safe_next(request.query.get("next"))

    def form(status: int = 200, error: str | None = None, email: str = "") -> web.Response:
        _ = site.words()
        response = page(
            "login.html",
            None,
            _,
            status=status,
            title=_("Log in"),
            error=_(error) if error else None,
            email=email,
            token=token,
            target=target,
        )
        if new:
            set_cookie(response, LOGIN_COOKIE, token, 3600)
        return response

    if request.method == "GET":
        return form()
    data = await request.post()
    email = str(data.get("email", "")).strip()[:320]
    password = str(data.get("password", ""))[:1024]
    given = str(data.get("csrf", ""))
    if new or not auth.same_origin(request) or not hmac.compare_digest(given, token):
        return form(403, EXPIRED, email)
    client = auth.client(request)
    devices = auth.devices()
    device = devices.read(request.cookies.get(DEVICE_COOKIE), email)
    attempt = auth.limits.begin(email, client, device)
    if isinstance(attempt, int):  # counted before any check: no scrypt for the excess
        log.warning("login refused for %s from %s: too many attempts", email, client)
        if attempt < 60:
            message = site.words()(TOO_MANY_SECONDS).format(seconds=attempt)
        else:
            message = site.words()(TOO_MANY).format(minutes=attempt // 60 + 1)
        response = form(429, message, email)
        response.headers["Retry-After"] = str(attempt)
        return response
    account = await auth.check_password(email, password, known_browser=device is not None)
    if account is True:
        log.warning("login of %s from %s not checked: too many at once", email, client)
        response = form(503, BUSY, email)
        response.headers["Retry-After"] = "2"
        return response
    if account is False:
        log.warning("failed login for %s from %s", email, client)
        return form(401, "Wrong email address or password.", email)
    auth.limits.succeeded(attempt)
    response = redirect(target)
    auth.open(account, response)
    if device is None:
        remember_browser(response, devices.make(account.email))
    site.audit(account.email, "login", "", f"from {client}")
    log.info("%s logged in from %s", account.email, client)
    return response
