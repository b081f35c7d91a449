""" "Add to calendar" links for web calendars, and subscription links for the series feed.

The documented template URLs (see docs/calendar.md): Google Calendar's `render?action=TEMPLATE`,
Outlook.com's and Office 365's `deeplink/compose` (the `outlook.office.com` variant with the same
path; earlier variants broke, office-js#3345). Times go in UTC with a `Z`, so no calendar has to
guess a zone. The details are kept short (title, when, how to join): some of these services cut
long URLs, and the attached .ics carries everything.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import NamedTuple
from urllib.parse import quote, urlencode

from mailer.calendar.describe import zoom_block, zoom_of
from mailer.config.settings import Config
from mailer.i18n.dates import when
from mailer.model import Occurrence

GOOGLE = "https://calendar.google.com/calendar/render"
OUTLOOK_COM = "https://outlook.live.com/calendar/0/deeplink/compose"
OFFICE_365 = "https://outlook.office.com/calendar/0/deeplink/compose"


@dataclass(frozen=True)
class CalendarLinks:
    google: str
    outlook: str
    office365: str


def _google_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _outlook_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def short_details(config: Config, occurrence: Occurrence, language: str) -> str:
    """What a web calendar entry needs: the series, the session, when, and how to join."""
    labels = config.labels[language]
    content = occurrence.content
    title = f"{labels.session} {occurrence.number}"
    if content is not None:
        title += f" — {content.title[language]}"
    return "\n\n".join(
        [
            config.series.title[language],
            title,
            when(occurrence.start, occurrence.end, language, labels),
            zoom_block(zoom_of(config, occurrence), labels),
        ]
    )


def calendar_links(
    config: Config, occurrence: Occurrence, language: str, summary: str
) -> CalendarLinks:
    """Links that open a web calendar with the session filled in, ready to save."""
    details = short_details(config, occurrence, language)
    zoom = zoom_of(config, occurrence)
    google = {
        "action": "TEMPLATE",
        "text": summary,
        "dates": f"{_google_time(occurrence.start)}/{_google_time(occurrence.end)}",
        "details": details,
        "location": zoom.url,
        "ctz": config.series.timezone.key,
    }
    outlook = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "startdt": _outlook_time(occurrence.start),
        "enddt": _outlook_time(occurrence.end),
        "subject": summary,
        "body": details,
        "location": zoom.url,
    }
    query = urlencode(outlook, quote_via=quote, safe="/")
    return CalendarLinks(
        google=f"{GOOGLE}?{urlencode(google, quote_via=quote, safe='/')}",
        outlook=f"{OUTLOOK_COM}?{query}",
        office365=f"{OFFICE_365}?{query}",
    )


class ShortLinks(NamedTuple):
    """The "add to calendar" links, short: the daemon redirects them to the full ones (made
    afresh, so they follow a session that moves) and serves the .ics; for the text part."""

    google: str
    outlook: str
    office365: str
    ics: str


def short_links(config: Config, occurrence: Occurrence, language: str) -> ShortLinks | None:
    """`{base_url}/c/20210420/en/google`..., when the daemon is reachable (`[http] base_url`)."""
    base = config.http.base_url
    if base is None:
        return None
    stem = f"{base}/c/{occurrence.scheduled:%Y%m%d}/{language}"
    return ShortLinks(f"{stem}/google", f"{stem}/outlook", f"{stem}/office365", f"{stem}/ics")


@dataclass(frozen=True)
class FeedLinks:
    """Ways to subscribe to the series' calendar feed."""

    https: str
    webcal: str
    google: str
    outlook: str
    short_google: str = ""  # the same two, short: redirects of the daemon (for the text part)
    short_outlook: str = ""


def feed_for(config: Config, language: str) -> FeedLinks | None:
    """The links to the series' calendar feed in `language`, when the daemon is reachable."""
    base = config.http.base_url
    if base is None:
        return None
    links = feed_links(f"{base}/calendar/{language}.ics", config.series.title[language])
    return replace(
        links,
        short_google=f"{base}/f/{language}/google",
        short_outlook=f"{base}/f/{language}/outlook",
    )


def feed_links(feed_url: str, name: str) -> FeedLinks:
    """Subscription links for an https feed: webcal for Apple, and Google's and Outlook.com's
    "add by URL" pages (the new Outlook strips webcal:, so the https form is offered too)."""
    webcal = "webcal://" + feed_url.removeprefix("https://").removeprefix("http://")
    return FeedLinks(
        https=feed_url,
        webcal=webcal,
        google="https://calendar.google.com/calendar/r?" + urlencode({"cid": webcal}),
        outlook="https://outlook.live.com/calendar/0/addfromweb?"
        + urlencode({"url": feed_url, "name": name}, quote_via=quote),
    )
