"""The daemon's web pages (the unsubscribe page, per language): what they show, and checking
that every language's page renders at every step."""

from __future__ import annotations

from mailer.calendar.links import feed_for
from mailer.config.settings import Config
from mailer.errors import Problem, TemplateError
from mailer.i18n.dates import typography
from mailer.messages.templates import TemplateSet

STEPS = ("choose", "done", "invalid")
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


def check_pages(config: Config, templates: TemplateSet) -> list[Problem]:
    """Render the unsubscribe page of every language, at every step and for every choice, with
    and without feed."""
    problems: list[Problem] = []
    for language in config.series.languages:
        for step in STEPS:
            for current in CURRENT:
                for with_feed in (True, False):
                    context = page_context(
                        config,
                        language,
                        step,
                        "sample@example.org",
                        "/unsubscribe/x",
                        current=current,
                        with_feed=with_feed,
                    )
                    try:
                        templates.render_page(language, "unsubscribe", context)
                    except TemplateError as error:
                        problems.extend(error.problems)
    return problems
