"""Reading mailing-list CSV files as spreadsheets and CRMs export them.

UTF-8 with or without BOM; `,` `;` or tab delimiters (sniffed from the header, or configured;
Excel's `sep=;` first line is honoured); CRLF; quoted fields with newlines; blank lines; spaces
around values. A file in another encoding (Excel's "CSV" export is Windows-1252) is reported with
the line of its first non-UTF-8 byte, never guessed: a mis-decoded name would be mailed for ever.

Pure: works on byte chunks and text lines; opening files is the caller's job.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from mailer.errors import Problem

DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t"}
_EXCEL_SEPARATOR_HINT = re.compile(r"^\ufeff?sep=(.)\s*$", re.IGNORECASE)
_HEADER_NOISE = re.compile(r"[\s_-]+")


def header_name(text: str) -> str:
    """Headers match without regard to case, spaces, `-` or `_`: ` E-Mail ` is `email`."""
    return _HEADER_NOISE.sub("", text).casefold()


def encoding_problem(chunks: Iterable[bytes], source: str) -> Problem | None:
    """Why the bytes are not UTF-8 (with the line of the first bad byte), or None."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    first = True
    for chunk in chunks:
        if first and chunk[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return Problem(
                source,
                "this file is UTF-16 (Excel's 'Unicode Text'), not UTF-8",
                line=1,
                hint=_SAVE_AS_UTF8.replace("WINDOWS-1252", "UTF-16"),
            )
        first = False
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as error:
            line += chunk.count(b"\n", 0, error.start)
            byte = chunk[error.start]
            guess = bytes([byte]).decode("cp1252", errors="replace")
            return Problem(
                source,
                f"this file is not UTF-8: byte 0x{byte:02X} ('{guess}' in Windows-1252/Latin-1) "
                "cannot be read, and mailer will not guess",
                line=line,
                hint=_SAVE_AS_UTF8,
            )
        line += chunk.count(b"\n")
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return Problem(
            source,
            "this file ends in the middle of a UTF-8 character",
            line=line,
            hint=_SAVE_AS_UTF8,
        )
    return None


_SAVE_AS_UTF8 = (
    "Save it as 'CSV UTF-8 (Comma delimited)' in Excel (LibreOffice: character set Unicode "
    "(UTF-8)), or convert it: iconv -f WINDOWS-1252 -t UTF-8 old.csv > new.csv."
)


@dataclass(frozen=True)
class Record:
    """One data row: the line it starts on, and its values by normalised header name."""

    line: int
    values: dict[str, str]


@dataclass(frozen=True)
class Table:
    """The header of a CSV file and a stream of its records (consumed once)."""

    headers: tuple[str, ...]
    delimiter: str
    records: Iterator[Record | Problem]


def _sniff(header_line: str) -> str:
    """The delimiter that makes the header have an `email` column, else the commonest one."""
    for delimiter in (",", ";", "\t"):
        names = next(csv.reader([header_line], delimiter=delimiter), [])
        if "email" in (header_name(name) for name in names):
            return delimiter
    return max((",", ";", "\t"), key=header_line.count)


def read_table(lines: Iterable[str], source: str, delimiter: str | None = None) -> Table:
    """Parse CSV text lines (read with newline=''). Raises ValueError for an unusable header."""
    stream = iter(lines)
    line_offset = 0
    head = list(itertools.islice(stream, 1))
    while head and not head[0].strip():  # blank lines before the header
        line_offset += 1
        head = list(itertools.islice(stream, 1))
    if not head:
        raise ValueError("the file is empty: it needs a header line with an 'email' column")
    if hint := _EXCEL_SEPARATOR_HINT.match(head[0].rstrip("\r\n")):
        delimiter = delimiter or hint.group(1)
        line_offset += 1
        head = list(itertools.islice(stream, 1))
    chosen = delimiter or _sniff(head[0].lstrip("\ufeff"))
    reader = csv.reader(itertools.chain(head, stream), delimiter=chosen, strict=False)
    raw_headers = next(reader)
    headers = tuple(header_name(name.lstrip("\ufeff")) for name in raw_headers)
    seen: set[str] = set()
    for name in headers:
        if name and name in seen:
            raise ValueError(f"the column '{name}' appears twice in the header")
        seen.add(name)
    if "email" not in headers:
        found = ", ".join(repr(name.strip()) for name in raw_headers)
        raise ValueError(f"the header has no 'email' column (found {found}; delimiter {chosen!r})")
    header_end = reader.line_num + line_offset
    return Table(headers, chosen, _records(reader, headers, source, line_offset, header_end))


def _records(
    reader: Iterator[list[str]],
    headers: tuple[str, ...],
    source: str,
    offset: int,
    previous_end: int,
) -> Iterator[Record | Problem]:
    for fields in reader:
        start = previous_end + 1
        previous_end = reader.line_num + offset  # type: ignore[attr-defined]
        values = [value.strip() for value in fields]
        if not any(values):
            continue
        if len(values) > len(headers) and any(values[len(headers) :]):
            yield Problem(
                source,
                f"{len(values)} fields where the header has {len(headers)}; the row is skipped",
                line=start,
                hint="A value containing the delimiter must be in double quotes.",
            )
            continue
        yield Record(
            start, {name: value for name, value in zip(headers, values, strict=False) if name}
        )
