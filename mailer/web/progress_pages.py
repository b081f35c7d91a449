"""The progress page of a send started from the pages: how far it is (a live region its one
script updates), pausing it (the messages in flight finish, the rest waits in the ledger, and
nobody sends it until it is resumed) and resuming it."""

from __future__ import annotations

import asyncio

from aiohttp import web

from mailer.errors import LockHeld, MailerError
from mailer.project.workspace import Workspace
from mailer.sending.plan import SendRequest, plan_send
from mailer.web.render import page
from mailer.web.sending_pages import BUSY, INCOMPLETE
from mailer.web.sends import WebSend
from mailer.web.site import Site, organiser_of, redirect
from mailer.web.words import Words


def progress_text(sent: WebSend, _: Words) -> str:
    text = _("{sent} sent, {failed} failed, {retrying} to retry, {skipped} skipped, of {count}")
    tally = sent.tally
    said = text.format(
        sent=tally.sent,
        failed=tally.failed,
        retrying=tally.retrying,
        skipped=tally.skipped,
        count=sent.to_send,
    )
    return said if sent.finished else f"{said} {_('(sending…)')}"


def _left(workspace: Workspace, request: SendRequest) -> int:
    """How many emails of a paused send are still to go."""
    with workspace.state() as state:
        return plan_send(workspace.project(), state, request, workspace.now()).to_send


def add_routes(app: web.Application, site: Site) -> None:
    def send_of(request: web.Request) -> tuple[int, WebSend]:
        try:
            number = int(request.match_info["number"])
            return number, site.sends.sends[number]
        except (KeyError, ValueError):
            raise web.HTTPNotFound(text="no such send") from None

    async def progress_now(request: web.Request) -> web.Response:
        """How far a send is, for the progress page's script."""
        _number, sent = send_of(request)
        return web.json_response(
            {
                "done": sent.tally.done,
                "max": sent.to_send or 1,
                "text": progress_text(sent, site.words()),
                "finished": sent.finished,
            },
            headers={"Cache-Control": "no-store"},
        )

    async def progress(
        request: web.Request, problem: str | None = None, status: int = 200
    ) -> web.Response:
        number, sent = send_of(request)
        _ = site.words()
        left = None
        if sent.finished and sent.paused_by is not None:
            try:
                left = await asyncio.to_thread(_left, site.current(), sent.request)
            except MailerError as error:
                problem = problem or str(error)
        return page(
            "progress.html",
            organiser_of(request),
            _,
            status=status,
            title=_("Sending the {kind} of {day}").format(
                kind=_(sent.request.kind), day=sent.request.day
            ),
            script=None if sent.finished else "/static/progress.js",
            sent=sent,
            number=number,
            progress_text=progress_text(sent, _),
            left=left,
            problem=_(problem) if problem else None,
            zone=site.project().config.series.timezone,
        )

    async def pause(request: web.Request) -> web.Response:
        number, sent = send_of(request)
        if sent.paused_by is None and not sent.finished:
            site.sends.pause(site.current(), sent, organiser_of(request).email)
        return redirect(f"/sends/{number}")

    async def resume(request: web.Request) -> web.Response:
        _number, sent = send_of(request)
        form = await request.post()
        who = organiser_of(request)
        try:
            expected = int(str(form.get("expected", "")))
            workspace = site.current()
            workspace.require_secrets()
            resumed = site.sends.resume(workspace, sent, expected, who.email)
        except LockHeld:
            return await progress(request, BUSY, 409)
        except ValueError:
            return await progress(request, INCOMPLETE, 409)
        except MailerError as error:
            return await progress(request, str(error), 409)
        return redirect(f"/sends/{resumed.number}")

    app.router.add_get(r"/sends/{number:\d+}", progress)
    app.router.add_get(r"/sends/{number:\d+}/progress.json", progress_now)
    app.router.add_post(r"/sends/{number:\d+}/pause", pause)
    app.router.add_post(r"/sends/{number:\d+}/resume", resume)
