"""Unsubscribe tokens: they name one address of one series, and cannot be forged or moved."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.audience.unsubscribe import make_token, read_token
from mailer.errors import InvalidToken

KEY = b"a-test-signing-key-of-some-length"


@given(address=st.emails(), series=st.text(min_size=1, max_size=20))
def test_a_token_names_its_address_and_nothing_else(address: str, series: str) -> None:
    token = make_token(KEY, series, address)
    assert read_token(KEY, series, token) == address
    with pytest.raises(InvalidToken):
        read_token(KEY, series + "x", token)
    with pytest.raises(InvalidToken):
        read_token(KEY + b"!", series, token)
    forged = make_token(b"another-key-entirely-123", series, "victim@example.org")
    with pytest.raises(InvalidToken):
        read_token(KEY, series, forged)


def test_a_token_cannot_be_moved_to_another_address() -> None:
    token = make_token(KEY, "s", "alice@example.org")
    _, mac = token.split(".")
    other = make_token(KEY, "s", "bob@example.org").split(".")[0]
    with pytest.raises(InvalidToken, match="not valid"):
        read_token(KEY, "s", f"{other}.{mac}")
    for damaged in ("", "abc", "a.b.c", "!!!.???", token + "=="):
        with pytest.raises(InvalidToken):
            read_token(KEY, "s", damaged)
