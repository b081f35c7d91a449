"""Reading validated values out of parsed TOML, collecting every problem instead of stopping.

A `TableReader` wraps one table. Each accessor checks one key, records a located `Problem` when it
is wrong, and remembers the key as known; `finish()` then reports every key nobody asked for, so a
typo is an error instead of a silent fall back to a default.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mailer.config.durations import parse_duration
from mailer.config.toml_source import KeyPath, dotted, key_lines, line_of
from mailer.errors import Problem

_CLOCK_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(?::([0-5]\d))?$")
# what may not be in a one-line value (a title, a name: they go into headers and subjects):
# line breaks and other controls, line and paragraph separators, bidirectional overrides
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    list: "a list",
    dict: "a table",
}


class ProblemLog:
    """The problems found in one source file, each located by key path and, when known, line."""

    def __init__(self, source: str, text: str | None = None) -> None:
        self.source = source
        self._lines = key_lines(text) if text is not None else {}
        self.problems: list[Problem] = []

    def error(self, path: KeyPath, message: str, hint: str | None = None) -> None:
        self._add(path, message, hint, "error")

    def warning(self, path: KeyPath, message: str, hint: str | None = None) -> None:
        self._add(path, message, hint, "warning")

    def _add(self, path: KeyPath, message: str, hint: str | None, severity: str) -> None:
        self.problems.append(
            Problem(
                self.source,
                message,
                key=dotted(path) or None,
                line=line_of(self._lines, path),
                hint=hint,
                severity="warning" if severity == "warning" else "error",
            )
        )

    def line(self, path: KeyPath) -> int | None:
        """The line that sets `path` (or its nearest enclosing key) in the file."""
        return line_of(self._lines, path)

    @property
    def has_errors(self) -> bool:
        return any(problem.is_error for problem in self.problems)


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most like `word`, if one is close enough to be a likely typo."""
    matches = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'Did you mean ...?' hint, or None."""
    match = closest(word, choices)
    return f"Did you mean '{match}'?" if match else None


class TableReader:
    """One TOML table under validation."""

    def __init__(self, data: Mapping[str, Any], path: KeyPath, log: ProblemLog) -> None:
        self.data = data
        self.path = path
        self.log = log
        self._known: set[str] = set()

    # -- plumbing -----------------------------------------------------------------------------

    def _take(self, key: str, expected: type | tuple[type, ...], required: bool) -> Any:
        self._known.add(key)
        if key not in self.data:
            if required:
                self.log.error((*self.path, key), "this key is required", "Add it.")
            return None
        value = self.data[key]
        if isinstance(value, bool) and expected is int:
            value = None
        elif isinstance(value, expected):
            return value
        self.log.error((*self.path, key), f"expected {self._type_name(expected)}")
        return None

    @staticmethod
    def _type_name(expected: type | tuple[type, ...]) -> str:
        types = expected if isinstance(expected, tuple) else (expected,)
        return " or ".join(_TYPE_NAMES.get(kind, kind.__name__) for kind in types)

    def error(self, key: str | int | None, message: str, hint: str | None = None) -> None:
        """Record a problem about `key` of this table (or the table itself)."""
        self.log.error(self.path if key is None else (*self.path, key), message, hint)

    def warning(self, key: str | int | None, message: str, hint: str | None = None) -> None:
        self.log.warning(self.path if key is None else (*self.path, key), message, hint)

    def has(self, key: str) -> bool:
        self._known.add(key)
        return key in self.data

    def ignore(self, *keys: str) -> None:
        """Mark keys as known without reading them here (another reader handles them)."""
        self._known.update(keys)

    def finish(self) -> None:
        """Report every key of this table that no accessor asked for."""
        for key in self.data:
            if key not in self._known:
                self.log.error(
                    (*self.path, key),
                    "unknown key",
                    did_you_mean(key, self._known)
                    or f"Known keys here: {', '.join(sorted(self._known)) or 'none'}.",
                )

    # -- scalars ------------------------------------------------------------------------------

    def string(
        self,
        key: str,
        *,
        required: bool = False,
        default: str | None = None,
        multiline: bool = False,
    ) -> str | None:
        """A non-empty string; on one line unless `multiline` (titles, names, addresses and
        paths go into headers, subjects and file names)."""
        value = self._take(key, str, required)
        if value is None:
            return default
        if not value.strip():
            self.error(key, "must not be empty")
            return default
        if (problem := self._text_problem(value, multiline)) is not None:
            self.error(key, problem, self._text_hint(multiline))
            return default
        return str(value).strip()

    @staticmethod
    def _text_problem(value: str, multiline: bool) -> str | None:
        found = (_NOT_IN_TEXT if multiline else _NOT_ONE_LINE).search(value)
        if found is None:
            return None
        character = found.group(0)
        shown = {"\n": "a line break", "\r": "a carriage return", "\t": "a tab"}.get(
            character, f"the control character U+{ord(character):04X}"
        )
        return f"has {shown}, which this value may not hold"

    @staticmethod
    def _text_hint(multiline: bool) -> str:
        if multiline:
            return "Remove the invisible control character."
        return "Write it on one line (it goes into email headers and subjects)."

    def integer(
        self, key: str, *, default: int | None = None, minimum: int | None = None
    ) -> int | None:
        value = self._take(key, int, False)
        if value is None:
            return default
        if minimum is not None and value < minimum:
            self.error(key, f"must be at least {minimum}")
            return default
        return int(value)

    def port(self, key: str, *, default: int, hint: str) -> int:
        """A TCP port (1 to 65535)."""
        value = self.integer(key, default=default, minimum=1) or default
        if value > 65535:
            self.error(key, f"{value} is not a TCP port", hint)
            return default
        return value

    def number(self, key: str, *, default: float, minimum: float = 0.0) -> float:
        value = self._take(key, (int, float), False)
        if value is None or isinstance(value, bool):
            return default
        if value < minimum:
            self.error(key, f"must be at least {minimum:g}")
            return default
        return float(value)

    def boolean(self, key: str, *, default: bool) -> bool:
        value = self._take(key, bool, False)
        return default if value is None else bool(value)

    def duration(self, key: str, *, required: bool = False) -> dt.timedelta | None:
        """An ISO 8601 duration (`P14D`, `PT1H30M`); None when absent or wrong (and said)."""
        text = self.string(key, required=required)
        if text is None:
            return None
        try:
            return parse_duration(text)
        except ValueError as error:
            self.error(key, str(error))
            return None

    def choice(self, key: str, choices: Sequence[str], *, default: str) -> str:
        value = self.string(key)
        if value is None:
            return default
        if value not in choices:
            self.error(
                key,
                f"'{value}' is not one of {', '.join(choices)}",
                did_you_mean(value, choices),
            )
            return default
        return value

    def date(self, key: str, *, required: bool = False) -> dt.date | None:
        self._known.add(key)
        if key not in self.data:
            if required:
                self.error(key, "this key is required", "Add it, as a date like 2021-04-20.")
            return None
        return self.parse_date(key, self.data[key])

    def date_list(self, key: str) -> list[dt.date]:
        """A list of dates (TOML dates or 'YYYY-MM-DD' strings); absent means empty."""
        values = self._take(key, list, False) or []
        dates = []
        for index, value in enumerate(values):
            reader = TableReader({}, (*self.path, key), self.log)
            if (day := reader.parse_date(index, value)) is not None:
                dates.append(day)
        return dates

    def parse_date(self, key: str | int, value: object) -> dt.date | None:
        """A TOML date, or a 'YYYY-MM-DD' string, as a date; anything else is a problem."""
        if isinstance(value, dt.datetime):
            self.error(key, "expected a date without a time", "Write it like 2021-04-20.")
            return None
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
        self.error(key, f"{value!r} is not a date", "Write it like 2021-04-20.")
        return None

    def clock_time(self, key: str, *, required: bool = False) -> dt.time | None:
        """A TOML local time (13:00:00) or a string like '13:00'."""
        self._known.add(key)
        if key not in self.data:
            if required:
                self.error(key, "this key is required", "Add it, as a time like 13:00:00.")
            return None
        value = self.data[key]
        if isinstance(value, dt.time) and value.tzinfo is None:
            return value
        if isinstance(value, str) and (match := _CLOCK_TIME.match(value.strip())):
            hour, minute, second = match.groups()
            return dt.time(int(hour), int(minute), int(second or 0))
        self.error(
            key,
            f"{value!r} is not a local time",
            'Write it like 13:00:00 (TOML time) or "13:00", without a time zone: '
            "times are in the series' time zone.",
        )
        return None

    # -- collections --------------------------------------------------------------------------

    def string_list(self, key: str, *, required: bool = False) -> list[str] | None:
        value = self._take(key, list, required)
        if value is None:
            return None
        strings: list[str] = []
        for index, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                self.log.error((*self.path, key, index), "expected a non-empty string")
            else:
                strings.append(item.strip())
        return strings

    def table(self, key: str, *, required: bool = False) -> TableReader | None:
        value = self._take(key, dict, required)
        return None if value is None else TableReader(value, (*self.path, key), self.log)

    def tables(self, key: str) -> list[TableReader]:
        """An array of tables (`[[key]]`); absent means empty."""
        value = self._take(key, list, False)
        if value is None:
            return []
        readers = []
        for index, item in enumerate(value):
            if isinstance(item, dict):
                readers.append(TableReader(item, (*self.path, key, index), self.log))
            else:
                self.log.error((*self.path, key, index), "expected a table")
        return readers

    def sub_tables(self, key: str) -> dict[str, TableReader]:
        """A table of named tables (`[lists.NAME]`); absent means empty."""
        outer = self.table(key)
        if outer is None:
            return {}
        readers = {}
        for name, value in outer.data.items():
            outer.ignore(name)
            if isinstance(value, dict):
                readers[name] = TableReader(value, (*outer.path, name), self.log)
            else:
                outer.error(name, "expected a table", f"Write it as [{key}.{name}].")
        return readers

    # -- per-language values ------------------------------------------------------------------

    def per_language(
        self,
        key: str,
        languages: Sequence[str],
        *,
        required: bool = False,
        allow_plain: bool = False,
        multiline: bool = False,
    ) -> dict[str, str] | None:
        """A table with one non-empty string per language of the series, no more, no less;
        each on one line unless `multiline`.

        With `allow_plain`, a single string stands for every language (a person's name).
        """
        self._known.add(key)
        if key not in self.data:
            if required:
                self.error(key, "this key is required", self._language_hint(key, languages))
            return None
        value = self.data[key]
        if allow_plain and isinstance(value, str) and value.strip():
            if (problem := self._text_problem(value, multiline)) is not None:
                self.error(key, problem, self._text_hint(multiline))
                return None
            return dict.fromkeys(languages, value.strip())
        if not isinstance(value, dict):
            self.error(
                key,
                "expected a table with one entry per language",
                self._language_hint(key, languages),
            )
            return None
        texts: dict[str, str] = {}
        for language, text in self._each_language(key, value, languages):
            if not isinstance(text, str) or not text.strip():
                self.log.error((*self.path, key, language), "expected a non-empty string")
            elif (problem := self._text_problem(text, multiline)) is not None:
                self.log.error((*self.path, key, language), problem, self._text_hint(multiline))
            else:
                texts[language] = text.strip()
        return texts if len(texts) == len(languages) else None

    def per_language_lists(
        self, key: str, languages: Sequence[str], *, required: bool = False
    ) -> dict[str, tuple[str, ...]] | None:
        """A table with one list of non-empty strings per language of the series."""
        self._known.add(key)
        if key not in self.data:
            if required:
                self.error(key, "this key is required", self._language_hint(key, languages))
            return None
        value = self.data[key]
        if not isinstance(value, dict):
            self.error(key, "expected a table with one list per language")
            return None
        lists: dict[str, tuple[str, ...]] = {}
        for language, items in self._each_language(key, value, languages):
            where = (*self.path, key, language)
            texts = items if isinstance(items, list) else [None]
            if not all(isinstance(item, str) and item.strip() for item in texts):
                self.log.error(where, "expected a list of non-empty strings")
                continue
            problems = (self._text_problem(item, False) for item in items)
            if (problem := next((found for found in problems if found), None)) is not None:
                self.log.error(where, problem, self._text_hint(False))
            else:
                lists[language] = tuple(item.strip() for item in items)
        counts = {len(items) for items in lists.values()}
        if len(counts) > 1:
            detail = ", ".join(f"{language}: {len(items)}" for language, items in lists.items())
            self.warning(
                key,
                f"the languages do not have the same number of entries ({detail})",
                "Check that no item was forgotten in one language.",
            )
        return lists if len(lists) == len(languages) else None

    def _each_language(
        self, key: str, table: Mapping[str, Any], languages: Sequence[str]
    ) -> Iterable[tuple[str, Any]]:
        for language in table:
            if language not in languages:
                self.log.error(
                    (*self.path, key, language),
                    f"'{language}' is not a language of the series ({', '.join(languages)})",
                    did_you_mean(language, languages)
                    or "Add it to [series] languages, or remove this entry.",
                )
        for language in languages:
            if language not in table:
                self.log.error(
                    (*self.path, key, language),
                    f"the {language!r} text is missing",
                    f"Every per-language table needs all of: {', '.join(languages)}.",
                )
            else:
                yield language, table[language]

    def _language_hint(self, key: str, languages: Sequence[str]) -> str:
        example = ", ".join(f'{language} = "..."' for language in languages)
        return f"Write it as {key} = {{ {example} }} or as a [{dotted((*self.path, key))}] table."
