"""Reading mailing-list CSV files as spreadsheets and CRMs export them.

UTF-8 with or without BOM; `,` `;` or tab delimiters (sniffed from the header, or configured;
Excel's `sep=;` first line is honoured); CRLF; quoted fields with newlines; blank lines; spaces
around values. A file in another encoding (Excel's "CSV" export is Windows-1252) is reported with
the line of its first non-UTF-8 byte, never guessed: a mis-decoded name would be mailed for ever.

Pure: works on byte chunks and text lines; opening files is the caller's job.
"""

from __future__ import annotations

import codecs
import collections
import csv
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from mailer.errors import Problem

DELIMITERS = {",": ",", ";": ";", "tab": "\t", "\t": "\t"}
_EXCEL_SEPARATOR_HINT = re.compile(r"^\ufeff?sep=(.)\s*$", re.IGNORECASE)
_HEADER_NOISE = re.compile(r"[\s_-]+")


def header_name(text: str) -> str:
    """Headers match without regard to case, spaces, `-` or `_`: ` E-Mail ` is `email`."""
    return _HEADER_NOISE.sub("", text).casefold()


def encoding_problem(chunks: Iterable[bytes], source: str) -> Problem | None:
    """Why the bytes are not UTF-8, with the lines to look at, or None.

    A whole file in another encoding (Excel's "CSV" is Windows-1252) gets the advice to convert
    it; a UTF-8 file with a few lines pasted from such a file gets the lines to fix, since
    converting the whole file would garble every other accented name.
    """
    bad: list[tuple[int, str]] = []  # (line, the first unreadable byte as Windows-1252)
    good_non_ascii = False  # some line is real UTF-8 beyond ASCII
    line = 1
    rest = b""
    for index, chunk in enumerate(chunks):
        if index == 0 and chunk[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return Problem(
                source,
                "this file is UTF-16 (Excel's 'Unicode Text'), not UTF-8",
                line=1,
                hint=_SAVE_AS_UTF8.replace("WINDOWS-1252", "UTF-16"),
            )
        data = rest + chunk
        cut = data.rfind(b"\n") + 1  # whole lines only; the rest waits for the next chunk
        data, rest = data[:cut], data[cut:]
        line, good_non_ascii = _scan(data, line, bad, good_non_ascii)
    _, good_non_ascii = _scan(rest, line, bad, good_non_ascii)
    if not bad:
        return None
    first_line, first_byte = bad[0]
    if not good_non_ascii:
        return Problem(
            source,
            f"this file is not UTF-8: byte {first_byte} cannot be read, and mailer will not guess",
            line=first_line,
            hint=_SAVE_AS_UTF8,
        )
    shown = ", ".join(str(number) for number, _ in bad[:10]) + (", ..." if len(bad) > 10 else "")
    return Problem(
        source,
        f"this file is UTF-8 except {len(bad)} line{'s' * (len(bad) != 1)} ({shown}), in "
        f"another encoding (byte {first_byte}): pasted from a file in another encoding?",
        line=first_line,
        hint="Retype the accented letters of those lines only (in a UTF-8 editor, or paste "
        "them from a UTF-8 file); do not convert the whole file, which would garble the lines "
        "that are right.",
    )


def _scan(
    data: bytes, line: int, bad: list[tuple[int, str]], good_non_ascii: bool
) -> tuple[int, bool]:
    """Check whole lines of bytes: record the ones that are not UTF-8; the next line number,
    and whether some line was UTF-8 beyond ASCII."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        for number, raw in enumerate(data.split(b"\n"), start=line):
            try:
                decoded = raw.decode("utf-8")
            except UnicodeDecodeError as error:
                byte = raw[error.start]
                guess = bytes([byte]).decode("cp1252", errors="replace")
                bad.append((number, f"0x{byte:02X} ('{guess}' in Windows-1252/Latin-1)"))
            else:
                good_non_ascii = good_non_ascii or not decoded.isascii()
        return line + data.count(b"\n"), good_non_ascii
    return line + data.count(b"\n"), good_non_ascii or not text.isascii()


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


def raw_headers(header_line: str) -> tuple[str, ...]:
    """The column names of a header line as written (its delimiter sniffed)."""
    line = header_line.lstrip("\ufeff").rstrip("\r\n")
    return tuple(next(csv.reader([line], delimiter=_sniff(line), strict=False), []))


def _sniff(header_line: str) -> str:
    """The delimiter that makes the header have an `email` column, else the commonest one."""
    for delimiter in (",", ";", "\t"):
        names = next(csv.reader([header_line], delimiter=delimiter), [])
        if "email" in (header_name(name) for name in names):
            return delimiter
    return max((",", ";", "\t"), key=header_line.count)


class _Lines:
    """The physical lines csv reads, numbered, with the lines of the last record kept so that
    they can be read again (after a quote that swallowed them)."""

    def __init__(self, lines: Iterator[str], first_number: int) -> None:
        self._source = lines
        self._next_number = first_number
        self._again: collections.deque[tuple[int, str]] = collections.deque()
        self.taken: list[tuple[int, str]] = []  # the lines of the record being read

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        if self._again:
            number, line = self._again.popleft()
        else:
            line = next(self._source)
            number = self._next_number
            self._next_number += 1
        self.taken.append((number, line))
        return line

    def again(self, lines: list[tuple[int, str]]) -> None:
        """Read these lines again, first."""
        self._again.extendleft(reversed(lines))


ColumnMap = Sequence[tuple[str, Sequence[str]]]  # ("name", ("First Name", "Last Name"))


def read_table(
    lines: Iterable[str], source: str, delimiter: str | None = None, columns: ColumnMap = ()
) -> Table:
    """Parse CSV text lines (read with newline=''). Raises ValueError for an unusable header.

    `columns` says which of the file's columns hold what mailer reads (an export from another
    tool): several source columns are joined with spaces (first and last names)."""
    stream = iter(lines)
    line_offset = 0
    head = list(itertools.islice(stream, 1))
    while head and not head[0].strip():  # blank lines before the header
        line_offset += 1
        head = list(itertools.islice(stream, 1))
    if not head:
        raise ValueError("the file is empty: it needs a header line with an 'email' column")
    if len(head[0]) > MAX_LINE:
        raise ValueError(f"the header line is {len(head[0]):,} characters long: not a header")
    if hint := _EXCEL_SEPARATOR_HINT.match(head[0].rstrip("\r\n")):
        delimiter = delimiter or hint.group(1)
        line_offset += 1
        head = list(itertools.islice(stream, 1))
    chosen = delimiter or _sniff(head[0].lstrip("\ufeff"))
    try:
        raw_headers = next(csv.reader(head, delimiter=chosen, strict=False))
    except (csv.Error, StopIteration):
        raise ValueError("the header line cannot be read as CSV") from None
    headers = tuple(header_name(name.lstrip("\ufeff")) for name in raw_headers)
    seen: set[str] = set()
    for name in headers:
        if name and name in seen:
            raise ValueError(f"the column '{name}' appears twice in the header")
        seen.add(name)
    found = ", ".join(repr(name.strip()) for name in raw_headers)
    for target, sources in columns:
        for original in sources:
            if header_name(original) not in seen:
                raise ValueError(
                    f"the column {original!r} (columns.{target} in config.toml) is not in the "
                    f"header (found {found}; delimiter {chosen!r})"
                )
    mapping = [(target, [header_name(s) for s in sources]) for target, sources in columns]
    if "email" not in headers and "email" not in dict(mapping):
        raise ValueError(f"the header has no 'email' column (found {found}; delimiter {chosen!r})")
    feed = _Lines(stream, line_offset + 2)
    records = _records(feed, headers, source, chosen)
    return Table(headers, chosen, _mapped(records, mapping) if mapping else records)


def _mapped(
    records: Iterator[Record | Problem], mapping: list[tuple[str, list[str]]]
) -> Iterator[Record | Problem]:
    """The records with the mapped columns under mailer's names."""
    for item in records:
        if isinstance(item, Record):
            values = item.values
            joined = {
                target: " ".join(v for name in names if (v := values.get(name, "")))
                for target, names in mapping
            }
            for _, names in mapping:
                for name in names:
                    values.pop(name, None)
            values.update(joined)
        yield item


MAX_FIELD = 1000  # characters: far beyond a real name, organisation or note
MAX_LINE = 100_000  # characters: csv's own limit is 131,072 per field
MAX_NAME = 200
_WELL_FORMED_SPAN = 3  # physical lines a quoted field with line breaks may take
MULTILINE_BREAKS = 20  # line breaks in the cells of one row: beyond, a quote swallowed rows


def _records(
    feed: _Lines, headers: tuple[str, ...], source: str, delimiter: str
) -> Iterator[Record | Problem]:
    """The records of the file, each a located Record or a Problem. A quoted cell with line
    breaks (Excel's Alt+Enter) is kept, its breaks read as spaces, when its row is whole (see
    `_closed_cells`); a quote that never closes, or that swallowed rows, is a problem, never
    data, and the lines it took are read again as rows of their own."""
    reader = csv.reader(feed, delimiter=delimiter, strict=False)
    while True:
        feed.taken = []
        failure: str | None = None
        fields: list[str] = []
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as error:  # a field larger than csv's limit: a quote never closed
            failure = str(error)
        taken = feed.taken
        if not taken:
            return
        start = taken[0][0]
        if failure is not None and len(taken[0][1]) > MAX_LINE:  # one line beyond any row
            yield Problem(
                source,
                f"this line is {len(taken[0][1]):,} characters long, far beyond any real row; "
                "the row is skipped",
                line=start,
                hint="Check the line: it may be a whole file pasted into one cell.",
            )
            feed.again(taken[1:])
            reader = csv.reader(feed, delimiter=delimiter, strict=False)
            continue
        if failure is None and len(taken) > 1 and _closed_cells(fields, headers, delimiter):
            fields = [" ".join(value.split()) if "\n" in value else value for value in fields]
        elif failure is not None or len(taken) > 1:
            yield _multiline_problem(source, taken, failure)
            short = failure is None and len(taken) <= _WELL_FORMED_SPAN
            if not short or len(fields) != len(headers):
                feed.again(taken[1:])  # a stray quote swallowed these rows: read them as rows
                reader = csv.reader(feed, delimiter=delimiter, strict=False)
            continue
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
        record = {name: value for name, value in zip(headers, values, strict=False) if name}
        if (problem := _size_problem(record, source, start)) is not None:
            yield problem
            continue
        yield Record(start, record)


def _closed_cells(fields: list[str], headers: tuple[str, ...], delimiter: str) -> bool:
    """Whether a record that took several lines is cells with line breaks (Excel's Alt+Enter
    in an address or a note), not a stray quote that swallowed rows: its quotes closed, it has
    the header's number of fields, and no cell holds what looks like another row (an address
    and a delimiter after a line break)."""
    if len(fields) != len(headers):
        return False
    for value in fields:
        for line in value.splitlines()[1:]:
            if "@" in line and delimiter in line:
                return False
    return sum(value.count("\n") for value in fields) < MULTILINE_BREAKS


def _multiline_problem(source: str, taken: list[tuple[int, str]], failure: str | None) -> Problem:
    first, last = taken[0][0], taken[-1][0]
    span = f"lines {first}-{last}" if last > first else f"line {first}"
    detail = f" ({failure})" if failure else ""
    return Problem(
        source,
        f"a double quote opens a field that runs over {span}{detail}: a line break inside a "
        "field, or a quote that is never closed; the row is skipped",
        line=first,
        hint="Remove the line break from the field (or close the quote); the lines after it "
        "are read as rows of their own.",
    )


def _size_problem(record: dict[str, str], source: str, line: int) -> Problem | None:
    for name, value in record.items():
        limit = MAX_NAME if name == "name" else MAX_FIELD
        if len(value) > limit:
            return Problem(
                source,
                f"the {name} column is {len(value):,} characters long, far beyond any real "
                "one; the row is skipped",
                line=line,
                hint="Check the row: a misplaced quote or delimiter can merge columns.",
            )
    return None
