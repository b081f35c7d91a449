"""What every organisers' page handler uses: the workspace in use, the logins, the sends."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from mailer.errors import NotFound
from mailer.model import Occurrence
from mailer.project.load import Project
from mailer.project.workspace import Workspace
from mailer.recurrence import find_occurrence
from mailer.store.web import audit
from mailer.web.auth import Auth, Organiser
from mailer.web.sends import WebSends
from mailer.web.words import Words, words_for

PER_PAGE = 200  # addresses listed at most on one page


@dataclass
class Site:
    current: Callable[[], Workspace]  # the daemon's workspace (a reload replaces it)
    reload: Callable[[], None]  # ask the daemon to read the files again, now
    health: Callable[[], Mapping[str, Any]]
    auth: Auth
    sends: WebSends
    saving: dict[str, asyncio.Lock] = field(default_factory=dict)  # one save of a file at once

    def saving_lock(self, path: Path) -> asyncio.Lock:
        """The lock held while a file is checked and written: two saves of one session, made
        at the same instant, are one after the other (the second sees the first's version)."""
        return self.saving.setdefault(str(path), asyncio.Lock())

    def project(self) -> Project:
        return self.current().project()

    def now(self) -> dt.datetime:
        return self.current().now()

    def words(self) -> Words:
        """`_` in the pages' language ([web] language)."""
        settings = self.project().config.web
        return words_for(settings.language if settings is not None else "en")

    def brand(self) -> str:
        """What the pages are called: the series' title, in the pages' language if it has it."""
        config = self.project().config
        settings = config.web
        language = settings.language if settings is not None else ""
        return (
            config.series.title.get(language) or config.series.title[config.series.default_language]
        )

    def audit(self, who: str, action: str, subject: str, detail: str) -> None:
        """Write down what the organiser `who` (their email) did."""
        with self.current().state() as state:
            audit(state, who, action, subject=subject, detail=detail, now=self.now())


def organiser_of(request: web.Request) -> Organiser:
    organiser: Organiser = request["organiser"]
    return organiser


def occurrence_of(project: Project, request: web.Request) -> Occurrence:
    """The session whose scheduled date is in the path (404 for anything else)."""
    try:
        day = dt.date.fromisoformat(request.match_info["day"])
        occurrence = find_occurrence(project.config.series, project.sessions, day)
    except (ValueError, NotFound):
        raise web.HTTPNotFound(text="no such session") from None
    if occurrence.status == "skipped" or occurrence.scheduled != day:
        raise web.HTTPNotFound(text="no such session")
    return occurrence


def redirect(location: str) -> web.Response:
    """303 See Other (a form posted, go and look)."""
    return web.Response(status=303, headers={"Location": location, "Cache-Control": "no-store"})


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of ours only (never //elsewhere or a URL, nor
    a path with spaces or control characters, which browsers drop: `/<tab>/elsewhere` is
    `//elsewhere` to them, and a line break cannot go into a Location header)."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not any(c <= " " or c in "\\\x7f" for c in target)
    ):
        return target
    return "/"
