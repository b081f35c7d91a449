"""The preferences page: what the unsubscribe link of every email opens.

`POST` with RFC 8058's one-click body (no choice) unsubscribes from everything. The page itself
offers: stop everything, stop the reminders only, receive everything again; change her name,
the language and the time zone of her emails; download everything held about her (JSON), or
erase it. Export and erasure need a ticked box (a forwarded email's reader should not do it by
one click). `GET` and `HEAD` only show the page: link checkers and mail scanners follow links.
A bad token gets a 400 page.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping

from aiohttp import web

from mailer.actions.people import PersonReport, erase_person, person, person_record
from mailer.audience.addresses import parse_address
from mailer.audience.recipients import valid_zone
from mailer.audience.signup import MAX_NAME
from mailer.audience.unsubscribe import read_token
from mailer.errors import InvalidAddress, InvalidToken
from mailer.messages.pages import in_every_language, preferences_context
from mailer.project.workspace import Workspace
from mailer.store.ledger import Ledger
from mailer.store.members import Preferences, set_preferences
from mailer.store.state import State
from mailer.store.suppression import Choice, Suppression, choose, suppression_of
from mailer.web.signup_page import zones

log = logging.getLogger("mailer.http")
CHOICES: frozenset[Choice] = frozenset(("all", "reminders", "resubscribe"))
OTHER_CHOICES = frozenset(("details", "export", "erase"))


def _current(suppression: Suppression | None) -> str:
    """What the page says the person receives now."""
    if suppression is None:
        return "subscribed"
    if suppression.kind == "bounced":
        return "bounced"
    if suppression.kind != "unsubscribed":
        return "blocked"
    return "reminders" if suppression.scope == "reminders" else "unsubscribed"


def _details(report: PersonReport, default: str) -> dict[str, str | None]:
    """Her name, language and zone as her emails use them (her first row, with her
    preferences), or what she chose when she is on no list."""
    if report.rows:
        first = report.rows[0].recipient
        return {"name": first.name, "language": first.language, "timezone": first.timezone}
    chosen = report.preferences or Preferences()
    return {
        "name": chosen.name or "",
        "language": chosen.language or default,
        "timezone": chosen.timezone,
    }


def _language(state: State, report: PersonReport, languages: tuple[str, ...]) -> str:
    wanted = report.rows[0].recipient.language if report.rows else None
    wanted = wanted or Ledger(state).language_of(report.address.key)
    return wanted if wanted in languages else languages[0]


def _preferences(form: Mapping[str, str], languages: tuple[str, ...]) -> Preferences:
    zone = form.get("timezone", "").strip()
    language = form.get("language", "")
    return Preferences(
        " ".join(form.get("name", "").split())[:MAX_NAME],
        language if language in languages else None,
        zone if zone and valid_zone(zone) else None,
    )


async def preferences_page(
    workspace: Workspace, request: web.Request, headers: Mapping[str, str]
) -> web.StreamResponse:
    project = workspace.project()
    config = project.config
    languages = config.series.languages
    templates = workspace.templates()
    try:
        key = read_token(workspace.signing_key(), config.series.id, request.match_info["token"])
        address = parse_address(key)
    except (InvalidToken, InvalidAddress):  # whose link it is cannot be known
        html = in_every_language(
            lambda code: templates.render_page(
                code,
                "unsubscribe",
                preferences_context(config, code, "invalid", "", request.path),
            ),
            languages,
        )
        return web.Response(status=400, text=html, content_type="text/html", headers=headers)
    form: dict[str, str] = {}
    choice = None
    if request.method == "POST":  # RFC 8058's one-click body (no choice) stops everything
        posted = await request.post()
        form = {k: v for k, v in posted.items() if isinstance(v, str)}
        choice = form.get("choice", "all")
        if choice not in CHOICES | OTHER_CHOICES:
            raise web.HTTPBadRequest(text="unknown choice", headers=headers)
    now = workspace.now()

    def respond() -> web.Response:  # in a thread: finding her reads every list
        step, saved, problem = "choose", "", ""
        with workspace.state() as state:
            if choice in CHOICES:
                if choose(state, address, choice, now):
                    log.info("preferences page: %s chose %s", address.email, choice)
                step, saved = "done", choice
            elif choice == "details":
                set_preferences(state, address.key, _preferences(form, languages), now)
                step, saved = "done", "details"
            elif choice in ("export", "erase") and form.get(f"confirm-{choice}") != "1":
                problem = "confirm"
            report = person(project, state, address, now)
            language = _language(state, report, languages)
            if choice == "export" and not problem:
                body = json.dumps(person_record(report), ensure_ascii=False, indent=2)
                attachment = {"Content-Disposition": 'attachment; filename="my-data.json"'}
                return web.Response(
                    text=body, content_type="application/json", headers={**headers, **attachment}
                )
            if choice == "erase" and not problem:
                erase_person(project, state, address, now)
                log.info("preferences page: a person erased their data")
                context = preferences_context(config, language, "erased", "", request.path)
                html = templates.render_page(language, "unsubscribe", context)
                return web.Response(text=html, content_type="text/html", headers=headers)
            current = _current(suppression_of(state, address.key))
        context = preferences_context(
            config,
            language,
            step,
            address.email,
            request.path,
            current=current,
            details=_details(report, language),
            zones=zones(),
            saved=saved,
            problem=problem,
        )
        html = templates.render_page(language, "unsubscribe", context)
        return web.Response(
            status=400 if problem else 200, text=html, content_type="text/html", headers=headers
        )

    return await asyncio.to_thread(respond)
