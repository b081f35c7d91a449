"""TOML text with line numbers: parsing, and finding the line that sets a key.

`tomllib` only gives a line for syntax errors; validators want
`config.toml:12: at 'series.timezone'`.
`key_lines` recovers the line of every key that is written on its own line or as a table header,
which covers how people write config files; a key inside an inline table or a multi-line array
gets the line of the nearest enclosing key.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from typing import Any

from mailer.errors import ConfigError, Problem

KeyPath = tuple[str | int, ...]

_ERROR_POSITION = re.compile(r"\s*\(at line (\d+), column \d+\)$")
_BARE_OR_QUOTED_KEY = r'(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED_KEY = rf"{_BARE_OR_QUOTED_KEY}(?:\s*\.\s*{_BARE_OR_QUOTED_KEY})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED_KEY})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED_KEY})\s*\]")
_KEY_VALUE = re.compile(rf"^\s*({_DOTTED_KEY})\s*=")
_KEY_PART = re.compile(_BARE_OR_QUOTED_KEY)


def dotted(path: KeyPath) -> str:
    """`('speakers', 0, 'role', 'fr')` -> `speakers[0].role.fr`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + part
    return text


def parse_toml(text: str, source: str) -> dict[str, Any]:
    """Parse TOML text; a syntax error becomes a `ConfigError` naming the file and line."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _ERROR_POSITION.search(message)
        line = int(match.group(1)) if match else None
        reason = _ERROR_POSITION.sub("", message)
        problem = Problem(
            source,
            f"this is not valid TOML ({reason})",
            line=line,
            hint="Check quotes, brackets and '=' on that line (https://toml.io).",
        )
        raise ConfigError(f"{source} is not valid TOML", [problem]) from None


def _split_key(dotted_key: str) -> list[str]:
    parts = []
    for match in _KEY_PART.finditer(dotted_key):
        part = match.group(0)
        if part[0] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return parts


@dataclass
class _LineScanner:
    lines: dict[KeyPath, int] = field(default_factory=dict)
    array_counts: dict[tuple[str, ...], int] = field(default_factory=dict)
    table: KeyPath = ()

    def _with_indices(self, names: list[str]) -> KeyPath:
        """Insert the current index after every array-of-tables prefix of a header path."""
        path: list[str | int] = []
        for depth in range(len(names)):
            path.append(names[depth])
            prefix = tuple(names[: depth + 1])
            if prefix in self.array_counts and depth < len(names) - 1:
                path.append(self.array_counts[prefix] - 1)
        return tuple(path)

    def array_header(self, names: list[str], line: int) -> None:
        prefix = tuple(names)
        index = self.array_counts.get(prefix, 0)
        self.array_counts[prefix] = index + 1
        self.table = (*self._with_indices(names), index)
        self.lines.setdefault(self.table, line)
        self.lines.setdefault(self.table[:-1], line)

    def table_header(self, names: list[str], line: int) -> None:
        self.table = self._with_indices(names)
        self.lines.setdefault(self.table, line)

    def key(self, names: list[str], line: int) -> None:
        path = self.table
        for name in names:
            path = (*path, name)
            self.lines.setdefault(path, line)


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map each key path written on its own line (or as a table header) to its 1-based line."""
    scanner = _LineScanner()
    open_quote: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        if open_quote is not None:
            if line.count(open_quote) % 2 == 1:
                open_quote = None
            continue
        if match := _ARRAY_HEADER.match(line):
            scanner.array_header(_split_key(match.group(1)), number)
        elif match := _TABLE_HEADER.match(line):
            scanner.table_header(_split_key(match.group(1)), number)
        elif match := _KEY_VALUE.match(line):
            scanner.key(_split_key(match.group(1)), number)
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 == 1:
                    open_quote = quote
    return scanner.lines


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line that sets `path`, or the line of its nearest enclosing key."""
    for end in range(len(path), 0, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None
