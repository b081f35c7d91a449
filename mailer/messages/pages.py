"""The daemon's web pages (the unsubscribe page and the answer page, per language): what they
show, and checking that every language's page renders at every step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from mailer.calendar.describe import summary, zoom_of
from mailer.calendar.links import calendar_links, feed_for, short_links
from mailer.config.settings import Config
from mailer.errors import Problem, TemplateError
from mailer.i18n.dates import language_name, typography
from mailer.messages.context import moment
from mailer.messages.templates import TemplateSet
from mailer.model import Occurrence

STEPS = ("choose", "done", "invalid", "erased")
SAVED = ("all", "reminders", "resubscribe", "details")  # what a "done" page says was saved
# what the person receives: everything, everything but reminders, nothing (their choice),
# nothing after a bounce (which they can undo: their own link shows the address works), or
# nothing for a reason the page cannot undo (the organiser's)
CURRENT = ("subscribed", "reminders", "unsubscribed", "bounced", "blocked")


def page_context(
    config: Config,
    language: str,
    step: str,
    address: str,
    action: str,
    *,
    current: str = "subscribed",
    with_feed: bool = True,
) -> dict[str, object]:
    """What the unsubscribe page template sees."""
    return {
        "language": language,
        "step": step,
        "current": current,
        "address": address,
        "action": action,
        "series": {"title": typography(config.series.title[language], language)},
        "organiser": {"name": config.organiser.name, "email": config.organiser.email},
        "feed": feed_for(config, language) if with_feed else None,
    }


def preferences_context(
    config: Config,
    language: str,
    step: str,
    address: str,
    action: str,
    *,
    current: str = "subscribed",
    details: Mapping[str, str | None] | None = None,
    zones: Sequence[str] = (),
    saved: str = "",
    problem: str = "",
    with_feed: bool = True,
) -> dict[str, object]:
    """What the unsubscribe (preferences) page sees: `details` (name, language, timezone) as
    the emails use them, `saved` (what a POST changed), `problem` (a box left unticked)."""
    context = page_context(
        config, language, step, address, action, current=current, with_feed=with_feed
    )
    context.update(
        details={"name": "", "language": language, "timezone": None, **(details or {})},
        languages=[
            {"code": code, "name": language_name(code, code)} for code in config.series.languages
        ],
        zones=list(zones),
        saved=saved,
        problem=problem,
    )
    return context


def in_every_language(render: Callable[[str], str], languages: Sequence[str]) -> str:
    """One page saying the same in each of `languages` (the invalid-link pages: whose link
    it is cannot be known): the first language's page, its `<main>` holding every language's,
    each marked with its `lang`."""
    pages = [(language, render(language)) for language in languages]
    first = pages[0][1]
    start, end = first.find("<main>"), first.rfind("</main>")
    if start < 0 or end < 0:  # a template of its own making: its first language only
        return first
    sections = []
    for language, html in pages:
        inner = html[html.find("<main>") + len("<main>") : html.rfind("</main>")]
        sections.append(f'<section lang="{language}">{inner}</section>')
    return first[: start + len("<main>")] + "\n<hr>\n".join(sections) + first[end:]


ANSWER_STEPS = ("confirm", "done", "invalid", "over", "cancelled")


def answer_context(
    config: Config,
    language: str,
    step: str,
    *,
    occurrence: Occurrence | None = None,
    now: dt.datetime | None = None,
    chosen: str | None = None,
    said: str | None = None,
    action: str = "",
    every: int = 0,
    promoted: int = 0,
) -> dict[str, object]:
    """What the answer page template sees. `chosen`: the answer the link asks (yes, maybe,
    no), to confirm; `said`: the answer recorded (yes, maybe, no, waiting; None: none);
    `every`: how many coming sessions the answer was recorded for."""
    context = page_context(config, language, step, "", action, with_feed=True)
    context.update(chosen=chosen, said=said, every=every, promoted=promoted, session=None)
    if occurrence is None or occurrence.content is None or now is None:
        return context
    content = occurrence.content
    title = summary(config, occurrence, language)
    links = calendar_links(config, occurrence, language, title)
    short = short_links(config, occurrence, language)
    zoom = zoom_of(config, occurrence)
    context["session"] = {
        "number": occurrence.number,
        "title": typography(content.title[language], language),
        "when": moment(occurrence.start, occurrence.end, language, config, now),
        "zoom": {"url": zoom.url, "meeting_id": zoom.meeting_id, "passcode": zoom.passcode},
        "google": links.google,
        "outlook": links.outlook,
        "ics": short.ics if short is not None else None,
        "capacity": content.capacity,
    }
    return context


def check_pages(config: Config, templates: TemplateSet) -> list[Problem]:
    """Render the unsubscribe page of every language, at every step and for every choice, with
    and without feed."""
    problems: list[Problem] = []
    for language in config.series.languages:
        for step in STEPS:
            for current in CURRENT:
                for with_feed, saved in zip((True, False, True, False), SAVED, strict=True):
                    context = preferences_context(
                        config,
                        language,
                        step,
                        "sample@example.org",
                        "/unsubscribe/x",
                        current=current,
                        details={"name": "Sample", "timezone": "Europe/Paris"},
                        zones=("Europe/Paris",),
                        saved=saved,
                        problem="confirm" if with_feed else "",
                        with_feed=with_feed,
                    )
                    try:
                        templates.render_page(language, "unsubscribe", context)
                    except TemplateError as error:
                        problems.extend(error.problems)
    return problems


def check_answer_pages(
    config: Config, templates: TemplateSet, occurrence: Occurrence, now: dt.datetime
) -> list[Problem]:
    """Render the answer page of every language, at every step, for every answer."""
    problems: list[Problem] = []
    full = None
    if occurrence.content is not None:
        full = replace(occurrence, content=replace(occurrence.content, capacity=20))
    for language in config.series.languages:
        for step in ANSWER_STEPS:
            for said in ("yes", "maybe", "no", "waiting", None):
                for session in (occurrence, full, None):
                    context = answer_context(
                        config,
                        language,
                        step,
                        occurrence=session,
                        now=now,
                        chosen="yes" if said is None else said,
                        said=said,
                        action="/answer/x",
                        every=3 if said == "no" else 0,
                        promoted=1 if said == "waiting" else 0,
                    )
                    try:
                        templates.render_page(language, "answer", context)
                    except TemplateError as error:
                        problems.extend(error.problems)
    return problems
