"""Validating `[recipients]`, `[lists.NAME]`, `[segments.NAME]` and `[unsubscribe]`."""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence

from mailer.audience.csv_source import DELIMITERS
from mailer.config.settings import DEFAULT_KEY_ENV, Mailing, Unsubscribe
from mailer.config.tables import TableReader, did_you_mean
from mailer.config.values import address_problem
from mailer.model import EVERYONE, SEGMENT_ANSWERS, MailingList, Segment

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def read_mailing(root: TableReader, languages: Sequence[str] | None) -> Mailing:
    """`[recipients]`, `[lists.*]` and `[segments.*]`, checked against each other."""
    case_sensitive = False
    if (options := root.table("recipients")) is not None:
        case_sensitive = (
            options.choice("local_part_case", ("insensitive", "sensitive"), default="insensitive")
            == "sensitive"
        )
        options.finish()
    lists = []
    for name, table in root.sub_tables("lists").items():
        if not _NAME.match(name):
            table.error(
                None, f"'{name}' is not a usable list name", "Use letters, digits, '-' and '_'."
            )
        if table.choice("source", ("file", "signups"), default="file") == "signups":
            lists.append(_read_kept(name, table, languages))
            continue
        file = table.string("file", required=True)
        delimiter = table.choice("delimiter", ("auto", ",", ";", "tab"), default="auto")
        encoding = _read_encoding(table)
        columns = _read_columns(table)
        if table.boolean("public", default=False):
            table.error(
                "public",
                "only a list kept in the state can be offered on the sign-up page",
                'Add source = "signups" (and no file): the page cannot write into a CSV file.',
            )
        table.finish()
        if file is not None:
            lists.append(
                MailingList(
                    name,
                    file,
                    None if delimiter == "auto" else DELIMITERS[delimiter],
                    encoding=encoding,
                    columns=columns,
                )
            )
    list_names = [mailing_list.name for mailing_list in lists]
    segments = []
    tables = root.sub_tables("segments")
    for name, table in tables.items():
        segment = _read_segment(name, table, list_names, languages)
        if segment is not None:
            segments.append(segment)
    if EVERYONE not in tables:
        segments.insert(0, Segment(EVERYONE, tuple(list_names)))
    return Mailing(tuple(lists), tuple(segments), case_sensitive)


def _read_kept(name: str, table: TableReader, languages: Sequence[str] | None) -> MailingList:
    """`source = "signups"`: a list kept in the state store (sign-ups, the organisers' pages);
    `public` offers it on the sign-up page, under its `title`."""
    for key in ("file", "delimiter", "encoding", "columns"):
        if key in table.data:
            table.ignore(key)
            table.error(key, "a list kept in the state has no file", f"Remove {key}.")
    public = table.boolean("public", default=False)
    table.ignore("title")  # unreadable while the series' languages are (said there)
    title = table.per_language("title", languages, required=public) if languages else None
    table.finish()
    return MailingList(name, "", kept=True, public=public, title=title)


def _read_segment(
    name: str, table: TableReader, list_names: Sequence[str], languages: Sequence[str] | None
) -> Segment | None:
    if not _NAME.match(name):
        table.error(
            None, f"'{name}' is not a usable segment name", "Use letters, digits, '-' and '_'."
        )
    lists = table.string_list("lists")
    if lists is None:
        lists = list(list_names)
    for index, list_name in enumerate(lists):
        if list_name not in list_names:
            table.log.error(
                (*table.path, "lists", index),
                f"there is no list '{list_name}'",
                did_you_mean(list_name, list_names)
                or f"Lists are declared as [lists.NAME]; known: {', '.join(list_names) or 'none'}.",
            )
    segment_languages = table.string_list("languages") or []
    for index, language in enumerate(segment_languages):
        if languages is not None and language not in languages:
            table.log.error(
                (*table.path, "languages", index),
                f"'{language}' is not a language of the series",
                did_you_mean(language, languages),
            )
    tags = {
        key: tuple(tag.casefold() for tag in table.string_list(key) or [])
        for key in ("tags_any", "tags_all", "exclude_tags")
    }
    answers = table.string_list("answers") or []
    for index, answer in enumerate(answers):
        if answer not in SEGMENT_ANSWERS:
            table.log.error(
                (*table.path, "answers", index),
                f"'{answer}' is not an answer",
                f"Use {', '.join(SEGMENT_ANSWERS)} (none: not answered).",
            )
    attended = table.boolean("attended", default=False) if "attended" in table.data else None
    table.finish()
    return Segment(
        name,
        tuple(lists),
        tuple(segment_languages),
        tags["tags_any"],
        tags["tags_all"],
        tags["exclude_tags"],
        tuple(answers),
        attended,
    )


def read_unsubscribe(root: TableReader) -> Unsubscribe:
    """`[unsubscribe]`: the https link and mailto address of List-Unsubscribe."""
    table = root.table("unsubscribe")
    if table is None:
        return Unsubscribe()
    url = table.string("url")
    if url is not None and not url.startswith("https://"):
        table.error(
            "url", f"'{url}' is not an https:// link", "RFC 8058 one-click unsubscribe needs https."
        )
        url = None
    mailto = table.string("mailto")
    if mailto is not None and (problem := address_problem(mailto)):
        table.error("mailto", problem)
        mailto = None
    key_env = table.string("key_env", default=DEFAULT_KEY_ENV) or DEFAULT_KEY_ENV
    table.finish()
    return Unsubscribe(url, mailto, key_env)


MAPPED_COLUMNS = ("email", "name", "language", "tags", "timezone")


def _read_encoding(table: TableReader) -> str | None:
    """`encoding`: the file's character set, for legacy files (default: UTF-8, checked)."""
    encoding = table.string("encoding")
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        table.error(
            "encoding",
            f"'{encoding}' is not a character set Python knows",
            'Use e.g. "windows-1252" (Excel\'s CSV on Windows), "latin-1" or "mac-roman".',
        )
        return None


def _read_columns(table: TableReader) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """`columns = { email = "Email Address", name = ["First Name", "Last Name"] }`: which of
    the file's columns hold what mailer reads (several are joined with spaces)."""
    table.ignore("columns")
    raw = table.data.get("columns")
    if raw is None:
        return ()
    if not isinstance(raw, dict):
        table.error("columns", 'write it as a table, e.g. columns = { email = "Email Address" }')
        return ()
    found = []
    for target, value in raw.items():
        path = (*table.path, "columns", target)
        if target not in MAPPED_COLUMNS:
            table.log.error(
                path,
                f"'{target}' is not a column mailer reads",
                f"Map any of: {', '.join(MAPPED_COLUMNS)}; other columns are read as they are.",
            )
            continue
        sources = [value] if isinstance(value, str) else value
        if (
            not isinstance(sources, list)
            or not sources
            or not all(isinstance(s, str) and s.strip() for s in sources)
            or (target != "name" and len(sources) != 1)
        ):
            table.log.error(
                path,
                "give the name of a column of the file"
                + (" (or a list of them, joined with spaces)" if target == "name" else ""),
                None,
            )
            continue
        found.append((target, tuple(sources)))
    return tuple(found)
