"""The shortcuts taken for speed give what the straightforward way gives (bench/send.py
measures what they save): DATA without aiosmtplib's passes, the composer's claim that no
line starts with a dot, text cleaning without a regular expression, encoded-words in one go."""

from __future__ import annotations

import base64
import re

from aiosmtplib.protocol import PERIOD_REGEX, normalize_message_line_endings
from hypothesis import given
from hypothesis import strategies as st

from mailer.audience.addresses import clean_text
from mailer.messages.checks import sample_recipients
from mailer.messages.encoding import _encoded_words
from mailer.model import Outgoing
from mailer.transport.smtp import on_the_wire
from tests.support.emails import composers_as_sent

LINES = st.lists(st.text(". a", max_size=12), max_size=8)  # CRLF-only, as Outgoing.data is


def aiosmtplib_data(data: bytes) -> bytes:
    """What aiosmtplib's own DATA writes (`SMTPProtocol.execute_data_command`)."""
    return PERIOD_REGEX.sub(b"..", normalize_message_line_endings(data)) + b".\r\n"


@given(lines=LINES)
def test_data_goes_on_the_wire_as_aiosmtplib_would_write_it(lines: list[str]) -> None:
    data = "\r\n".join(lines).encode()
    dot_free = not any(line.startswith(".") for line in "\r\n".join(lines).split("\r\n"))
    for claimed in {False, dot_free}:  # no claim, or a true one
        message = Outgoing("<id@x>", "a@x", "b@x", data, smtputf8=False, dot_free=claimed)
        assert on_the_wire(message) == aiosmtplib_data(data)


def test_every_email_says_truly_whether_a_line_starts_with_a_dot() -> None:
    """Each kind, language and sample recipient; a recipient whose name starts with a dot
    (in a line of its own after quoted-printable wraps it, or at a line's start) too."""
    seen = set()
    for made in composers_as_sent().values():
        for language in ("fr", "en", "es"):
            people = list(sample_recipients(language, frozenset(), "Europe/Paris"))
            people.append(people[0]._replace(name=".Dot " + "." * 70, email="dot@example.org"))
            for recipient in people:
                message = made.compose(recipient)
                assert crlf_only(message.data)
                lines = message.data.split(b"\r\n")
                assert message.dot_free == (not any(line.startswith(b".") for line in lines))
                assert on_the_wire(message) == aiosmtplib_data(message.data)
                seen.add(message.dot_free)
    assert seen == {True, False}  # both cases happened


def crlf_only(data: bytes) -> bool:
    return data.count(b"\n") == data.count(b"\r\n") == data.count(b"\r")


UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufeff]")


@given(value=st.text(max_size=40) | st.text(" \t\n\u00a0\u202eab", max_size=20))
def test_cleaning_text_without_the_expression_changes_nothing(value: str) -> None:
    replaced, count = UNSAFE.subn(" ", value)
    expected = re.sub(" {2,}", " ", replaced).strip()
    assert clean_text(value) == (expected, count > 0)


@given(text=st.text(max_size=80))
def test_encoded_words_split_between_characters_as_before(text: str) -> None:
    words, chunk = [], b""
    for character in text:
        data = character.encode("utf-8")
        if len(chunk) + len(data) > 42:
            words.append(chunk)
            chunk = b""
        chunk += data
    words.append(chunk)
    expected = [f"=?utf-8?b?{base64.b64encode(w).decode()}?=" for w in words if w]
    assert _encoded_words(text) == expected
