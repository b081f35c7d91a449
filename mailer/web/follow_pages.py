"""The organisers' pages that only look: the series, what was sent, the audit log."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from typing import Any

from aiohttp import web

from mailer.actions.answers import answers_csv, session_headcount
from mailer.actions.project import coming_sessions
from mailer.actions.send import PlannedJob, daemon_plan, older_texts, sends_status
from mailer.errors import MailerError
from mailer.model import Occurrence
from mailer.project.workspace import Workspace
from mailer.store.activity import recent_sessions, session_activity, weekly_activity
from mailer.store.answers import headcount
from mailer.store.pauses import paused_sends
from mailer.store.suppression import suppressions
from mailer.store.web import audit_log
from mailer.web.render import page
from mailer.web.site import PER_PAGE, Site, occurrence_of, organiser_of

COMING = 6  # sessions shown on the series page
RECENT = 4  # past sessions whose numbers the dashboard shows
PLAN_DAYS = 60  # how far ahead the series page shows the daemon's plan
WEEKS = 12  # the dashboard's charts
SOON = dt.timedelta(days=7)  # content missing this close to its first email is urgent


def session_status(occurrence: Occurrence, urgent_until: dt.datetime | None = None) -> str:
    """What the series page says of a session: content missing is "to prepare" (calm) until its
    first email is near (`urgent_until`), "missing content" then."""
    if occurrence.status in ("cancelled", "moved"):
        return occurrence.status
    if occurrence.content is not None:
        return "scheduled"
    if urgent_until is not None and occurrence.start_utc > urgent_until:
        return "to prepare"
    return "missing content"


def _next_send(plan: list[PlannedJob]) -> PlannedJob | None:
    """The next email the daemon sends to people (not the organisers' warnings)."""
    for row in plan:
        if row.state in ("waiting", "due", "late") and row.job.kind != "warning":
            return row
    return None


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
        series = project.config.series.id
        recent = recent_sessions(state, series, now, RECENT)
        shown = sorted({*recent, *(o.scheduled for o in sessions)})
        activity = session_activity(state, series, shown)
        answers = headcount(state, series, shown)
        mondays, weekly = weekly_activity(state, series, now, WEEKS)
        held = paused_sends(state, series)
    leads = [e.before for e in project.config.cadence if e.before is not None]
    urgent_until = now + max(leads, default=dt.timedelta(0)) + SOON
    return {
        "sessions": sessions,
        "plan": plan,
        "plan_problem": plan_problem,
        "older": older,
        "next_send": _next_send(plan),
        "urgent_until": urgent_until,
        "numbers": [(day, activity[day], answers[day]) for day in shown if activity[day].reached],
        "charts": _charts(mondays, weekly),
        "paused": held,
    }


def _charts(
    mondays: Sequence[dt.date], weekly: dict[str, list[int]]
) -> list[tuple[str, str, Sequence[dt.date], list[int]]]:
    """The dashboard's charts: (name, its title's words, the weeks, the counts)."""
    titles = {
        "sent": "Emails sent, per week",
        "bounced": "Bounces, per week",
        "unsubscribed": "Unsubscriptions, per week",
        "signups": "Sign-ups, per week",
    }
    return [(name, titles[name], mondays, weekly[name]) for name in titles]


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
