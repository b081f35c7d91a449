"""Rendering once for many recipients: per-recipient values as slots filled in afterwards.

Templates are rendered (and their CSS inlined) once per *shape* of recipient: language, time
zone, whether the name is known, which extra columns are filled in. Per-recipient values
(name, address, columns, unsubscribe link) are rendered as `Slot` tokens and filled in for each
recipient with a join, which is what makes 100,000 personalised emails cheap.

This is exact for what templates do with such values: print them (escaped or not), and test
them with `{% if %}`, whose answer the shape already fixes. Anything that would compute on the
token instead of the value (`|upper`, `|length`, `==`, slicing...) raises a TemplateError, which
`mailer check` finds; a token that was transformed some other way is found when filling and
raises too. tests/unit/test_compose.py checks, with hypothesis, that filled slots equal a direct
render with the real values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from markupsafe import escape

from mailer.errors import Problem, TemplateError

_SLOT_FORMAT = "zqslot{}qz"
_TOKEN_PATTERN = re.compile(r"zqslot(\d+)qz")
_ANY_TOKEN = re.compile(r"zqslot\d*qz", re.IGNORECASE)


class Slot(str):
    """A per-recipient value inside a template: printable, testable, nothing else."""

    __slots__ = ("label",)
    label: str

    def __new__(cls, index: int, label: str) -> Slot:
        token = super().__new__(cls, _SLOT_FORMAT.format(index))
        token.label = label
        return token

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise TemplateError(
            f"templates may print {self.label} or test it with 'if', not compute with it",
            [
                Problem(
                    "templates",
                    f"{self.label} is a per-recipient value",
                    hint="Print it as it is ({{ ... }}), or test it ({% if ... %}).",
                )
            ],
        )

    __len__ = __getitem__ = __iter__ = __contains__ = _refuse
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    __mul__ = __rmul__ = __mod__ = __rmod__ = _refuse
    upper = lower = title = capitalize = casefold = swapcase = _refuse
    strip = lstrip = rstrip = replace = split = rsplit = splitlines = _refuse
    startswith = endswith = find = rfind = index = rindex = count = _refuse
    format = center = ljust = rjust = zfill = partition = rpartition = _refuse
    encode = expandtabs = join = translate = _refuse

    def __hash__(self) -> int:
        return str.__hash__(self)

    def __bool__(self) -> bool:
        return True  # a slot exists only for values that are not empty


class SlotPool:
    """Hands out numbered slots for one rendering, remembering which value each stands for."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def slot(self, key: str, label: str) -> Slot:
        self.keys.append(key)
        return Slot(len(self.keys) - 1, label)


@dataclass(frozen=True)
class Filled:
    """A rendered text split at its slots: static pieces and the value keys between them."""

    pieces: tuple[str, ...]
    keys: tuple[str, ...]
    escape: bool

    def fill(self, values: Mapping[str, str]) -> str:
        """The text for one recipient (HTML-escaping the values as Jinja's autoescape does)."""
        parts = [self.pieces[0]]
        for key, piece in zip(self.keys, self.pieces[1:], strict=True):
            value = values[key]
            parts.append(str(escape(value)) if self.escape else value)
            parts.append(piece)
        return "".join(parts)


def split_slots(text: str, pool: SlotPool, *, escape: bool, where: str) -> Filled:
    """Split rendered text at its slot tokens. A mangled token is a TemplateError."""
    pieces: list[str] = []
    keys: list[str] = []
    position = 0
    for match in _TOKEN_PATTERN.finditer(text):
        pieces.append(text[position : match.start()])
        keys.append(pool.keys[int(match.group(1))])
        position = match.end()
    pieces.append(text[position:])
    if any(_ANY_TOKEN.search(piece) for piece in pieces):
        raise TemplateError(
            f"{where} transforms a per-recipient value",
            [
                Problem(
                    where,
                    "a per-recipient value (name, address, column) was changed by a filter",
                    hint="Print it as it is, or test it with 'if'.",
                )
            ],
        )
    return Filled(tuple(pieces), tuple(keys), escape)
