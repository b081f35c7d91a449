"""The organisers' pages that send: previews, a proof to oneself, one-off sends and their
progress. The same engine and ledger as `mailer send`: a one-off send is planned against the
ledger (nobody served twice), confirmed by the organiser who saw its plan, recorded before
anything goes out, and followed live."""

from __future__ import annotations

import asyncio
import itertools
import logging
from typing import Any

from aiohttp import web

from mailer.actions.people import list_rows
from mailer.actions.project import PreviewParts, preview_composer, preview_parts
from mailer.actions.session_emails import DaemonEmail, daemon_emails
from mailer.audience.addresses import parse_address
from mailer.errors import LockHeld, MailerError
from mailer.messages.context import logo_shown_in_a_page
from mailer.model import MESSAGE_KINDS, MessageKind, Occurrence, Recipient
from mailer.project.workspace import Workspace
from mailer.sending.plan import SendPlan, SendRequest, plan_send
from mailer.sending.run import send_proofs
from mailer.store.pauses import Pause, paused
from mailer.web.render import FRAMED, page, refusal
from mailer.web.site import PER_PAGE, Site, occurrence_of, organiser_of, redirect

log = logging.getLogger("mailer.web")

BAD_PROOF_ADDRESS = "Write email addresses (separated by spaces or commas)."
MAX_PROOFS = 10
BUSY = "Another send is running (the daemon's, or another organiser's): try again in a moment."
INCOMPLETE = "The form is incomplete: look at the plan again."
UNTICKED = "Tick the box that says you want these emails sent, then send."


def _kind(text: str | None) -> MessageKind:
    if text not in MESSAGE_KINDS:
        raise web.HTTPNotFound(text="no such kind of email")
    return text


def _previews(
    workspace: Workspace,
    occurrence: Occurrence,
    kind: MessageKind,
    languages: tuple[str, ...] | None = None,
    person: str | None = None,
) -> list[PreviewParts] | None:
    """The email of `kind` for a sample recipient in each language (or in `languages`), or as
    the person of the lists whose key is `person` gets it (None: no such person)."""
    project = workspace.project()
    with workspace.state() as state:
        rows = list_rows(project, state, person) if person else []
        if person and not rows:
            return None
        recipient = rows[0].recipient if rows else None
        composer, sample = preview_composer(
            project,
            workspace.templates(),
            state,
            occurrence.scheduled,
            kind=kind,
            key=workspace.signing_key(),
            now=workspace.now(),
        )
    if recipient is not None:
        return [preview_parts(composer, recipient)]
    chosen = languages or project.config.series.languages
    return [preview_parts(composer, sample(code)) for code in chosen]


def _plan(
    workspace: Workspace, request: SendRequest, occurrence: Occurrence
) -> tuple[SendPlan, list[Recipient], list[DaemonEmail], Pause | None]:
    """The plan of a send (nothing recorded), the first people it reaches, the emails the
    daemon sends for the session by itself, and the send's pause if it is paused."""
    project = workspace.project()
    with workspace.state() as state:
        plan = plan_send(project, state, request, workspace.now())
        people = list(itertools.islice(plan.audience(state), PER_PAGE))
        return plan, people, daemon_emails(project, state, occurrence), paused(state, plan.key)


def _proof_plan(workspace: Workspace, request: SendRequest) -> SendPlan:
    """The plan a proof tells about (its audience, for the proof's note): nothing recorded."""
    with workspace.state() as state:
        return plan_send(workspace.project(), state, request, workspace.now())


def add_routes(app: web.Application, site: Site) -> None:
    async def preview(request: web.Request) -> web.Response:
        workspace = site.current()
        occurrence = occurrence_of(workspace.project(), request)
        kind = _kind(request.query.get("kind", "invitation"))
        return await _preview_page(
            request, workspace, occurrence, kind, person=request.query.get("as", "").strip()
        )

    async def _preview_page(
        request: web.Request,
        workspace: Workspace,
        occurrence: Occurrence,
        kind: MessageKind,
        *,
        proofs: list[tuple[str, str, str]] | None = None,
        problem: str | None = None,
        person: str = "",
        to: list[str] | None = None,
    ) -> web.Response:
        if occurrence.content is None:
            return refusal(
                organiser_of(request),
                site.words(),
                409,
                "This session has no content yet: prepare it first.",
            )
        _ = site.words()
        key = None
        if person:
            try:
                key = parse_address(person).key
            except MailerError:
                problem, person = _(BAD_PROOF_ADDRESS), ""  # the samples, and why
        parts = await asyncio.to_thread(_previews, workspace, occurrence, kind, None, key)
        if parts is None:
            problem = _("{address} is on none of the lists.").format(address=person)
            parts = await asyncio.to_thread(_previews, workspace, occurrence, kind)
        assert parts is not None
        return page(
            "preview.html",
            organiser_of(request),
            _,
            title=_("Preview: {kind} of session {number}").format(
                kind=_(kind), number=occurrence.number
            ),
            occurrence=occurrence,
            kind=kind,
            kinds=MESSAGE_KINDS,
            parts=parts,
            proofs=proofs,
            problem=problem,
            person=person,
            to=" ".join(to or []),
        )

    async def framed(request: web.Request) -> web.Response:
        workspace = site.current()
        occurrence = occurrence_of(workspace.project(), request)
        kind = _kind(request.match_info["kind"])
        language = request.match_info["language"]
        if (
            occurrence.content is None
            or language not in workspace.project().config.series.languages
        ):
            raise web.HTTPNotFound(text="no such preview")
        person = request.query.get("as", "").strip()
        try:
            key = parse_address(person).key if person else None
        except MailerError:
            raise web.HTTPNotFound(text="no such preview") from None
        parts = await asyncio.to_thread(_previews, workspace, occurrence, kind, (language,), key)
        if not parts:
            raise web.HTTPNotFound(text="no such preview")
        html = logo_shown_in_a_page(parts[0].html, workspace.project().config)
        return web.Response(text=html, content_type="text/html", headers=FRAMED)

    async def proof(request: web.Request) -> web.Response:
        workspace = site.current()
        project = workspace.project()
        occurrence = occurrence_of(project, request)
        who = organiser_of(request)
        form = await request.post()
        kind = _kind(str(form.get("kind", "")))
        send_request = SendRequest(occurrence.scheduled, kind, ())
        _ = site.words()
        texts = str(form.get("to", "")).replace(",", " ").replace(";", " ").split()
        try:
            addresses = [parse_address(text) for text in texts or [who.email]]
        except MailerError:
            return await _preview_page(
                request, workspace, occurrence, kind, problem=_(BAD_PROOF_ADDRESS), to=texts
            )
        if len(addresses) > MAX_PROOFS:
            problem = _("At most {count} addresses for proofs.").format(count=MAX_PROOFS)
            return await _preview_page(request, workspace, occurrence, kind, problem=problem)
        replies = []
        try:
            plan = await asyncio.to_thread(_proof_plan, workspace, send_request)
            for address in addresses:
                sent = await send_proofs(
                    project,
                    workspace.templates(),
                    plan,
                    address,
                    transport=workspace.transport(),
                    now=workspace.now(),
                    signing_key=workspace.signing_key(),
                )
                replies += [(language, address.email, reply) for language, reply in sent]
        except MailerError as error:
            return await _preview_page(request, workspace, occurrence, kind, problem=str(error))
        sent_to = ", ".join(a.email for a in addresses)
        site.audit(who.email, "proof", str(occurrence.scheduled), f"{kind} to {sent_to}")
        return await _preview_page(request, workspace, occurrence, kind, proofs=replies)

    async def send_form(request: web.Request) -> web.Response:
        workspace = site.current()
        project = workspace.project()
        occurrence = occurrence_of(project, request)
        chosen = request.query.getall("segment", [])
        kind_text = request.query.get("kind")
        context: dict[str, Any] = {"plan": None, "people": [], "problem": None}
        if kind_text is not None:
            context = await _planned(workspace, occurrence, _kind(kind_text), chosen)
        return _send_page(request, occurrence, kind_text, chosen, **context)

    async def _planned(
        workspace: Workspace, occurrence: Occurrence, kind: MessageKind, chosen: list[str]
    ) -> dict[str, Any]:
        """The send page's plan of `kind` to the `chosen` segments (or what stops it)."""
        names = [s.name for s in workspace.project().config.mailing.segments]
        segments = tuple(s for s in chosen if s in names)
        context: dict[str, Any] = {"plan": None, "people": [], "problem": None}
        try:
            plan, people, daemon, held = await asyncio.to_thread(
                _plan, workspace, SendRequest(occurrence.scheduled, kind, segments), occurrence
            )
            context.update(plan=plan, people=people, too_late=plan.too_late(site.now()))
            own = plan.key.message in {d.message for d in daemon}
            context.update(daemon=daemon, daemons_own=own, held=held)
        except MailerError as error:
            context["problem"] = str(error)
        return context

    def _send_page(
        request: web.Request,
        occurrence: Occurrence,
        kind: str | None,
        chosen: list[str],
        status: int = 200,
        **context: Any,
    ) -> web.Response:
        config = site.project().config
        _ = site.words()
        if context.get("problem"):
            context["problem"] = _(context["problem"])
        return page(
            "send.html",
            organiser_of(request),
            _,
            status=status,
            title=_("Send: session {number}").format(number=occurrence.number),
            occurrence=occurrence,
            kinds=MESSAGE_KINDS,
            kind=kind,
            segments=config.mailing.segments,
            chosen=chosen,
            zone=config.series.timezone,
            **{"too_late": False, "daemon": [], "daemons_own": False, "held": None, **context},
        )

    async def send_start(request: web.Request) -> web.Response:
        workspace = site.current()
        occurrence = occurrence_of(workspace.project(), request)
        who = organiser_of(request)
        form = await request.post()
        kind = _kind(str(form.get("kind", "")))
        segments = tuple(str(s) for s in form.getall("segment", []))
        back: dict[str, Any] = {"plan": None, "people": [], "problem": None}
        if form.get("confirm") != "yes":  # the plan again, with its box, saying why
            again = await _planned(workspace, occurrence, kind, list(segments))
            again["problem"] = again["problem"] or UNTICKED
            return _send_page(request, occurrence, kind, list(segments), 422, **again)
        try:
            expected = int(str(form.get("expected", "")))
            workspace.require_secrets()
            send_request = SendRequest(occurrence.scheduled, kind, segments)
            resuming = form.get("resume") == "yes"
            started = site.sends.start(
                workspace, send_request, expected, who.email, resuming=resuming
            )
        except (ValueError, MailerError) as error:
            if isinstance(error, LockHeld):
                message = BUSY
            elif isinstance(error, ValueError):
                message = INCOMPLETE
            else:
                message = str(error)
            back["problem"] = message
            return _send_page(request, occurrence, kind, list(segments), 409, **back)
        return redirect(f"/sends/{started.number}")

    day = r"{day:\d{4}-\d{2}-\d{2}}"
    app.router.add_get(f"/sessions/{day}/preview", preview)
    app.router.add_get(f"/sessions/{day}/preview/{{kind}}/{{language}}.html", framed)
    app.router.add_post(f"/sessions/{day}/proof", proof)
    app.router.add_get(f"/sessions/{day}/send", send_form)
    app.router.add_post(f"/sessions/{day}/send", send_start)
