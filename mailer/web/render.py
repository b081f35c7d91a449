"""The organisers' pages as HTML: one Jinja2 environment (autoescaped, strict), their headers.

Everything shown comes from config.toml, session files, lists and the mailbox: untrusted, so
no value is ever marked safe (the filters that make markup, `segments`, `engine` and the
charts, escape every value they put in it), and the Content-Security-Policy allows no script,
but on the progress page its own, from our origin.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

import jinja2
from aiohttp import web
from jinja2.runtime import Context
from markupsafe import Markup

from mailer.i18n.dates import language_name, table_day, table_moment
from mailer.web.auth import Organiser
from mailer.web.charts import bar_chart
from mailer.web.email_names import BUILT_IN_SEGMENTS, email_name, segment_name
from mailer.web.engine_words import engine_text
from mailer.web.words import Words

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
        "frame-src 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# an email's HTML shown in a frame of the preview page: no script, no form, no request out
FRAMED = {
    "Content-Security-Policy": (
        "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        "frame-ancestors 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("mailer.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@jinja2.pass_context
def _local(context: Context, moment: dt.datetime | str | None, zone: Any = None) -> str:
    """`moment | local(zone)`: in `zone` (or its own), in the page's language; a moment may
    be the state file's ISO 8601 text."""
    if not moment:
        return ""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    local = moment.astimezone(zone) if zone is not None else moment
    return table_moment(local, context.get("lang", "en"))


ENVIRONMENT.filters["local"] = _local


@jinja2.pass_context
def _email(context: Context, key: str) -> str:
    """`key | email`: the page's name of an email of the ledger ("Rappel la veille")."""
    return email_name(key, context["_"])


@jinja2.pass_context
def _segments(context: Context, names: Iterable[str]) -> Markup:
    """`names | segments`: built-in segments in the page's words, the organisers' own names
    marked as names (no translation applies to them)."""
    words = context["_"]
    return Markup(", ").join(
        segment_name(n, words)
        if n in BUILT_IN_SEGMENTS
        else Markup('<span translate="no">%s</span>') % n
        for n in names
    )


@jinja2.pass_context
def _language(context: Context, code: str) -> str:
    """`code | language`: a language's name in the page's language ("espagnol")."""
    return language_name(code, context.get("lang", "en")) if code else ""


@jinja2.pass_context
def _engine(context: Context, message: str) -> str | Markup:
    """`message | engine`: what the engine said, in the page's words."""
    return engine_text(message, context["_"])


@jinja2.pass_context
def _local_day(context: Context, day: dt.date) -> str:
    """`day | local_day`: "mar. 20 avr. 2021"."""
    return table_day(day, context.get("lang", "en"))


ENVIRONMENT.filters["local_day"] = _local_day
ENVIRONMENT.globals["chart"] = bar_chart
ENVIRONMENT.filters["engine"] = _engine
ENVIRONMENT.filters["email"] = _email
ENVIRONMENT.filters["language"] = _language
ENVIRONMENT.filters["segments"] = _segments


# the page being served: its path (the menu marks its section) and the series' name (the
# pages' brand); set once per request by the organisers' app
SERVING: ContextVar[tuple[str, str, str]] = ContextVar("serving", default=("/", "mailer", ""))
SECTIONS = (("/sessions", "/"), ("/sends", "/status"), ("/lists", "/people"))


def section_of(path: str) -> str:
    """The menu entry a page belongs to."""
    for prefix, section in SECTIONS:
        if path.startswith(prefix):
            return section
    return "/" + path.strip("/").split("/")[0] if path != "/" else "/"


def page(
    template: str,
    organiser: Organiser | None,
    words: Words,
    *,
    status: int = 200,
    title: str,
    script: str | None = None,
    **context: Any,
) -> web.Response:
    """A page of the organisers' site, in its layout, in the words of `words` (`_`)."""
    path, brand, host = SERVING.get()
    html = ENVIRONMENT.get_template(template).render(
        organiser=organiser,
        title=title,
        script=script,
        _=words,
        lang=words("en"),
        section=section_of(path),
        brand=brand,
        host=host,
        **context,
    )
    headers = HEADERS
    if script is not None:  # the one page with a script of ours: from our origin only
        policy = HEADERS["Content-Security-Policy"] + "; script-src 'self'; connect-src 'self'"
        headers = {**HEADERS, "Content-Security-Policy": policy}
    return web.Response(status=status, text=html, content_type="text/html", headers=headers)


def refusal(organiser: Organiser | None, words: Words, status: int, message: str) -> web.Response:
    """A page that says why a request was refused (and never how our code failed)."""
    titles = {400: "Bad request", 403: "Refused", 404: "Not found", 409: "Conflict"}
    title = words(titles.get(status, "Error"))
    return page(
        "refused.html", organiser, words, status=status, title=title, message=words(message)
    )
