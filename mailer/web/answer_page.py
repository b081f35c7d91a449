"""The answer page of the daemon's public side: `/answer/<token>`, the one-click answer links
of invitations and reminders ("I'll come", "Maybe", "I can't").

A GET (or HEAD) only shows the page, asking to confirm the answer its link chose: mail scanners
and link checkers follow links, and must never answer for anyone. The page's POST records it
(for this session, or for every coming one), then confirms, with the join details and the
calendar links, and lets the person change it. A token names one person and one session; a
forged, altered or another session's token gets a 400 page, and once the session is over the
link only says so.
"""

from __future__ import annotations

import logging

from aiohttp import web

from mailer.actions.answers import answer_by_link
from mailer.audience.addresses import parse_address
from mailer.audience.unsubscribe import read_answer_token
from mailer.errors import InvalidAddress, InvalidToken, NotFound
from mailer.messages.pages import answer_context
from mailer.model import ANSWER_WORDS, SAID
from mailer.project.workspace import Workspace
from mailer.recurrence import find_occurrence
from mailer.store.answers import answer_of
from mailer.store.ledger import Ledger

log = logging.getLogger("mailer.http")


async def answer_page(
    workspace: Workspace, request: web.Request, headers: dict[str, str]
) -> web.Response:
    project = workspace.project()
    config = project.config
    templates = workspace.templates()
    language = config.series.default_language

    def show(status: int, step: str, **more: object) -> web.Response:
        context = answer_context(config, language, step, action=request.path, **more)  # type: ignore[arg-type]  # the page's own keywords
        html = templates.render_page(language, "answer", context)
        return web.Response(status=status, text=html, content_type="text/html", headers=headers)

    try:
        session, key = read_answer_token(
            workspace.signing_key(), config.series.id, request.match_info["token"]
        )
        address = parse_address(key)
        occurrence = find_occurrence(config.series, project.sessions, session)
    except (InvalidToken, InvalidAddress, NotFound):
        return show(400, "invalid")
    now = workspace.now()
    with workspace.state() as state:
        known = Ledger(state).language_of(address.key)
        if known in config.series.languages:
            language = known
        if not occurrence.takes_place or occurrence.end <= now or occurrence.content is None:
            return show(410, "over")
        chosen = request.query.get("a")
        every = 0
        if request.method == "POST":
            form = await request.post()
            chosen = str(form.get("a", ""))
            if chosen not in ANSWER_WORDS:
                raise web.HTTPBadRequest(text="unknown answer", headers=headers)
            done = answer_by_link(
                project,
                state,
                address,
                session,
                chosen,
                now=now,
                every_coming=form.get("every") == "1",
            )
            every = len(done)
            log.info("answer page: %s said %s for %d session(s)", address.email, chosen, every)
        recorded = answer_of(state, config.series.id, session, address.key)
    said = None
    if recorded is not None:
        said = "waiting" if recorded[1] else SAID[recorded[0]]
    if chosen not in ANSWER_WORDS:
        chosen = said if said in ANSWER_WORDS else "yes"
    return show(
        200,
        "done" if request.method == "POST" else "confirm",
        occurrence=occurrence,
        now=now,
        chosen=chosen,
        said=said,
        every=every,
    )
