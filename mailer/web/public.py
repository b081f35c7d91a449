"""The daemon's web side (aiohttp, in the daemon's event loop).

- `POST <unsubscribe path>/<token>`: RFC 8058 one-click unsubscribe (the body is
  `List-Unsubscribe=One-Click`): the address gets nothing more; and the page's choices (stop
  everything, stop the reminders only, receive everything again). `GET` and `HEAD` only show
  the page (mail scanners and link checkers follow links: they must never unsubscribe), in the
  recipient's language, saying what they receive now. A bad token gets a 400 page.
- `GET /answer/<token>?a=yes|maybe|no`, `POST /answer/<token>`: the one-click answers of
  invitations and reminders (`mailer.web.answer_page`): only the POST records.
- `GET /calendar.ics` and `/calendar/<language>.ics`: the series as a subscribable calendar,
  one event per session with the UIDs of the emailed invitations, no attendees.
- `GET /c/<YYYYMMDD>/<language>/<google|outlook|office365|ics>` and `/f/<language>/<google|
  outlook>`: the short links of the emails' text part, redirected to the full "add to
  calendar" and "subscribe" links (made now, so they follow a session that moved), or the .ics.
- `GET /health` (JSON; 503 only when the daemon cannot work: liveness), `GET
  /health/attention` (503 while something needs a person: a refused edit, the mailbox, a
  failed round) and `GET /metrics` (Prometheus text).
No page ever shows a stack trace.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlparse

from aiohttp import web

from mailer.calendar.describe import summary
from mailer.calendar.ics import series_calendar, session_calendar
from mailer.calendar.links import calendar_links, feed_for
from mailer.errors import NotFound
from mailer.messages.compose import ics_filename
from mailer.project.workspace import Workspace
from mailer.recurrence import calendar_window, find_occurrence
from mailer.store.ledger import OPEN, STATES, Ledger
from mailer.store.revisions import calendar_revisions, session_revision
from mailer.store.suppression import (
    suppression_count,
)
from mailer.web.answer_page import answer_page
from mailer.web.preferences_page import preferences_page
from mailer.web.signup_page import SignupPages, add_signup_routes

log = logging.getLogger("mailer.http")
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",  # unsubscribe links carry tokens
    "Cache-Control": "no-store",
}
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def unsubscribe_path(workspace: Workspace) -> str:
    """The path part of `[unsubscribe] url` (e.g. /unsubscribe)."""
    url = workspace.project().config.unsubscribe.url or "https://localhost/unsubscribe"
    return urlparse(url).path.rstrip("/") or "/unsubscribe"


def make_app(
    current: Callable[[], Workspace], health: Callable[[], Mapping[str, Any]]
) -> web.Application:
    """The application; `current()` gives the workspace in use (it changes on reload)."""

    @web.middleware
    async def no_tracebacks(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:  # the one place unexpected errors become a page
            log.exception("error serving %s", request.path)
            return web.Response(
                status=500, text="Something went wrong on our side.", headers=HEADERS
            )

    app = web.Application(middlewares=[no_tracebacks])
    path = unsubscribe_path(current())

    async def unsubscribe_page(request: web.Request) -> web.StreamResponse:
        # only a POST unsubscribes (RFC 8058's one-click, or the page's button): a GET or a
        # HEAD (link checkers, mail scanners) only shows the page
        return await preferences_page(current(), request, HEADERS)

    feeds = FeedCache()

    async def feed(request: web.Request) -> web.Response:
        workspace = current()
        config = workspace.project().config
        language = request.match_info.get("language", config.series.default_language)
        if language not in config.series.languages:
            raise web.HTTPNotFound(text=f"no calendar in '{language}'")
        data, etag = await feeds.get(workspace, language)
        headers = {"Cache-Control": "max-age=3600", "ETag": etag}
        if etag in request.headers.get("If-None-Match", ""):
            return web.Response(status=304, headers=headers)
        return web.Response(
            body=data, content_type="text/calendar", charset="utf-8", headers=headers
        )

    async def health_page(_: web.Request) -> web.Response:
        """Liveness: 503 only when the daemon cannot do its work (an uptime probe pages
        someone); alive but needing a person ("degraded") is 200, said in the body."""
        report = dict(health())
        status = 503 if report.get("status") == "failing" else 200
        return web.Response(
            status=status, text=json.dumps(report, indent=2), content_type="application/json"
        )

    async def attention_page(_: web.Request) -> web.Response:
        """What needs a person (a refused edit, the mailbox, a failed round): 503 while
        anything does, for a check that opens a ticket rather than waking someone."""
        report = dict(health())
        needs = list(report.get("attention", [])) + (
            ["failing"] if report.get("status") == "failing" else []
        )
        return web.Response(
            status=503 if needs else 200,
            text=json.dumps({"attention": needs, **report}, indent=2),
            content_type="application/json",
        )

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(
            text=_metrics(current(), health()),
            content_type="text/plain",
            charset="utf-8",
            headers={"X-Content-Type-Options": "nosniff"},
        )

    app.router.add_get(f"{path}/{{token}}", unsubscribe_page)
    app.router.add_post(f"{path}/{{token}}", unsubscribe_page)

    async def answer(request: web.Request) -> web.Response:
        # only a POST answers: a GET or a HEAD shows the page, asking to confirm
        return await answer_page(current(), request, HEADERS)

    app.router.add_get("/answer/{token}", answer)
    app.router.add_post("/answer/{token}", answer)
    add_signup_routes(app, SignupPages(current, HEADERS))

    async def calendar_link(request: web.Request) -> web.StreamResponse:
        return _calendar_link(current(), request)

    async def feed_link(request: web.Request) -> web.StreamResponse:
        return _feed_link(current(), request)

    app.router.add_get("/c/{day:[0-9]{8}}/{language}/{target}", calendar_link)
    app.router.add_get("/f/{language}/{target}", feed_link)
    app.router.add_get("/calendar.ics", feed)
    app.router.add_get("/calendar/{language}.ics", feed)
    app.router.add_get("/health", health_page)
    app.router.add_get("/health/attention", attention_page)
    app.router.add_get("/metrics", metrics)
    return app


class FeedCache:
    """The series calendar of each language, built once per version of the project and day
    (its window moves with the date), in a thread: requests never wait for each other, nor
    does the daemon's loop. Its content changes only when the project does: a reload."""

    def __init__(self) -> None:
        self._built: dict[tuple[int, str, dt.date], tuple[bytes, str]] = {}
        self._building: dict[tuple[int, str, dt.date], asyncio.Future[tuple[bytes, str]]] = {}

    async def get(self, workspace: Workspace, language: str) -> tuple[bytes, str]:
        """The feed's bytes and ETag."""
        project = workspace.project()
        now = workspace.now()
        key = (id(project), language, now.astimezone(project.config.series.timezone).date())
        if (found := self._built.get(key)) is not None:
            return found
        if (pending := self._building.get(key)) is None:
            pending = asyncio.ensure_future(asyncio.to_thread(_build_feed, workspace, language))
            self._building[key] = pending
        try:
            built = await asyncio.shield(pending)
        finally:
            self._building.pop(key, None)
        self._built = {key: built, **{k: v for k, v in self._built.items() if k[0] == key[0]}}
        return built


def _build_feed(workspace: Workspace, language: str) -> tuple[bytes, str]:
    project = workspace.project()
    config = project.config
    now = workspace.now()
    window = calendar_window(config.series, project.sessions, now)
    with workspace.state() as state:
        revisions = calendar_revisions(state, config, window, now)
    data = series_calendar(config, window, language, revisions, layout="sessions")
    return data, f'"{hashlib.sha256(data).hexdigest()[:32]}"'


def _calendar_link(workspace: Workspace, request: web.Request) -> web.StreamResponse:
    """A short "add to calendar" link of an email: a redirect to the full one, made now (so it
    follows a session that moved), or the session's .ics."""
    project = workspace.project()
    config = project.config
    language, target = request.match_info["language"], request.match_info["target"]
    try:
        digits = request.match_info["day"]
        day = dt.date.fromisoformat(f"{digits[:4]}-{digits[4:6]}-{digits[6:]}")
        occurrence = find_occurrence(config.series, project.sessions, day)
    except (ValueError, NotFound):
        raise web.HTTPNotFound(text="no such session") from None
    if language not in config.series.languages or occurrence.status == "skipped":
        raise web.HTTPNotFound(text="no such session")
    if target == "ics":
        now = workspace.now()
        with workspace.state() as state:
            revision = session_revision(state, config, occurrence, now)
        data = session_calendar(config, occurrence, language, revision)
        filename = ics_filename(config, occurrence)
        return web.Response(
            body=data,
            content_type="text/calendar",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )
    links = calendar_links(config, occurrence, language, summary(config, occurrence, language))
    chosen = {"google": links.google, "outlook": links.outlook, "office365": links.office365}
    if target not in chosen:
        raise web.HTTPNotFound(text="no such link")
    raise web.HTTPFound(chosen[target], headers={"Cache-Control": "no-store"})


def _feed_link(workspace: Workspace, request: web.Request) -> web.StreamResponse:
    """A short link to subscribe to the feed: a redirect to Google's or Outlook.com's page."""
    config = workspace.project().config
    language, target = request.match_info["language"], request.match_info["target"]
    links = feed_for(config, language) if language in config.series.languages else None
    chosen = {"google": links.google, "outlook": links.outlook} if links is not None else {}
    if target not in chosen:
        raise web.HTTPNotFound(text="no such link")
    raise web.HTTPFound(chosen[target])


def _metrics(workspace: Workspace, health: Mapping[str, Any]) -> str:
    with workspace.state() as state:
        counts = Ledger(state).totals()
        suppressed = suppression_count(state)
    queue = sum(counts[s] for s in OPEN)
    lines = [
        "# HELP mailer_deliveries Deliveries in the ledger, by state.",
        "# TYPE mailer_deliveries gauge",
    ]
    lines += [f'mailer_deliveries{{state="{s}"}} {counts[s]}' for s in STATES]
    lines += [
        "# HELP mailer_sent_total Emails accepted by the server (or written to the outbox).",
        "# TYPE mailer_sent_total counter",
        f"mailer_sent_total {counts['sent']}",
        "# HELP mailer_failed_total Emails that failed for good.",
        "# TYPE mailer_failed_total counter",
        f"mailer_failed_total {counts['failed']}",
        "# HELP mailer_retrying Emails waiting for a retry.",
        "# TYPE mailer_retrying gauge",
        f"mailer_retrying {counts['retry']}",
        "# HELP mailer_queue Emails still to send (pending, retrying, unknown, being sent).",
        "# TYPE mailer_queue gauge",
        f"mailer_queue {queue}",
        "# HELP mailer_suppressed Addresses never to mail again.",
        "# TYPE mailer_suppressed gauge",
        f"mailer_suppressed {suppressed}",
        "# HELP mailer_scheduler_up 1 when the scheduler is running.",
        "# TYPE mailer_scheduler_up gauge",
        f"mailer_scheduler_up {1 if health.get('scheduler') == 'running' else 0}",
    ]
    if health.get("next_fire_timestamp"):
        lines += [
            "# HELP mailer_next_fire_timestamp_seconds When the daemon next wakes up.",
            "# TYPE mailer_next_fire_timestamp_seconds gauge",
            f"mailer_next_fire_timestamp_seconds {health['next_fire_timestamp']}",
        ]
    return "\n".join(lines) + "\n"
