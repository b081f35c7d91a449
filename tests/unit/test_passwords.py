"""The organisers' password hashes: scrypt in the PHC format, checked in constant time."""

from __future__ import annotations

import io
import os
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mailer.config.passwords import LOG_N, hash_password, parse_hash, verify_password
from tests.support.organisers import PASSWORD, PASSWORD_HASH


def test_the_shipped_test_hash_is_what_mailer_makes() -> None:
    parsed = parse_hash(PASSWORD_HASH)
    assert not isinstance(parsed, str)
    assert (parsed.log_n, parsed.r, parsed.p, len(parsed.salt), len(parsed.digest)) == (
        LOG_N,
        8,
        1,
        16,
        32,
    )
    assert verify_password(PASSWORD, PASSWORD_HASH)
    assert not verify_password(PASSWORD + " ", PASSWORD_HASH)
    assert not verify_password("", PASSWORD_HASH)


@settings(max_examples=15, deadline=None)
@given(st.text(min_size=1, max_size=40), st.text(min_size=1, max_size=40))
def test_a_hash_accepts_its_password_and_only_it(password: str, other: str) -> None:
    made = hash_password(password, os.urandom(16), log_n=14)  # light: this runs 15 times
    assert made.startswith("$scrypt$ln=14,r=8,p=1$")
    assert verify_password(password, made)
    assert verify_password(other, made) == (other == password)


def test_the_same_password_never_makes_the_same_hash() -> None:
    assert hash_password("same", os.urandom(16), log_n=14) != hash_password(
        "same", os.urandom(16), log_n=14
    )


def test_what_is_not_an_accepted_hash_says_why_and_never_verifies() -> None:
    bcrypt = "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW"
    for text, why in (
        (bcrypt, "not a password hash made by `mailer hash-password`"),
        ("plain password", "not a password hash"),
        (PASSWORD_HASH.replace("ln=17", "ln=10"), "outside what mailer accepts"),
        (PASSWORD_HASH.replace("ln=17", "ln=30"), "outside what mailer accepts"),
    ):
        parsed = parse_hash(text)
        assert isinstance(parsed, str) and why in parsed
        assert not verify_password(PASSWORD, text)


def test_mailer_hash_password_makes_a_hash_that_config_accepts(
    run_cli: Callable[..., tuple[int, str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("twelve chars at least\n"))
    code, out, _ = run_cli("hash-password", "--stdin")
    assert code == 0
    made = out.strip()
    assert not isinstance(parse_hash(made), str) and verify_password("twelve chars at least", made)
    monkeypatch.setattr("sys.stdin", io.StringIO("too short\n"))
    code, out, err = run_cli("hash-password", "--stdin")
    assert (code, out) == (2, "")
    assert "use at least 12" in err and "Traceback" not in err
