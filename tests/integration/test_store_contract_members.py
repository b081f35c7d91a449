"""The contract of the lists kept in the state, on both stores (a real SQLite file, a real
PostgreSQL database): people added, updated and removed; a sign-up's consent evidence; what
the preferences page changes; the limits on confirmation emails, under concurrency too; and
erasure, which leaves nothing of the person but a hash."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.audience.addresses import parse_address
from mailer.config.settings import SignupSettings
from mailer.store import people, web
from mailer.store.location import PostgresLocation
from mailer.store.members import (
    Consent,
    Entry,
    Preferences,
    confirm_signup,
    consent_of,
    keep_consent,
    may_send_confirmation,
    members,
    members_version,
    memberships,
    preferences_of,
    put_members,
    remove_member,
    set_preferences,
)
from mailer.store.sqlite import SqliteState
from mailer.store.state import State
from mailer.store.suppression import suppress, suppressed_keys, suppression_of
from tests.integration.test_store_contract import NOW

LIMITS = SignupSettings({"fr": "x"}, "v1", per_client=3, per_address=2, per_hour=5)
Opener = Callable[[], State]


@pytest.fixture(params=["sqlite", "postgres"])
def opener(request: pytest.FixtureRequest, tmp_path: Path) -> Opener:
    """New connections to one store: a real SQLite file, then a real PostgreSQL database."""
    if request.param == "sqlite":
        return lambda: SqliteState(tmp_path / "state" / "mailer.db")
    url = request.getfixturevalue("postgres_url")
    return lambda: PostgresLocation(url, "mailer_contract_members", tmp_path).open()


@pytest.fixture
def store(opener: Opener) -> Iterator[State]:
    with opener() as opened:
        yield opened


CONSENT = Consent("d" * 32, "2026-12", "es", "Acepto recibir las invitaciones.")


def entry(email: str, name: str = "", language: str = "fr") -> Entry:
    return Entry(parse_address(email), name, language, "Europe/Paris", frozenset({"press"}))


def test_people_of_a_kept_list_are_added_updated_and_removed(store: State) -> None:
    before = members_version(store)
    added = put_members(
        store,
        "signups",
        [entry("a@example.org", "A"), entry("b@example.org", "B")],
        origin="organiser",
        by="marie@x.org",
        now=NOW,
    )
    assert added == (2, 0) and members_version(store) != before
    later = NOW + dt.timedelta(hours=1)
    assert put_members(
        store,
        "signups",
        [entry("A@Example.org", "Anne", "es")],
        origin="upload",
        by="paul@x.org",
        now=later,
    ) == (0, 1)
    [anne, _b] = members(store, "signups")
    # an update changes what is given, and keeps how and when she was added
    assert (anne.name, anne.language, anne.origin, anne.added_by) == (
        "Anne",
        "es",
        "organiser",
        "marie@x.org",
    )
    assert (anne.added_at, anne.updated_at) == (NOW, later)
    assert anne.tags == frozenset({"press"}) and anne.timezone == "Europe/Paris"
    assert list(members(store, "other")) == []
    assert remove_member(store, "signups", "b@example.org")
    assert not remove_member(store, "signups", "b@example.org")
    assert [m.key for m in members(store, "signups")] == ["a@example.org"]


def test_a_confirmed_sign_up_keeps_its_evidence_and_lifts_only_her_own_unsubscribing(
    store: State,
) -> None:
    keep_consent(store, CONSENT, NOW)
    keep_consent(store, CONSENT, NOW + dt.timedelta(days=1))  # kept once, first use stays
    assert consent_of(store, CONSENT.digest) == CONSENT
    gone, blocked = parse_address("gone@example.org"), parse_address("blocked@example.org")
    suppress(store, gone, "unsubscribed", "page", NOW)
    suppress(store, blocked, "manual", "phone", NOW)
    asked, confirmed = NOW - dt.timedelta(hours=2), NOW
    for who in (gone, blocked):
        assert confirm_signup(
            store,
            ["signups", "news"],
            Entry(who, "Z", "es"),
            CONSENT.digest,
            asked_at=asked,
            client="203.0.113.7",
            now=confirmed,
        )
    assert suppression_of(store, gone.key) is None  # she confirmed herself
    assert suppression_of(store, blocked.key) is not None  # an organiser's stays
    [news, signups] = memberships(store, gone.key)
    assert (news.list_name, signups.list_name) == ("news", "signups")
    assert signups.consent == CONSENT and signups.origin == "signup"
    assert (signups.asked_at, signups.confirmed_at, signups.client) == (
        asked,
        confirmed,
        "203.0.113.7",
    )
    put_members(
        store,
        "signups",
        [Entry(gone, "Z", "es", None, frozenset({"board"}))],
        origin="organiser",
        by="marie@x.org",
        now=NOW,
    )
    # confirming again: not new, the newer evidence, the organiser's tags kept
    again = NOW + dt.timedelta(days=3)
    assert not confirm_signup(
        store,
        ["signups"],
        Entry(gone, "Z", "es"),
        CONSENT.digest,
        asked_at=again,
        client="198.51.100.1",
        now=again,
    )
    assert [m.client for m in memberships(store, gone.key)] == ["203.0.113.7", "198.51.100.1"]
    assert memberships(store, gone.key)[1].tags == frozenset({"board"})


def test_preferences_change_her_rows_and_are_read_back(store: State) -> None:
    put_members(
        store, "signups", [entry("a@example.org", "A")], origin="organiser", by="m", now=NOW
    )
    assert preferences_of(store, "a@example.org") is None
    set_preferences(store, "a@example.org", Preferences("Anne", "en", None), NOW)
    set_preferences(store, "a@example.org", Preferences("Anne B", "es", "America/Lima"), NOW)
    assert preferences_of(store, "a@example.org") == Preferences("Anne B", "es", "America/Lima")
    [row] = members(store, "signups")
    assert (row.name, row.language, row.timezone) == ("Anne B", "es", "America/Lima")


def test_the_limits_on_confirmation_emails_hold_under_concurrent_posts(
    store: State, opener: Opener
) -> None:
    """Eight processes' worth of connections post at once for one address from one client:
    exactly the limit goes."""
    results: list[bool] = []
    lock = threading.Lock()

    def post() -> None:
        with opener() as own:
            allowed = may_send_confirmation(own, "192.0.2.1", "x@example.org", LIMITS, NOW)
        with lock:
            results.append(allowed)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False] * 6 + [True] * LIMITS.per_address


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    posts=st.lists(
        st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 180)), max_size=40
    )
)
def test_whatever_the_posts_no_limit_is_ever_exceeded(
    store: State, posts: list[tuple[int, int, int]]
) -> None:
    with store.transaction() as connection:
        connection.execute("DELETE FROM signup_attempts")
    sent: list[tuple[int, int, dt.datetime]] = []
    for client, address, minute in sorted(posts, key=lambda p: p[2]):
        at = NOW + dt.timedelta(minutes=minute)
        if may_send_confirmation(store, f"c{client}", f"a{address}@x.org", LIMITS, at):
            sent.append((client, address, at))
    for _, _, at in sent:
        hour = [s for s in sent if at - dt.timedelta(hours=1) <= s[2] <= at]
        assert len(hour) <= LIMITS.per_hour
        for client in range(4):
            assert sum(1 for s in hour if s[0] == client) <= LIMITS.per_client
    for address in range(4):
        assert sum(1 for s in sent if s[1] == address) <= LIMITS.per_address


def test_erasing_a_person_forgets_her_lists_evidence_preferences_and_audit_address(
    store: State,
) -> None:
    keep_consent(store, CONSENT, NOW)
    zoe = parse_address("zoe@example.org")
    confirm_signup(
        store,
        ["signups"],
        Entry(zoe, "Zoé", "es"),
        CONSENT.digest,
        asked_at=NOW,
        client="192.0.2.9",
        now=NOW,
    )
    set_preferences(store, zoe.key, Preferences("Zoé G", None, None), NOW)
    may_send_confirmation(store, "192.0.2.9", zoe.key, LIMITS, NOW)
    web.audit(store, "marie@x.org", "list add", subject=f"signups: {zoe.key}", detail="", now=NOW)
    people.erase(store, zoe.key, NOW)
    assert memberships(store, zoe.key) == [] and preferences_of(store, zoe.key) is None
    assert zoe.key in suppressed_keys(store)  # as a hash: no list mails her again
    [entry_] = web.audit_log(store)
    assert entry_.subject == "signups: (erased)"
    texts = [
        str(row)
        for table in ("members", "preferences", "suppressions", "audit")
        for row in store.connection.execute(f"SELECT * FROM {table}").fetchall()
    ]
    assert not any("zoe@example.org" in text for text in texts)
    assert consent_of(store, CONSENT.digest) == CONSENT  # the text is no one's data
