"""Encoding emails fast: bodies encoded once per recipient shape, headers without re-parsing.

Quoted-printable is line-local (RFC 2045 6.7: soft line breaks never cross a line end), so a
body is encoded once for every line that holds no per-recipient value; only the few lines with
a name, an address or an unsubscribe link are encoded for each recipient. The `To:` header is
written directly (an atom, a quoted string, or RFC 2047 encoded-words), which costs a small
fraction of what Python's header folding costs; anything unusual goes the slow, general way.
tests/unit/test_encoding.py checks both against the straightforward encodings with hypothesis.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
import functools
import re
from collections.abc import Mapping
from email.headerregistry import Address

from mailer.messages.slots import Filled, SlotPool, split_slots

_POLICY = email.policy.SMTP
_UTF8_POLICY = email.policy.SMTPUTF8
_ATOM_PHRASE = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?: [A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_PLAIN_WORD = re.compile(r"^(?!.*=\?)(?!.*\?=)[!-~]{1,70}$")  # printable ASCII, no "=?" or "?="
_HAS_SLOT = re.compile(r"zqslot\d*qz", re.IGNORECASE)
_MAX_LINE = 78
_WORD_BYTES = 42  # 56 base64 characters: an encoded-word of 68, fits after "Subject: "


def quoted_printable(text: str) -> bytes:
    """Text as quoted-printable with CRLF line ends (binascii's encoder, in C)."""
    encoded = binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True)
    return encoded.replace(b"\n", b"\r\n")


class EncodedBody:
    """A rendered body, quoted-printable encoded except for the lines that hold slots."""

    def __init__(self, text: str, pool: SlotPool, *, escape: bool, where: str) -> None:
        split_slots(text, pool, escape=escape, where=where)  # checks no slot was mangled
        self.segments: list[bytes | Filled] = []
        static: list[str] = []
        # only "\n" ends a line for quoted-printable (str.splitlines also splits at U+0085...)
        for line in re.split(r"(?<=\n)", text.replace("\r\n", "\n")):
            if not line:
                continue
            if _HAS_SLOT.search(line):
                if static:
                    self.segments.append(quoted_printable("".join(static)))
                    static = []
                self.segments.append(split_slots(line, pool, escape=escape, where=where))
            else:
                static.append(line)
        if static:
            self.segments.append(quoted_printable("".join(static)))
        # each segment starts a line: whether one of its lines starts with a dot
        self.static_dots = any(
            starts_a_line_with_a_dot(segment)
            for segment in self.segments
            if isinstance(segment, bytes)
        )

    def encode(self, values: Mapping[str, str]) -> tuple[bytes, bool]:
        """The body for one recipient, quoted-printable, and whether a line of it starts
        with a dot (SMTP then has to double it: `mailer.transport.smtp.on_the_wire`)."""
        dots = self.static_dots
        encoded = []
        for segment in self.segments:
            if isinstance(segment, bytes):
                encoded.append(segment)
                continue
            line = quoted_printable(segment.fill(values))
            dots = dots or starts_a_line_with_a_dot(line)
            encoded.append(line)
        return b"".join(encoded), dots


def starts_a_line_with_a_dot(data: bytes) -> bool:
    """Whether a line of `data` (which starts a line) starts with a dot."""
    return data.startswith(b".") or b"\n." in data


@functools.lru_cache(maxsize=256)
def subject_header(subject: str, smtputf8: bool) -> str:
    """`Subject: ...` folded and, unless SMTPUTF8, RFC 2047 encoded (cached: a send has few)."""
    return text_header("Subject", subject, smtputf8)


def text_header(name: str, text: str, smtputf8: bool = False) -> str:
    """An unstructured header (`Subject`) folded and, unless SMTPUTF8, RFC 2047 encoded.

    Without SMTPUTF8 the leading plain ASCII words stay readable and the rest is encoded-words
    that carry their own spaces. Python's folder is not used for this: it can turn the space
    between two encoded-words into the fold, which decoders then drop (RFC 2047 6.2), so
    "» –" arrived as "»–".
    """
    if smtputf8:
        return str(_UTF8_POLICY.header_factory(name, text).fold(policy=_UTF8_POLICY))
    words = text.split(" ")
    plain = 0
    while plain < len(words) and _PLAIN_WORD.match(words[plain]):
        plain += 1
    rest = " ".join(words[plain:])
    return _fold(name, words[:plain] + _encoded_words(rest))


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 base64 encoded-words, each under 75 characters, split between characters."""
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + _WORD_BYTES, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # not inside a character
            end -= 1
        words.append(f"=?utf-8?b?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return words


def _fold(name: str, parts: list[str]) -> str:
    """`Name: part part ...`, breaking lines (CRLF and a space) to stay within 78 characters."""
    line = f"{name}:"
    lines = []
    for part in parts:
        if len(line) + 1 + len(part) > _MAX_LINE and line != f"{name}:":
            lines.append(line)
            line = ""
        line += " " + part
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def to_header(name: str, address: str) -> str:
    """`To: display name <address>`, for an ASCII address (the case without SMTPUTF8)."""
    if not name:
        return f"To: {address}\r\n"
    if name.isascii() and "=?" not in name:  # else encoded, so that nothing decodes it twice
        if _ATOM_PHRASE.match(name):
            phrase = name.split(" ")
        else:
            phrase = ['"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"']
        if len(phrase[-1]) > _MAX_LINE - 10:  # an unusually long quoted name: the general way
            value = str(Address(name, addr_spec=address))
            return str(_POLICY.header_factory("To", value).fold(policy=_POLICY))
    else:
        phrase = _encoded_words(name)
    return _fold("To", [*phrase, f"<{address}>"])
