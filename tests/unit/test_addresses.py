"""Addresses: our fast path agrees with email-validator; nothing unsafe reaches a header."""

from __future__ import annotations

import re

import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import example, given
from hypothesis import strategies as st

from mailer.audience.addresses import clean_text, parse_address
from mailer.errors import InvalidAddress

LOCAL_CHARS = "abcXYZ019.!#$%&'*+/=?^_`{|}~-\" ()<>,;:\\@é"
DOMAIN_CHARS = "abcxyz019.-_ü"
TLDS = ["org", "com", "fr", "example", "invalid", "local", "x", "c0m", "arpa", "onion", "test", ""]


@st.composite
def address_like(draw: st.DrawFn) -> str:
    local = draw(st.text(LOCAL_CHARS, min_size=0, max_size=70))
    domain = draw(st.text(DOMAIN_CHARS, min_size=0, max_size=30))
    tld = draw(st.sampled_from(TLDS))
    return f"{local}@{domain}.{tld}" if tld else f"{local}@{domain}"


def reference(text: str) -> tuple[str, str | None] | None:
    try:
        checked = validate_email(text.strip(), check_deliverability=False)
    except EmailNotValidError:
        return None
    return checked.normalized, checked.ascii_email


@given(address_like())
def test_parse_address_agrees_with_email_validator(text: str) -> None:
    expected = reference(text)
    try:
        parsed = parse_address(text)
    except InvalidAddress:
        assert expected is None, f"{text!r} is valid for email-validator"
        return
    assert expected is not None, f"{text!r} is invalid for email-validator"
    assert (parsed.email, parsed.ascii_email) == expected


@given(
    st.lists(
        st.text("abXZ09-", min_size=0, max_size=66) | st.sampled_from(["xn--bcher-kva", "ab--c"]),
        min_size=1,
        max_size=5,
    ),
    st.sampled_from(["org", "ORG", "fr", "x9", "9", "localhost", "test", "arpa", "museum"]),
)
@example(["a" * 63] * 3 + ["b" * 54], "fr")  # 254 characters: the longest an address may be
@example(["a" * 63] * 3 + ["b" * 55], "fr")  # 255
def test_plain_host_names_are_judged_like_email_validator(labels: list[str], tld: str) -> None:
    """The host names the fast path judges by itself, and those it leaves to email-validator
    (Punycode, R-LDH labels, lengths, special-use names, numeric TLDs)."""
    text = f"jean@{'.'.join([*labels, tld])}"
    expected = reference(text)
    try:
        parsed = parse_address(text)
    except InvalidAddress:
        assert expected is None, f"{text!r} is valid for email-validator"
        return
    assert expected is not None, f"{text!r} is invalid for email-validator"
    assert (parsed.email, parsed.ascii_email) == expected


def test_the_special_use_names_are_email_validator_s() -> None:
    import email_validator

    from mailer.audience.addresses import SPECIAL_USE

    assert set(email_validator.SPECIAL_USE_DOMAIN_NAMES) == SPECIAL_USE


@given(st.emails())
def test_every_address_hypothesis_thinks_valid_is_judged_like_email_validator(text: str) -> None:
    expected = reference(text)
    try:
        parsed = parse_address(text)
    except InvalidAddress:
        assert expected is None
        return
    assert expected is not None and parsed.email == expected[0]


@pytest.mark.parametrize(
    ("text", "email", "ascii_email"),
    [
        ("Jean.Dupont@Example.ORG", "Jean.Dupont@example.org", "Jean.Dupont@example.org"),
        ("jose@bücher.example", "jose@bücher.example", "jose@xn--bcher-kva.example"),
        ("josé.garcía@museo.example", "josé.garcía@museo.example", None),
        ("用户@例子.广告", "用户@例子.广告", None),
        (" Postmaster@Example.org ", "postmaster@example.org", "postmaster@example.org"),
    ],
)
def test_internationalised_addresses_are_accepted_and_normalised(
    text: str, email: str, ascii_email: str | None
) -> None:
    parsed = parse_address(text)
    assert (parsed.email, parsed.ascii_email) == (email, ascii_email)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("jean.dupont", "must have an @-sign"),
        ("jean@example", "should have a period"),
        ("jean@@example.org", "invalid characters"),
        ("jean..dupont@example.org", "two periods in a row"),
        ("jean@example.invalid", "special-use or reserved"),
        ("a@example.org\r\nBcc: victim@example.org", "invalid characters"),
    ],
)
def test_invalid_addresses_say_why(text: str, reason: str) -> None:
    with pytest.raises(InvalidAddress, match=reason):
        parse_address(text)


def test_the_same_person_whatever_the_case() -> None:
    assert parse_address("Jean@EXAMPLE.org").key == parse_address("jean@example.ORG").key
    assert (
        parse_address("jose@BÜCHER.example").key == parse_address("jose@xn--bcher-kva.example").key
    )
    sensitive = parse_address("Jean@example.org", case_sensitive_local=True).key
    assert sensitive != parse_address("jean@example.org", case_sensitive_local=True).key


@given(st.text())
def test_cleaned_text_has_nothing_that_ends_or_spoofs_a_header(text: str) -> None:
    cleaned, changed = clean_text(text)
    forbidden = set("\r\n\x00\x0b\x0c\t\x85\u2028\u2029\u202e\u2066\ufeff")
    assert not forbidden & set(cleaned)
    assert all(ord(char) >= 32 for char in cleaned)
    assert clean_text(cleaned) == (cleaned, False)
    if not changed:
        assert cleaned == re.sub(" +", " ", text).strip()


def test_a_name_with_an_injected_header_becomes_one_line() -> None:
    assert clean_text("Marie\r\nBcc: victim@example.org") == ("Marie Bcc: victim@example.org", True)
