"""The public sign-up page (`[signup]`), served by the daemon's public side.

- `GET /signup?lang=fr`: the form, in the language asked (else the browser's, else the
  series' first); its one script guesses the reader's time zone (allowed by hash, nothing else).
- `POST /signup`: always "check your inbox" for a well-formed form (see
  `mailer.actions.signup.ask`); the confirmation email leaves in the background, so that the
  answer takes the same time whether an email goes or not.
- `GET /signup/confirm/<token>` shows what she is confirming and a button (mail scanners open
  links); only `POST` writes her onto the lists.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import logging
import zoneinfo
from collections.abc import Callable, Mapping, Sequence

from aiohttp import web

from mailer.actions.signup import CONFIRM_PATH, ask, confirm, read_confirmation
from mailer.errors import InvalidToken, MailerError
from mailer.messages.signup import GUESS_ZONE, signup_context
from mailer.model import Outgoing
from mailer.project.workspace import Workspace
from mailer.web.logins import client_address

log = logging.getLogger("mailer.http")
FORM_PATH = "/signup"
_SCRIPT_HASH = base64.b64encode(hashlib.sha256(GUESS_ZONE.encode()).digest()).decode()


@functools.cache
def zones() -> tuple[str, ...]:
    """The time zones a person may choose (IANA's, without the legacy and Etc/ ones)."""
    return tuple(
        sorted(
            zone
            for zone in zoneinfo.available_timezones()
            if "/" in zone and not zone.startswith(("Etc/", "SystemV/", "posix/", "right/"))
        )
    )


def page_language(request: web.Request, languages: Sequence[str]) -> str:
    """`?lang=`, else the browser's first language the series has, else the series' first."""
    asked = request.query.get("lang", "")
    if asked in languages:
        return asked
    weighted = []
    for position, part in enumerate(request.headers.get("Accept-Language", "").split(",")):
        tag, _, parameters = part.strip().partition(";")
        weight = 1.0
        if parameters.strip().startswith("q="):
            try:
                weight = float(parameters.strip()[2:])
            except ValueError:
                continue
        weighted.append((-weight, position, tag.strip().lower()))
    bases = {code.lower().split("-")[0]: code for code in languages}
    for _, _, tag in sorted(weighted):
        if tag in bases or tag.split("-")[0] in bases:
            return bases.get(tag) or bases[tag.split("-")[0]]
    return languages[0]


class SignupPages:
    """The handlers, with the confirmation emails on their way (kept, so none is dropped)."""

    def __init__(self, current: Callable[[], Workspace], headers: Mapping[str, str]) -> None:
        self.current = current
        self.headers = dict(headers)
        self.form_headers = {
            **headers,
            "Content-Security-Policy": f"{headers['Content-Security-Policy']}; "
            f"script-src 'sha256-{_SCRIPT_HASH}'",
        }
        self._sending: set[asyncio.Task[None]] = set()

    def workspace(self) -> Workspace:
        return self.current()

    def _client(self, workspace: Workspace, request: web.Request) -> str:
        settings = workspace.project().config.web
        if settings is None:
            return request.remote or ""
        forwarded = request.headers.get(settings.client_header)
        return client_address(request.remote, forwarded, settings.trusted_proxies)

    def _page(
        self,
        workspace: Workspace,
        language: str,
        step: str,
        *,
        action: str = FORM_PATH,
        values: Mapping[str, str] | None = None,
        problems: Mapping[str, str] | None = None,
        chosen: Sequence[str] = (),
    ) -> str:
        config = workspace.project().config
        form = step == "form"
        context = signup_context(
            config,
            language,
            step,
            action=action,
            values=values,
            problems=problems,
            chosen=chosen,
            zones=zones() if form else (),
            script=GUESS_ZONE if form else "",
        )
        return workspace.templates().render_page(language, "signup", context)

    def _response(self, html: str, status: int = 200, *, form: bool = False) -> web.Response:
        headers = self.form_headers if form else self.headers
        return web.Response(status=status, text=html, content_type="text/html", headers=headers)

    async def form(self, request: web.Request) -> web.Response:
        workspace = self.workspace()
        config = workspace.project().config
        if config.signup is None:
            raise web.HTTPNotFound(text="no sign-up page")
        language = page_language(request, config.series.languages)
        if request.method == "GET":
            html = self._page(
                workspace,
                language,
                "form",
                action=f"{FORM_PATH}?lang={language}",
            )
            return self._response(html, form=True)
        posted = await request.post()
        form = {key: value for key, value in posted.items() if isinstance(value, str)}
        with workspace.state() as state:
            asked = ask(
                config,
                workspace.templates(),
                state,
                form,
                language=language,
                client=self._client(workspace, request),
                now=workspace.now(),
                signing_key=workspace.signing_key(),
            )
        log.info("sign-up asked: %s", asked.why)
        if asked.problems:
            html = self._page(
                workspace,
                language,
                "form",
                action=f"{FORM_PATH}?lang={language}",
                values=form,
                problems=asked.problems,
            )
            return self._response(html, 400, form=True)
        if asked.email is not None:
            task = asyncio.create_task(self._deliver(workspace, asked.email))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)
        return self._response(self._page(workspace, language, "sent", action=FORM_PATH))

    async def _deliver(self, workspace: Workspace, compose: Callable[[], Outgoing]) -> None:
        try:
            message = await asyncio.to_thread(compose)
            await workspace.transport().send_one(message)
        except MailerError as error:  # she asks again; the limits counted the attempt
            log.warning("a confirmation email could not go: %s", error)

    async def confirmation(self, request: web.Request) -> web.Response:
        workspace = self.workspace()
        config = workspace.project().config
        if config.signup is None:
            raise web.HTTPNotFound(text="no sign-up page")
        language = page_language(request, config.series.languages)
        now = workspace.now()
        try:
            asked = read_confirmation(
                config, request.match_info["token"], now=now, signing_key=workspace.signing_key()
            )
        except InvalidToken as error:
            step = "expired" if "expired" in str(error) else "invalid"
            return self._response(self._page(workspace, language, step, action=FORM_PATH), 400)
        language = asked.language if asked.language in config.series.languages else language
        step = "confirm"
        if request.method == "POST":
            try:
                with workspace.state() as state:
                    confirm(config, state, asked, client=self._client(workspace, request), now=now)
            except InvalidToken:
                html = self._page(workspace, language, "invalid", action=FORM_PATH)
                return self._response(html, 400)
            step = "done"
        html = self._page(workspace, language, step, action=request.path, chosen=asked.lists)
        return self._response(html)

    async def drain(self, _: web.Application) -> None:
        """On shutdown: the confirmation emails on their way go before the daemon stops."""
        if self._sending:
            await asyncio.wait(set(self._sending), timeout=30)


def add_signup_routes(app: web.Application, pages: SignupPages) -> None:
    app.on_shutdown.append(pages.drain)
    app.router.add_get(FORM_PATH, pages.form)
    app.router.add_post(FORM_PATH, pages.form)
    app.router.add_get(f"{CONFIRM_PATH}/{{token}}", pages.confirmation)
    app.router.add_post(f"{CONFIRM_PATH}/{{token}}", pages.confirmation)
