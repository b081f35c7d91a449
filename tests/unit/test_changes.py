"""What an update says changed (mailer/messages/changes.py): each kind of change, in the
reader's language, and nothing when nothing was told before or nothing changed."""

from __future__ import annotations

import copy
from typing import Any

from mailer.messages.changes import session_changes, told_content
from tests.support.emails import SHIPPED, session

TOLD = told_content(SHIPPED.config, session())


def changed(edit: dict[str, Any]) -> dict[str, Any]:
    now = copy.deepcopy(TOLD)
    now.update(edit)
    return now


def test_nothing_told_or_nothing_changed_says_nothing() -> None:
    assert session_changes(None, TOLD, "fr") == []
    assert session_changes(TOLD, copy.deepcopy(TOLD), "fr") == []


def test_each_change_is_said_in_the_reader_s_language() -> None:
    speakers = copy.deepcopy(TOLD["speakers"])
    speakers[0]["role"]["fr"] = "Présidente"  # a new role, same person
    moderator = {"name": {"fr": "Chloé", "en": "Chloé", "es": "Chloé"}, "role": {}}
    now = changed(
        {
            "speakers": speakers,
            "moderator": moderator,
            "questions": {**TOLD["questions"], "fr": ["Une seule question ?"]},
            "note": {"fr": "Salle ouverte : dès 12 h 45", "en": "Open from 12:45."},
        }
    )
    found = session_changes(TOLD, now, "fr")
    assert [c["what"] for c in found] == ["roles", "moderator", "questions", "note"]
    assert found[0]["names"] == ["Bruno Maquart"]
    assert found[1]["after"] == "Chloé" and found[1]["before"] == "Froso Nomikou"
    assert found[3]["after"] == "Salle ouverte\u00a0: dès 12 h 45"  # French typography
    english = session_changes(TOLD, now, "en")  # the English questions did not change
    assert [c["what"] for c in english] == ["moderator", "note"]
