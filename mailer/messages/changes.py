"""What an update says changed (pure): the session's content as a send told it (`told_content`,
kept in the state with each send), and, against what the session says now, the changes an
update lists in the reader's language (`session_changes`): a new title, speakers added or
withdrawn, roles, the moderator, the questions, a note, the Zoom link or codes. A move is said
by the update's own first sentence (the new date, the old one struck)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mailer.calendar.describe import zoom_of
from mailer.config.settings import Config
from mailer.i18n.dates import typography
from mailer.model import Occurrence, Person


def _person(person: Person | None) -> dict[str, Any] | None:
    if person is None:
        return None
    return {"name": dict(person.name), "role": dict(person.role) if person.role else {}}


def told_content(config: Config, occurrence: Occurrence) -> dict[str, Any]:
    """The session as an email tells it, to compare a later version with."""
    content = occurrence.content
    assert content is not None
    zoom = zoom_of(config, occurrence)
    return {
        "title": dict(content.title),
        "questions": {code: list(items) for code, items in content.questions.items()},
        "speakers": [_person(p) for p in content.speakers],
        "moderator": _person(content.moderator),
        "note": dict(content.note) if content.note else {},
        "zoom": [zoom.url, zoom.meeting_id, zoom.passcode],
    }


def _name(person: Mapping[str, Any] | None, language: str) -> str | None:
    if not person:
        return None
    names: Mapping[str, str] = person.get("name", {})
    return names.get(language) or next(iter(names.values()), None)


def session_changes(
    told: Mapping[str, Any] | None, now: Mapping[str, Any], language: str
) -> list[dict[str, Any]]:
    """What changed from `told` to `now` (both `told_content`), in `language`'s texts; none
    when nothing was told before."""
    if not told:
        return []

    def typeset(text: str | None) -> str | None:
        return typography(text, language) if text else text

    changes: list[dict[str, Any]] = []
    before_title, after_title = told["title"].get(language), now["title"].get(language)
    if before_title != after_title:
        changes.append(
            {"what": "title", "before": typeset(before_title), "after": typeset(after_title)}
        )
    before = [_name(p, language) for p in told["speakers"]]
    after = [_name(p, language) for p in now["speakers"]]
    added = [typeset(n) for n in after if n not in before]
    withdrawn = [typeset(n) for n in before if n not in after]
    if added or withdrawn:
        changes.append({"what": "speakers", "added": added, "withdrawn": withdrawn})
    roles_before = {_name(p, language): p["role"].get(language) for p in told["speakers"]}
    roles_now = {_name(p, language): p["role"].get(language) for p in now["speakers"]}
    new_roles = [
        typeset(name)
        for name, role in roles_now.items()
        if name in roles_before and roles_before[name] != role
    ]
    if new_roles:
        changes.append({"what": "roles", "names": new_roles})
    moderator = _name(told["moderator"], language), _name(now["moderator"], language)
    if moderator[0] != moderator[1]:
        changes.append(
            {"what": "moderator", "before": typeset(moderator[0]), "after": typeset(moderator[1])}
        )
    if told["questions"].get(language) != now["questions"].get(language):
        changes.append({"what": "questions"})
    if told["note"].get(language) != now["note"].get(language) and now["note"].get(language):
        changes.append({"what": "note", "after": typeset(now["note"][language])})
    if told["zoom"] != now["zoom"]:
        changes.append({"what": "zoom"})
    return changes
