"""The organisers' pages that only look: the series, what was sent, the audit log."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from mailer.actions.answers import answers_csv, session_headcount
from mailer.actions.project import coming_sessions
from mailer.actions.send import daemon_plan, older_texts, sends_status
from mailer.errors import MailerError
from mailer.model import Occurrence
from mailer.project.workspace import Workspace
from mailer.store.answers import headcount
from mailer.store.suppression import suppressions
from mailer.store.web import audit_log
from mailer.web.render import page
from mailer.web.site import PER_PAGE, Site, occurrence_of, organiser_of

COMING = 6  # sessions shown on the series page
PLAN_DAYS = 60  # how far ahead the series page shows the daemon's plan


def session_status(occurrence: Occurrence) -> str:
    """What the series page says of a session."""
    if occurrence.status in ("cancelled", "moved"):
        return occurrence.status
    return "scheduled" if occurrence.content is not None else "missing content"


def _series(workspace: Workspace) -> dict[str, Any]:
    """The series page's data (in a thread: planning resolves every list)."""
    project = workspace.project()
    now = workspace.now()
    sessions = coming_sessions(project, None, COMING, now=now)
    with workspace.state() as state:
        try:
            plan: list[Any] = daemon_plan(
                project,
                workspace.templates(),
                state,
                now=now,
                days=PLAN_DAYS,
                signing_key=workspace.signing_key,
            )
            plan_problem = None
        except MailerError as error:
            plan, plan_problem = [], str(error)
        older = older_texts(project, state, now=now, days=PLAN_DAYS)
    return {"sessions": sessions, "plan": plan, "plan_problem": plan_problem, "older": older}


def add_routes(app: web.Application, site: Site) -> None:
    async def series(request: web.Request) -> web.Response:
        workspace = site.current()
        data = await asyncio.to_thread(_series, workspace)
        config = workspace.project().config
        health = site.health()
        _ = site.words()
        return page(
            "series.html",
            organiser_of(request),
            _,
            title=_("The series"),
            config=config,
            zone=config.series.timezone,
            status_of=session_status,
            refused=health.get("config"),
            health=health,
            **data,
        )

    async def status(request: web.Request) -> web.Response:
        project = site.project()
        config = project.config
        with site.current().state() as state:
            sends = sends_status(project, state, None)
            sessions = sorted({send.session for send in sends})
            replies = headcount(state, config.series.id, sessions)
            blocked = list(reversed(suppressions(state)))
        _ = site.words()
        return page(
            "status.html",
            organiser_of(request),
            _,
            title=_("What was sent"),
            config=config,
            sends=sends,
            replies=sorted(replies.items(), reverse=True),
            suppressions=blocked[:PER_PAGE],
            suppressed=len(blocked),
            zone=config.series.timezone,
        )

    async def session_status_page(request: web.Request) -> web.Response:
        project = site.project()
        occurrence = occurrence_of(project, request)
        config = project.config
        with site.current().state() as state:
            sends = sends_status(project, state, occurrence.scheduled)
            coming = session_headcount(project, state, occurrence.scheduled)
            history = audit_log(state, subject=str(occurrence.scheduled))
        _ = site.words()
        return page(
            "session_status.html",
            organiser_of(request),
            _,
            title=_("Session {number}: what was sent").format(number=occurrence.number),
            config=config,
            occurrence=occurrence,
            sends=sends,
            coming=coming,
            history=history,
            zone=config.series.timezone,
        )

    async def answers_file(request: web.Request) -> web.Response:
        """The session's answers, for its speakers and moderator (a spreadsheet)."""
        project = site.project()
        occurrence = occurrence_of(project, request)
        with site.current().state() as state:
            coming = session_headcount(project, state, occurrence.scheduled)
        name = f"answers-{occurrence.scheduled}.csv"
        return web.Response(
            body=answers_csv(coming.rows).encode("utf-8-sig"),  # a spreadsheet reads it as UTF-8
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    async def audit(request: web.Request) -> web.Response:
        with site.current().state() as state:
            entries = audit_log(state, PER_PAGE)
        zone = site.project().config.series.timezone
        _ = site.words()
        return page(
            "audit.html",
            organiser_of(request),
            _,
            title=_("Who did what"),
            entries=entries,
            zone=zone,
        )

    app.router.add_get("/", series)
    app.router.add_get("/status", status)
    app.router.add_get(r"/sessions/{day:\d{4}-\d{2}-\d{2}}/status", session_status_page)
    app.router.add_get(r"/sessions/{day:\d{4}-\d{2}-\d{2}}/answers.csv", answers_file)
    app.router.add_get("/audit", audit)
