"""What the engine says (a session file's problem, a job's blocker, a list row's problem: English,
for the CLI and the logs), in the organisers' pages' words.

Each sentence a page can show is matched by its shape and said again with `_`; the values it
carries (a language code, an address) are put back, a language by its name. A sentence no
shape matches is shown as the engine said it, marked as English (`lang="en"`) so that a
reader's browser and screen reader know.
"""

from __future__ import annotations

import re

from markupsafe import Markup

from mailer.i18n.dates import language_name
from mailer.web.email_names import email_name
from mailer.web.words import Words

# (the engine's sentence, the pages' sentence): the groups named `language` (a code),
# `languages` (codes) and `what` (words joined by "or") are said in the page's words
SHAPES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), said)
    for pattern, said in (
        (r"^the '(?P<language>[\w-]+)' text is missing$", "the {language} text is missing"),
        (
            r"^Every per-language table needs all of: (?P<languages>.+)\.$",
            "Write each text in every language of the series: {languages}.",
        ),
        (r"^no session file \((?P<path>[^)]+)\)$", "its content is not written yet ({path})"),
        (
            r"^no (?P<what>[\w ]+?) link yet \(set it in the session's file or on its page\)$",
            "waits for the link of the {what} (on the session's page)",
        ),
        (
            r"^'(?P<value>.*)' is not a valid email address: .*; the row is skipped$",
            "“{value}” is not an email address: the row is left out",
        ),
        (
            r"^(?P<got>\d+) fields where the header has (?P<want>\d+); the row is skipped$",
            "{got} columns where the first line has {want}: the row is left out",
        ),
        (
            r"^this send is paused \(by (?P<who>[^)]+)\): resume it on its progress page$",
            "this send is paused (by {who}): resume it on its progress page",
        ),
        # the audit log's detail of a send, a pause, a proof
        (
            r"^(?P<email>[\w:@.-]+) to (?P<to>.+?): (?P<count>\d+) emails$",
            "{email} to {to}: {count} emails",
        ),
        (r"^(?P<email>[\w:@.-]+) to (?P<to>.+)$", "{email} to {to}"),
        # ... and of an action on a person; a suppression's reason by default
        (r"^removed by hand$", "removed by hand"),
        (r"^removed by hand \((?P<who>[^)]+)\)$", "removed by hand ({who})"),
        (r"^downloaded$", "downloaded"),
        (r"^(?P<count>\d+) delivery rows$", "{count} delivery rows"),
        (
            r"^Correct the address; the other rows are sent\.$",
            "Correct the address; the other rows are read.",
        ),
    )
)


def _value(name: str, value: str, words: Words) -> str:
    language = words("en")
    if name == "language":
        return language_name(value, language)
    if name == "languages":
        return ", ".join(language_name(code.strip(), language) for code in value.split(","))
    if name == "what":
        return " / ".join(words(w) for w in value.split(" or "))
    if name == "email":
        return email_name(value, words)
    if name == "to":  # segments or addresses
        said = {"those served": "those already emailed", "everyone": "Everyone"}
        return ", ".join(words(said.get(part, part)) for part in value.split(", "))
    return value


def engine_text(message: str, words: Words) -> str | Markup:
    """`message` in the page's words (a Markup marked as English when no shape matches)."""
    for shape, said in SHAPES:
        found = shape.match(message)
        if found:
            values = {k: _value(k, v, words) for k, v in found.groupdict().items()}
            return words(said).format(**values)
    if words("en") == "en":
        return message
    return Markup('<span lang="en">%s</span>') % message
