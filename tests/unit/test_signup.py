"""Signing up, the pure parts: the form read, the signed confirmation link (round trip for any
request, refused when altered, forged or late), an upload's plan, and `[signup]` checked with
every problem at its key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mailer.audience.signup import (
    SignupRequest,
    consent_digest,
    make_signup_token,
    read_form,
    read_signup_token,
)
from mailer.audience.upload import Known, guess_columns, plan_upload
from mailer.errors import InvalidToken
from tests.support.project import edit
from tests.unit.test_config import problems_of

KEY = b"a signing key of some length"
NOW = dt.datetime(2026, 12, 3, 10, 0, tzinfo=dt.UTC)
WITHIN = dt.timedelta(days=2)

requests = st.builds(
    SignupRequest,
    email=st.emails(),
    name=st.text(max_size=60),
    language=st.sampled_from(["fr", "en", "es"]),
    timezone=st.sampled_from([None, "Europe/Paris", "America/Lima"]),
    lists=st.lists(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), max_size=3).map(tuple),
    consent=st.text(alphabet="0123456789abcdef", min_size=32, max_size=32),
    asked_at=st.datetimes(
        min_value=dt.datetime(2020, 1, 1),  # noqa: DTZ001 (hypothesis: naive bounds)
        max_value=dt.datetime(2030, 1, 1),  # noqa: DTZ001
        timezones=st.just(dt.UTC),
    ).map(lambda t: t.replace(microsecond=0)),
)


@given(requests)
def test_a_confirmation_link_carries_its_request_whole(request: SignupRequest) -> None:
    token = make_signup_token(KEY, "series", request)
    assert read_signup_token(KEY, "series", token, now=request.asked_at, within=WITHIN) == request


@given(requests, st.integers(0, 200), st.sampled_from("AQgw-_"))
def test_an_altered_link_is_refused(request: SignupRequest, where: int, new: str) -> None:
    token = make_signup_token(KEY, "series", request)
    position = where % len(token)
    altered = token[:position] + new + token[position + 1 :]
    if altered == token:
        return
    with pytest.raises(InvalidToken):
        read_signup_token(KEY, "series", altered, now=request.asked_at, within=WITHIN)


def test_a_forged_a_foreign_and_a_late_link_are_refused() -> None:
    request = SignupRequest("a@example.org", "A", "fr", None, ("signups",), "0" * 32, NOW)
    token = make_signup_token(KEY, "series", request)
    with pytest.raises(InvalidToken, match="not valid"):
        read_signup_token(b"another key entirely", "series", token, now=NOW, within=WITHIN)
    with pytest.raises(InvalidToken, match="not valid"):
        read_signup_token(KEY, "another-series", token, now=NOW, within=WITHIN)
    on_time = NOW + WITHIN
    assert read_signup_token(KEY, "series", token, now=on_time, within=WITHIN) == request
    with pytest.raises(InvalidToken, match="expired"):
        read_signup_token(
            KEY, "series", token, now=on_time + dt.timedelta(seconds=1), within=WITHIN
        )


def test_the_form_is_read_and_its_problems_named() -> None:
    def read(**form: str) -> object:
        return read_form(
            form, languages=["fr", "en"], public=["signups", "news"], consent="c", now=NOW
        )

    good = read(
        email=" Zoé@Example.ORG ",
        name="  Zoé \n García ",
        language="en",
        timezone="America/Lima",
        consent="1",
        **{"list-news": "1"},
    )
    assert good.request == SignupRequest(  # type: ignore[attr-defined]
        "Zoé@example.org", "Zoé García", "en", "America/Lima", ("news",), "c", NOW
    )
    bad = read(email="zoé", language="xx", timezone="Mars/Olympus")
    assert bad.request is None and set(bad.problems) == {"email", "lists", "consent"}  # type: ignore[attr-defined]
    odd = read(
        email="a@example.org",
        consent="1",
        language="xx",
        timezone="Mars/Olympus",
        **{"list-signups": "1", "list-secret": "1"},
    )
    assert odd.request.language == "fr" and odd.request.timezone is None  # type: ignore[attr-defined]
    assert odd.request.lists == ("signups",)  # type: ignore[attr-defined]
    assert read(email="a@example.org", consent="1", website="http://spam").bot  # type: ignore[attr-defined]
    assert consent_digest("v1", "text") != consent_digest("v2", "text")


def test_an_upload_s_plan_maps_columns_and_says_every_change_and_bad_row() -> None:
    assert guess_columns(["E-mail", "Prénom", "Nom de famille", "Langue"]) == (
        ("email", ("E-mail",)),
        ("language", ("Langue",)),
        ("name", ("Prénom", "Nom de famille")),
    )
    text = (
        "Email Address;First Name;Last Name;Language;Tags\n"
        "new@example.org;New;Person;es;press\n"
        "same@example.org;Same;One;fr;\n"
        "moved@example.org;Moved;One;en;\n"
        "broken;X;Y;fr;\n"
        "NEW@example.org;Again;;fr;\n"
    )
    existing = {
        "same@example.org": Known("Same One", "fr", None, frozenset()),
        "moved@example.org": Known("Moved One", "fr", None, frozenset()),
    }
    plan = plan_upload(text, "up.csv", languages=["fr", "en", "es"], existing=existing)
    assert [(c.line, c.recipient.email, c.kind, c.changed) for c in plan.changes] == [
        (2, "new@example.org", "added", ()),
        (3, "same@example.org", "unchanged", ()),
        (4, "moved@example.org", "updated", ("language",)),
    ]
    assert plan.changes[0].recipient.tags == frozenset({"press"})
    assert [p.line for p in plan.problems] == [5, 6] and plan.skipped == 2
    again = plan_upload(text, "up.csv", languages=["fr", "en", "es"], existing=existing)
    assert again.digest == plan.digest
    changed = dict(existing, **{"moved@example.org": Known("Moved One", "en", None, frozenset())})
    assert (
        plan_upload(text, "up.csv", languages=["fr", "en", "es"], existing=changed).digest
        != plan.digest
    )
    empty = plan_upload("", "up.csv", languages=["fr"], existing={})
    assert empty.changes == () and empty.problems[0].line == 1


def test_signup_problems_are_said_at_their_keys(config_path: Path) -> None:
    edit(config_path, 'consent_version = "2026-12"\n', "")
    edit(config_path, 'confirm_within = "P2D"', 'confirm_within = "P90D"')
    edit(config_path, "per_client = 5", "per_client = 0")
    edit(config_path, "public = true", 'public = true\nfile = "x.csv"')
    found = problems_of(config_path)
    assert any("at 'signup.consent_version': this key is required" in p for p in found)
    assert any("at 'signup.confirm_within': a confirmation link lives between" in p for p in found)
    assert any("at 'signup.per_client': must be at least 1" in p for p in found)
    assert any("at 'lists.signups.file': a list kept in the state has no file" in p for p in found)


def test_a_public_list_must_be_kept_and_the_page_needs_one(config_path: Path) -> None:
    edit(config_path, 'source = "signups"\npublic = true\n', 'source = "signups"\n')
    edit(
        config_path,
        '[lists.members]\nfile = "recipients/members.csv"',
        '[lists.members]\nfile = "recipients/members.csv"\npublic = true',
    )
    found = problems_of(config_path)
    assert any("at 'lists.members.public': only a list kept in the state" in p for p in found)
    assert any("at 'signup': the sign-up page needs a list to offer" in p for p in found)
