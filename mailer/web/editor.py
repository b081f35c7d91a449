"""The session editor: a session file, in every language side by side, saved as the file.

A save is checked like `mailer check` checks the project (the session file by its own
validator, then every email of every session rendered with it) before anything is written;
each problem is shown at its field. The file is then replaced atomically, the daemon reloads
at once, and the audit log keeps the difference. A save that moves or cancels a session that
people were already emailed about first shows who will get the update or the cancellation.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import difflib
import logging
import os
from pathlib import Path
from typing import Any

from aiohttp import web

from mailer.actions.project import check
from mailer.actions.send import ChangeAudience, change_audience
from mailer.config.sessions import move_problems, read_session
from mailer.config.toml_source import parse_toml
from mailer.errors import ConfigError, InvalidInput, MailerError, Problem
from mailer.model import Occurrence
from mailer.project.load import Project
from mailer.project.shared_files import publish_saved
from mailer.project.workspace import Workspace
from mailer.recurrence import find_occurrence
from mailer.web.render import page, refusal
from mailer.web.session_form import (
    SessionForm,
    field_label,
    field_names,
    file_version,
    form_data,
    form_from_data,
    form_from_post,
    kept_keys,
    missing_translations,
    named_once,
    place_problems,
    session_text,
)
from mailer.web.site import PER_PAGE, Site, occurrence_of, organiser_of, redirect

log = logging.getLogger("mailer.web")
MAX_SPEAKERS = 60
CHANGED = (
    "The session file changed since you opened this page (another organiser saved it, or it "
    "was edited on the server). Nothing was saved: your text is below; open the session again "
    "to see the new version, then make your change there."
)


def _read_file(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _write_file(path: Path, text: str, before: str | None) -> bool:
    """Replace the file at once (a reader sees the old file or the new one, never half), if
    it still holds `before` (None: does not exist); False, and nothing written, if not."""
    temporary = path.with_name(f".{path.name}.saving")
    with temporary.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    if _read_file(path) != before:
        temporary.unlink()
        return False
    temporary.replace(path)
    return True


@dataclasses.dataclass
class Attempt:
    """A save, checked."""

    text: str
    problems: list[Problem]
    after: Occurrence | None = None  # the session as it would be


def _attempt(workspace: Workspace, path: Path, day: dt.date, form: SessionForm) -> Attempt:
    """The file the form makes, and every problem `mailer check` would find with it."""
    project = workspace.project()
    config = project.config
    data, problems = form_data(form, config.series.languages)
    text = session_text(data, day)
    if problems:
        return Attempt(text, problems)
    content, problems = read_session(text, str(path), day, config.series, config.zoom)
    if content is None:
        return Attempt(text, problems)
    sessions = {**project.sessions, day: content}
    problems += move_problems(config.series, sessions)
    candidate = dataclasses.replace(project, sessions=sessions)
    if not any(problem.is_error for problem in problems):
        try:
            check(candidate, workspace.templates(), now=workspace.now(), offline=True)
        except InvalidInput as error:
            problems += [p for p in error.problems if p.is_error]
    after = find_occurrence(config.series, sessions, day)
    return Attempt(text, problems, after)


def broken(error: ConfigError) -> str:
    """Why a session file that is not even TOML cannot be edited here."""
    first = error.problems[0] if error.problems else error
    return f"{first}: fix the file on the server first (mailer check says what is wrong)."


def _kept(path: Path, text: str | None) -> dict[str, Any]:
    """The file's keys the page leaves alone (a Zoom override, held_in)."""
    return {} if text is None else kept_keys(parse_toml(text, str(path)))


def add_routes(app: web.Application, site: Site) -> None:
    def show(
        request: web.Request,
        project: Project,
        occurrence: Occurrence,
        form: SessionForm,
        *,
        status: int = 200,
        problems: list[Problem] | None = None,
        notice: str | None = None,
        change: ChangeAudience | None = None,
        text: str | None = None,
    ) -> web.Response:
        languages = project.config.series.languages
        names = field_names(form, languages)
        at, elsewhere = place_problems(problems or [], names)
        _ = site.words()
        summary = [
            (name, field_label(name, _), problem) for name in names for problem in at.get(name, [])
        ]
        return page(
            "session.html",
            organiser_of(request),
            _,
            status=status,
            title=_("Session {number}, {day}").format(
                number=occurrence.number, day=occurrence.scheduled
            ),
            config=project.config,
            occurrence=occurrence,
            languages=languages,
            form=form,
            at=at,
            elsewhere=elsewhere,
            summary=summary,
            named_once=named_once,
            missing=missing_translations(form, languages),
            notice=_(notice) if notice else None,
            change=change,
            change_shown=change.recipients[:PER_PAGE] if change else [],
            warnings=[p for p in problems or [] if not p.is_error],
            text=text,
            saved=request.query.get("saved") == "1",
        )

    async def edit(request: web.Request) -> web.Response:
        project = site.project()
        occurrence = occurrence_of(project, request)
        path = project.sessions_dir / f"{occurrence.scheduled}.toml"
        text = _read_file(path)
        if text is None:
            form = SessionForm()
        else:
            try:
                data = parse_toml(text, str(path))
            except ConfigError as error:
                return refusal(organiser_of(request), site.words(), 409, broken(error))
            form = form_from_data(data, project.config.series.languages, file_version(text))
        return show(request, project, occurrence, form)

    async def save(request: web.Request) -> web.Response:
        project = site.project()
        path = project.sessions_dir / f"{occurrence_of(project, request).scheduled}.toml"
        async with site.saving_lock(path):  # the version check and the write: one step
            return await _save(request)

    async def _save(request: web.Request) -> web.Response:
        workspace = site.current()
        project = workspace.project()
        occurrence = occurrence_of(project, request)
        who = organiser_of(request)
        path = project.sessions_dir / f"{occurrence.scheduled}.toml"
        posted = await request.post()
        try:
            rows = min(max(int(str(posted.get("rows", "0"))), 0), MAX_SPEAKERS)
        except ValueError:
            rows = 0
        before = _read_file(path)
        try:
            kept = _kept(path, before)
        except ConfigError as error:  # broken on the server since the page was opened
            return refusal(who, site.words(), 409, broken(error))
        form = form_from_post(
            lambda name: str(posted.get(name, "")), project.config.series.languages, rows, kept
        )
        if form.version != file_version(before):
            return show(request, project, occurrence, form, status=409, notice=CHANGED)
        attempt = await asyncio.to_thread(_attempt, workspace, path, occurrence.scheduled, form)
        if any(problem.is_error for problem in attempt.problems):
            return show(request, project, occurrence, form, status=422, problems=attempt.problems)
        assert attempt.after is not None
        if posted.get("confirmed") != "yes":
            with workspace.state() as state:
                change = change_audience(project, state, occurrence, attempt.after)
            if change is not None:
                return show(
                    request, project, occurrence, form, problems=attempt.problems, change=change
                )
        if not _write_file(path, attempt.text, before):  # changed on the server meanwhile
            return show(request, project, occurrence, form, status=409, notice=CHANGED)
        diff = "".join(
            difflib.unified_diff(
                (before or "").splitlines(keepends=True),
                attempt.text.splitlines(keepends=True),
                f"{path.name} (before)",
                path.name,
            )
        )
        try:  # with several hosts, the copy every host sends from now on
            await asyncio.to_thread(publish_saved, workspace.store(), path, workspace.now())
        except MailerError as error:  # the daemon's next round publishes it
            log.warning("%s saved here, not yet for the other hosts: %s", path, error)
        site.audit(who.email, "save session", str(occurrence.scheduled), diff)
        log.info("%s saved %s", who.email, path)
        site.reload()
        return redirect(f"/sessions/{occurrence.scheduled}?saved=1")

    day = r"{day:\d{4}-\d{2}-\d{2}}"
    app.router.add_get(f"/sessions/{day}", edit)
    app.router.add_post(f"/sessions/{day}", save)
