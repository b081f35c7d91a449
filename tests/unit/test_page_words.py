"""Every word the organisers' pages write has its French (the pages speak the series' first
language when it is French), and a text with values keeps the same values in French."""

from __future__ import annotations

import ast
import re
import string

from mailer.web.words import FRENCH, words_for
from tests.support.project import REPO

WEB = REPO / "mailer" / "web"
# `_("...")` and `_('...')` in the templates (Jinja string literals)
IN_TEMPLATES = re.compile(r"""_\((?P<q>["'])(?P<text>(?:(?!(?P=q)).)+)(?P=q)\)""")
STATES = ("sent", "failed", "pending", "retry", "unknown", "skipped", "sending")


def template_words() -> set[str]:
    found = set()
    for path in (WEB / "templates").glob("*.html"):
        found |= {m.group("text") for m in IN_TEMPLATES.finditer(path.read_text("utf-8"))}
    return found


def python_words() -> set[str]:
    """The sentences of the web package's modules that pages show: the literals given to
    refusal() and `_`, and every sentence assigned to a name or a key (EXPIRED, a page's
    problem)."""
    found: set[str] = set()
    for path in WEB.glob("*.py"):
        if path.name == "words.py":
            continue
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("refusal", "_"):
                found |= {
                    a.value
                    for a in node.args
                    if isinstance(a, ast.Constant) and isinstance(a.value, str)
                }
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                value = node.value.value
                if isinstance(value, str) and " " in value:  # a sentence shown on a page
                    found.add(value)
    return found


def fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_word_of_the_pages_is_in_french() -> None:
    words = template_words() | python_words()
    assert len(words) > 100  # the scan finds them
    shown_as_is = {"en", "{count} "}  # the page's own code; the prefix of the states' keys
    missing = sorted(w for w in words - shown_as_is if w not in FRENCH)
    assert missing == []
    for state in STATES:
        assert f"{{count}} {state}" in FRENCH and state in FRENCH


def test_a_french_text_keeps_the_values_of_the_english_one() -> None:
    for english, french in FRENCH.items():
        assert fields(english) == fields(french), english


def test_english_is_the_text_itself() -> None:
    assert words_for("en")("Log in") == "Log in"
    assert words_for("fr")("Log in") == "Connexion"
    assert words_for("fr")("a message mailer check wrote") == "a message mailer check wrote"
