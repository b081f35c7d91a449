"""The fast encodings equal the straightforward ones."""

from __future__ import annotations

import email
import email.header
import email.policy

from hypothesis import given
from hypothesis import strategies as st

from mailer.audience.addresses import clean_text
from mailer.messages.encoding import EncodedBody, quoted_printable, subject_header, to_header
from mailer.messages.slots import SlotPool, split_slots

TEXT = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=120),
    st.text(".\n a=é", max_size=200),  # lines that start with a dot, long lines, "="
)
VALUE = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=40
)


@given(
    pieces=st.lists(TEXT, min_size=1, max_size=6),
    values=st.lists(VALUE, min_size=5, max_size=5),
    escape=st.booleans(),
)
def test_a_body_encoded_once_per_shape_equals_encoding_it_whole(
    pieces: list[str], values: list[str], escape: bool
) -> None:
    pool = SlotPool()
    slots = [pool.slot(f"k{i}", f"value {i}") for i in range(len(pieces) - 1)]
    text = "".join(piece + (slots[i] if i < len(slots) else "") for i, piece in enumerate(pieces))
    mapping = {f"k{i}": values[i % len(values)] for i in range(len(slots))}
    whole = split_slots(text, pool, escape=escape, where="test").fill(mapping)
    encoded, dots = EncodedBody(text, pool, escape=escape, where="test").encode(mapping)
    assert encoded == quoted_printable(whole)
    # what SMTP needs to know: whether a line starts with a dot (it then doubles it)
    assert dots == any(line.startswith(b".") for line in encoded.split(b"\r\n"))


NAMES = st.text(
    st.characters(codec="utf-8", exclude_categories=["Cs", "Cc", "Zl", "Zp"]), max_size=60
).map(lambda s: " ".join(s.split()))


@given(name=NAMES)
def test_the_to_header_decodes_to_the_same_name_and_address(name: str) -> None:
    header = to_header(name, "jean.dupont@example.org")
    assert header.isascii() and header.endswith("\r\n")
    assert all(len(line) <= 78 for line in header.split("\r\n"))
    message = email.message_from_string(header + "\r\n", policy=email.policy.strict)
    (address,) = message["To"].addresses
    assert address.addr_spec == "jean.dupont@example.org"
    if name.isascii():
        assert address.display_name == name
    else:
        # RFC 2047 6.2: the space between adjacent encoded-words is not part of the text
        # (Python's header parser keeps it; decode_header follows the RFC)
        phrase = header.removeprefix("To: ").rsplit(" <", 1)[0].replace("\r\n ", " ")
        assert str(email.header.make_header(email.header.decode_header(phrase))) == name


SUBJECTS = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=160).map(
    lambda s: clean_text(s)[0]  # as the composer cleans a rendered subject
)
FRENCH = "Mise à jour\u00a0: séance 7, «\u00a0Titre 7\u00a0» – mardi 18 mai 2021, 13\u00a0h\u00a000"


@given(subject=SUBJECTS | st.just(FRENCH))  # FRENCH lost its " » –" space once
def test_the_subject_header_decodes_to_the_same_subject(subject: str) -> None:
    for smtputf8 in (False, True):
        header = subject_header(subject, smtputf8)
        assert header.endswith("\r\n") and (smtputf8 or header.isascii())
        assert smtputf8 or all(len(line) <= 78 for line in header.split("\r\n"))
        message = email.message_from_string(header + "\r\n", policy=email.policy.strict)
        assert str(message["Subject"]) == subject
