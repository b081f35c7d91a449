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
from mailer.messages.pages import answer_context, in_every_language
from mailer.model import ANSWER_WORDS
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
    language = config.series.default_language

    def only_saying(status: int, step: str) -> web.Response:
        """A page that only says something: a bad link, a session over or cancelled."""
        context = answer_context(config, language, step, action=request.path)
        return _page(workspace, headers, status, language, context)

    try:
        session, key = read_answer_token(
            workspace.signing_key(), config.series.id, request.match_info["token"]
        )
        address = parse_address(key)
        occurrence = find_occurrence(config.series, project.sessions, session)
    except (InvalidToken, InvalidAddress, NotFound):  # whose link it is cannot be known
        html = in_every_language(
            lambda code: workspace.templates().render_page(
                code, "answer", answer_context(config, code, "invalid", action=request.path)
            ),
            config.series.languages,
        )
        return web.Response(status=400, text=html, content_type="text/html", headers=headers)
    chosen, every_coming = request.query.get("a"), False
    if request.method == "POST":
        form = await request.post()
        chosen, every_coming = str(form.get("a", "")), form.get("every") == "1"
        if chosen not in ANSWER_WORDS:
            raise web.HTTPBadRequest(text="unknown answer", headers=headers)
    now = workspace.now()
    every = 0
    with workspace.state() as state:
        known = Ledger(state).language_of(address.key)
        if known in config.series.languages:
            language = known
        if occurrence.status == "cancelled" or occurrence.content is None:
            return only_saying(410, "cancelled")
        if occurrence.end <= now:
            return only_saying(410, "over")
        if request.method == "POST" and chosen is not None:
            done = answer_by_link(
                project, state, address, session, chosen, now=now, every_coming=every_coming
            )
            every = len(done)
            log.info("answer page: %s said %s for %d session(s)", address.email, chosen, every)
        said = answer_of(state, config.series.id, session, address.key)
    if chosen not in ANSWER_WORDS:
        chosen = said if said in ANSWER_WORDS else "yes"
    context = answer_context(
        config,
        language,
        "done" if request.method == "POST" else "confirm",
        occurrence=occurrence,
        now=now,
        chosen=chosen,
        said=said,
        action=request.path,
        every=every,
    )
    return _page(workspace, headers, 200, language, context)


def _page(
    workspace: Workspace,
    headers: dict[str, str],
    status: int,
    language: str,
    context: dict[str, object],
) -> web.Response:
    html = workspace.templates().render_page(language, "answer", context)
    return web.Response(status=status, text=html, content_type="text/html", headers=headers)
