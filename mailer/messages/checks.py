"""Sample emails: checking that every template renders, and the sample recipients of previews.

`check_emails` renders every kind in every language for every session file, for two sample
recipients (one with a name, a time zone elsewhere and every column filled in, one with none of
these), both the fast way (slots) and directly, and requires the two to be identical and the
email to parse back without defects. This is what `mailer check` runs.
"""

from __future__ import annotations

import datetime as dt
import email
import email.message
import email.policy
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace

from mailer.calendar.revisions import Revision
from mailer.config.settings import Config
from mailer.errors import InvalidInput, Problem, TemplateError
from mailer.messages.compose import Composer, canonical_html
from mailer.messages.pages import check_answer_pages, check_pages
from mailer.messages.signup import check_signup
from mailer.messages.templates import TemplateSet
from mailer.model import (
    MESSAGE_KINDS,
    WAITING_LIST_KINDS,
    MessageKind,
    Occurrence,
    Recipient,
    SessionContent,
)
from mailer.recurrence import find_occurrence, next_occurrence

SAMPLE_KEY = b"sample-key-for-checks-and-previews"
SAMPLE_NAMES = {
    "fr": "Zoë « Test » O’Brien",
    "en": 'Zoë "Test" O’Brien',
    "es": "Zoë «Prueba» O’Brien",
}
_FAR_AWAY = ("America/Los_Angeles", "Asia/Tokyo")


def sample_recipients(
    language: str, field_names: frozenset[str], series_zone: str
) -> tuple[Recipient, Recipient]:
    """A recipient with everything (name with quotes, another zone, every column) and one with
    nothing but an address."""
    zone = _FAR_AWAY[0] if not series_zone.startswith("America/") else _FAR_AWAY[1]
    full = Recipient(
        email=f"sample.{language}@example.org",
        key=f"sample.{language}@example.org",
        language=language,
        name=SAMPLE_NAMES.get(language, "Zoë O’Brien <test>"),
        timezone=zone,
        fields={name: f"{name} & <sample>" for name in sorted(field_names)},
    )
    bare = Recipient(
        email=f"bare.{language}@example.org", key=f"bare.{language}@example.org", language=language
    )
    return full, bare


def _variants(
    occurrence: Occurrence, kinds: Sequence[MessageKind]
) -> Iterator[tuple[MessageKind, Occurrence]]:
    """Each kind with a version of the session it can be sent for (a follow-up's with its
    recording, slides and survey links)."""
    content = occurrence.content
    assert content is not None
    cancelled = replace(occurrence, status="cancelled", content=replace(content, cancelled=True))
    active = replace(
        occurrence,
        status="scheduled" if content.moved_to is None else "moved",
        content=replace(content, cancelled=False),
    )
    link = "https://example.org/{}?a=1&b=<2>".format
    after = replace(content, recording=link("r"), slides=link("s"), survey=link("q"))
    for kind in kinds:
        if kind == "followup":
            yield kind, replace(active, content=replace(after, cancelled=False))
        else:
            yield kind, cancelled if kind == "cancellation" else active


def used_kinds(
    config: Config, sessions: Mapping[dt.date, SessionContent]
) -> tuple[MessageKind, ...]:
    """The kinds of email this series sends: follow-ups only when `[[cadence]]` has one, the
    waiting list's when a session has a `capacity`."""
    unused = set()
    if not any(entry.kind == "followup" for entry in config.cadence):
        unused.add("followup")
    if not any(content.capacity is not None for content in sessions.values()):
        unused |= set(WAITING_LIST_KINDS)
    return tuple(kind for kind in MESSAGE_KINDS if kind not in unused)


def _composer(
    config: Config,
    templates: TemplateSet,
    occurrence: Occurrence,
    kind: MessageKind,
    *,
    now: dt.datetime,
    field_names: frozenset[str],
    next_session: Occurrence | None = None,
) -> Composer:
    revision = Revision(1, now.astimezone(dt.UTC).replace(microsecond=0), "", "")
    return Composer(
        config=config,
        templates=templates,
        occurrence=occurrence,
        kind=kind,
        message_key=kind,
        revision=revision,
        now=now,
        signing_key=SAMPLE_KEY,
        field_names=field_names,
        next_session=next_session,
    )


def check_emails(
    config: Config,
    templates: TemplateSet,
    sessions: Mapping[dt.date, SessionContent],
    field_names: frozenset[str],
    now: dt.datetime,
) -> list[Problem]:
    """Every problem found rendering every kind x language x session file (see module doc)."""
    kinds = used_kinds(config, sessions)
    problems = [
        *templates.compile_problems(),
        *templates.missing(config.series.languages, kinds),
        *templates.borrowed(config.series.languages),
    ]
    if problems:
        return problems
    for scheduled in sorted(sessions):
        occurrence = find_occurrence(config.series, sessions, scheduled)
        before = occurrence.start - dt.timedelta(days=1)
        following = next_occurrence(config.series, sessions, occurrence)
        for kind, variant in _variants(occurrence, kinds):
            composer = _composer(
                config,
                templates,
                variant,
                kind,
                now=min(now, before),
                field_names=field_names,
                next_session=following,
            )
            for language in config.series.languages:
                for recipient in sample_recipients(
                    language, field_names, config.series.timezone.key
                ):
                    problems.extend(_check_one(composer, recipient, sessions[scheduled].source))
    problems.extend(check_pages(config, templates))
    problems.extend(check_signup(config, templates, now))
    if sessions:
        first = find_occurrence(config.series, sessions, min(sessions))
        problems.extend(check_answer_pages(config, templates, first, now))
    return _unique(problems)


def _check_one(composer: Composer, recipient: Recipient, source: str) -> list[Problem]:
    try:
        outgoing = composer.compose(recipient)
        direct = composer.render(recipient)
    except TemplateError as error:
        return list(error.problems)
    message = email.message_from_bytes(outgoing.data, policy=email.policy.strict)
    fast = (str(message["Subject"]), _body(message, "plain"), _body(message, "html"))
    where = f"{composer.templates.folder}/{recipient.language}/{composer.kind}"
    if message.defects or any(part.defects for part in message.walk()):
        return [Problem(where, f"the email for {source} does not parse cleanly: {message.defects}")]
    fast = (fast[0], fast[1], canonical_html(fast[2]))
    direct = (direct[0], direct[1], canonical_html(direct[2]))
    if tuple(text.replace("\r\n", "\n") for text in fast) != tuple(
        text.replace("\r\n", "\n") for text in direct
    ):
        return [
            Problem(
                where,
                "the email differs when rendered for many recipients at once",
                hint="Print per-recipient values as they are, or test them with if.",
            )
        ]
    return []


def _body(message: email.message.EmailMessage, subtype: str) -> str:
    part = message.get_body((subtype,))
    if part is None:
        raise AssertionError(f"composed emails always have a text/{subtype} part")
    return str(part.get_content())


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


def preview_occurrence(
    config: Config, sessions: Mapping[dt.date, SessionContent], day: dt.date
) -> Occurrence:
    """The session on `day`, which must have a file."""
    occurrence = find_occurrence(config.series, sessions, day)
    if occurrence.content is None:
        raise InvalidInput(
            f"the session of {occurrence.scheduled} has no file yet "
            f"({config.series.sessions_dir}/{occurrence.scheduled}.toml)"
        )
    return occurrence
