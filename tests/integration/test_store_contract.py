"""One contract, two stores: every behaviour the SQLite state promises, the PostgreSQL state
keeps. Each test runs against a real SQLite file and a real PostgreSQL database (a cluster the
tests start: tests/support/postgres.py).

The ledger (planning, claiming under a lease, recording only what one still owns, recovery,
retries, caps, statuses whose reasons add up), the suppression list, calendar revisions, the
mailbox's findings, notices, the organisers' logins and audit log, a person's history, erasure
and retention.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailer.audience.addresses import parse_address
from mailer.audience.attendance import Participant
from mailer.calendar.replies import CalendarReply
from mailer.calendar.revisions import Fingerprint
from mailer.errors import NotLeader
from mailer.model import Recipient
from mailer.store import answers, inbox, leases, notices, people, suppression, web
from mailer.store.inbox import Bounce
from mailer.store.ledger import Ledger, Outcome, SendKey
from mailer.store.location import PostgresLocation
from mailer.store.revisions import current_revision
from mailer.store.sqlite import SqliteState
from mailer.store.state import State

SERIES = "icom-france-solidarites-musees"
KEY = SendKey(SERIES, dt.date(2021, 4, 20), "invitation")
NOW = dt.datetime(2021, 4, 6, 7, tzinfo=dt.UTC)
DEADLINE = dt.datetime(2021, 4, 20, 11, tzinfo=dt.UTC)


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[State]:
    if request.param == "sqlite":
        opened: State = SqliteState(tmp_path / "state" / "mailer.db")
    else:
        url = request.getfixturevalue("postgres_url")
        opened = PostgresLocation(url, "mailer_contract", tmp_path).open()
    with opened:
        yield opened


def people_named(count: int, start: int = 0) -> list[Recipient]:
    return [
        Recipient(
            email=f"person.{n}@museum.example.org",
            key=f"person.{n}@museum.example.org",
            language=("fr", "en", "es")[n % 3],
            name=f"Personne {n} « Élève »",
            tags=frozenset({"member"}),
            fields={"organisation": f"Musée {n}"},
        )
        for n in range(start, start + count)
    ]


def plan(store: State, count: int, key: SendKey = KEY, *, sequence: int = 0) -> int:
    return Ledger(store).plan(
        key,
        key.message.partition(":")[0],
        segments=["everyone"],
        deadline=DEADLINE,
        recipients=people_named(count),
        now=NOW,
        sequence=sequence,
        content="digest",
    )


# -- the ledger ----------------------------------------------------------------------------------


def test_planning_is_idempotent_and_keeps_each_person_as_planned(store: State) -> None:
    assert plan(store, 5) == 5
    assert plan(store, 7) == 2  # two more; the five keep their rows
    ledger = Ledger(store)
    assert ledger.counts(KEY) == {"pending": 7}
    assert ledger.recipients(KEY) == {p.key for p in people_named(7)}
    claimed = ledger.claim(KEY, 10, NOW, 5)
    assert claimed is not None
    first = claimed[0].recipient
    assert (first.name, first.fields, first.tags) == (
        "Personne 0 « Élève »",
        {"organisation": "Musée 0"},
        frozenset({"member"}),
    )
    assert ledger.deadline(KEY) == DEADLINE


def test_a_claim_takes_each_row_once_and_records_need_its_owner(store: State) -> None:
    plan(store, 10)
    one, two = Ledger(store, owner="one"), Ledger(store, owner="two")
    first = one.claim(KEY, 4, NOW, 5)
    second = two.claim(KEY, 4, NOW, 5)
    assert first is not None and second is not None
    assert {c.id for c in first}.isdisjoint(c.id for c in second)
    assert [c.attempts for c in first] == [1] * 4
    # two cannot record one's rows; one can
    assert two.record([Outcome(first[0].id, "sent", "<a@x>")], NOW) == 0
    assert one.record([Outcome(c.id, "sent", f"<{c.id}@x>") for c in first], NOW) == 4
    assert one.counts(KEY) == {"sent": 4, "sending": 4, "pending": 2}
    assert two.renew() == 4 and one.renew() == 0


def test_a_big_batch_is_recorded_whole_with_each_outcome_its_own(store: State) -> None:
    plan(store, 450)  # more than one statement's worth of outcomes
    ledger = Ledger(store, owner="one")
    claimed = ledger.claim(KEY, 450, NOW, 5)
    assert claimed is not None and len(claimed) == 450
    later = NOW + dt.timedelta(minutes=5)
    outcomes = [
        Outcome(c.id, "sent", f"<{c.id}@x>", reason="250 ok")
        if c.id % 3
        else Outcome(c.id, "retry", code=451, reason="try later", next_attempt=later)
        for c in claimed
    ]
    assert ledger.record(outcomes, NOW) == 450
    assert ledger.counts(KEY) == {"sent": 300, "retry": 150}
    row = store.connection.execute(
        "SELECT state, code, reason, next_attempt, message_id, owner FROM deliveries WHERE id = ?",
        (next(c.id for c in claimed if c.id % 3 == 0),),
    ).fetchone()
    assert (row[0], row[1], row[2], row[5]) == ("retry", 451, "try later", None)
    assert row[3] is not None and row[4] is None


def test_rows_whose_lease_ran_out_are_unknown_to_the_next_claim(store: State) -> None:
    plan(store, 3)
    gone = Ledger(store, owner="gone", lease=0.5)
    taken = gone.claim(KEY, 3, NOW, 5)
    assert taken is not None and len(taken) == 3
    gone.record([Outcome(taken[0].id, "sent", "<kept@x>")], NOW)
    after = Ledger(store, owner="after")
    assert after.claim(KEY, 3, NOW, 5) == []  # the lease holds: nothing to take
    time.sleep(0.7)
    again = after.claim(KEY, 3, NOW, 5)
    assert again is not None and sorted(c.id for c in again) == sorted(c.id for c in taken[1:])
    assert [c.attempts for c in again] == [2, 2]
    # the sender that lost them cannot record them any more
    assert gone.record([Outcome(c.id, "sent", "<late@x>") for c in taken[1:]], NOW) == 0
    assert after.counts(KEY) == {"sent": 1, "sending": 2}


def test_recovery_at_start_and_resends_keep_their_message_id(store: State) -> None:
    plan(store, 2)
    dead = Ledger(store, owner="dead", lease=0.2)
    taken = dead.claim(KEY, 2, NOW, 5)
    assert taken is not None
    dead.record([Outcome(taken[0].id, "unknown", "<twin@x>", reason="connection lost")], NOW)
    time.sleep(0.3)
    ledger = Ledger(store)
    assert ledger.recover(KEY, NOW, 5) == 1
    again = ledger.claim(KEY, 2, NOW, 5)
    assert again is not None
    assert {c.message_id for c in again} == {"<twin@x>", None}


def test_retries_wait_their_time_and_failures_end_after_every_attempt(store: State) -> None:
    plan(store, 2)
    ledger = Ledger(store)
    taken = ledger.claim(KEY, 2, NOW, 2)
    assert taken is not None
    later = NOW + dt.timedelta(minutes=5)
    ledger.record(
        [
            Outcome(taken[0].id, "retry", code=451, reason="try later", next_attempt=later),
            Outcome(taken[1].id, "failed", code=550, reason="no such user", cause="recipient"),
        ],
        NOW,
    )
    assert ledger.to_retry(KEY, 2) == 1 and ledger.next_retry(KEY, 2) == later
    assert ledger.claim(KEY, 2, NOW, 2) == []
    retried = ledger.claim(KEY, 2, later, 2)
    assert retried is not None and [c.attempts for c in retried] == [2]
    ledger.record([Outcome(retried[0].id, "retry", code=451, reason="again")], later)
    assert ledger.claim(KEY, 2, later + dt.timedelta(hours=1), 2) == []  # no attempt left
    (status,) = ledger.status(SERIES)
    assert status.counts == {"retry": 1, "failed": 1}
    assert sorted(status.errors) == [("failed", "550 no such user", 1), ("retry", "451 again", 1)]
    assert ledger.failed_not_theirs(KEY) == 0


def test_put_back_and_reopened_rows_go_again(store: State) -> None:
    plan(store, 3)
    ledger = Ledger(store)
    taken = ledger.claim(KEY, 3, NOW, 5)
    assert taken is not None
    ledger.record(
        [
            Outcome(taken[0].id, "pending"),  # put back: its attempt is not counted
            Outcome(taken[1].id, "failed", reason="relay said 554", cause="relay"),
            Outcome(taken[2].id, "skipped", reason="too late: the deadline passed"),
        ],
        NOW,
    )
    assert ledger.failed_not_theirs(KEY) == 1 and ledger.too_late_early(KEY, NOW) == 1
    assert ledger.reopen_failed(KEY, ("relay",), NOW) == 1
    assert ledger.reopen_too_late(KEY, NOW) == 1
    again = ledger.claim(KEY, 3, NOW, 5)
    # a reopened failure starts its attempts again; a row skipped too early keeps its count
    assert again is not None and [c.attempts for c in again] == [1, 1, 2]
    assert ledger.skip_remaining(KEY, "too late", NOW) == 3
    assert ledger.complete(KEY)


def test_caps_count_every_send_of_the_state(store: State) -> None:
    other = SendKey(SERIES, dt.date(2021, 4, 20), "reminder:P1D")
    plan(store, 4)
    plan(store, 4, other)
    ledger = Ledger(store)
    caps = [(5, dt.timedelta(hours=1))]
    first = ledger.claim(KEY, 4, NOW, 5, caps)
    assert first is not None and len(first) == 4
    ledger.record([Outcome(c.id, "sent", "<x>") for c in first], NOW)
    second = ledger.claim(other, 4, NOW, 5, caps)
    assert second is not None and len(second) == 1
    assert ledger.claim(other, 4, NOW, 5, caps) is None  # the cap is reached


def test_what_was_sent_about_a_session(store: State) -> None:
    plan(store, 3)
    update = SendKey(SERIES, KEY.session, "update:1:abcdef")
    ledger = Ledger(store)
    assert ledger.notified_sequence(SERIES, KEY.session) is None
    taken = ledger.claim(KEY, 3, NOW, 5)
    assert taken is not None
    ledger.record([Outcome(c.id, "sent", f"<{c.id}@x>") for c in taken[:2]], NOW)
    served = ledger.served(SERIES, KEY.session, "")
    assert [r.key for r in served] == [p.key for p in people_named(2)]
    assert ledger.language_of(people_named(1)[0].key) == "fr"
    assert ledger.notified_sequence(SERIES, KEY.session) == 0
    assert ledger.notified_content(SERIES, KEY.session) == "digest"
    plan(store, 3, update, sequence=1)
    assert ledger.unfinished_update(SERIES, KEY.session) == update.message
    taken = ledger.claim(update, 1, NOW, 5)
    assert taken is not None
    ledger.record([Outcome(taken[0].id, "sent", "<u@x>")], NOW)
    assert ledger.notified_sequence(SERIES, KEY.session) == 1
    ledger.skip_remaining(update, "too late", NOW)
    assert ledger.unfinished_update(SERIES, KEY.session) is None
    assert not ledger.sent_before_keyed(SERIES, KEY.session)
    assert ledger.totals() == {"sent": 3, "sending": 1, "skipped": 2}


# -- the suppression list ------------------------------------------------------------------------


def test_suppressions_their_scope_and_who_may_lift_them(store: State) -> None:
    ana = parse_address("ana@example.org")
    bob = parse_address("Bob@Example.org")
    assert suppression.suppress(store, ana, "bounced", "550 no such user", NOW)
    assert not suppression.suppress(store, ana, "manual", "again", NOW)
    assert suppression.choose(store, bob, "reminders", NOW)
    assert "bob@example.org" not in suppression.suppressed_keys(store, "invitation")
    assert "bob@example.org" in suppression.suppressed_keys(store, "reminder")
    version = suppression.suppression_version(store)
    assert version[:2] == (2, 1)
    assert suppression.choose(store, ana, "resubscribe", NOW)  # her own bounce, lifted
    assert next(key for key, _, _ in notices.waiting_notices(store)).startswith("lifted:")
    many = [(parse_address(f"x{n}@example.org"), "imported", NOW) for n in range(3)]
    assert suppression.suppress_many(store, many, "unsubscribed") == 3
    assert suppression.suppress_many(store, many, "unsubscribed") == 0
    assert suppression.suppression_count(store) == 4
    assert suppression.unsuppress(store, "x0@example.org")
    found = suppression.suppression_of(store, "bob@example.org")
    assert found is not None and (found.kind, found.scope) == ("unsubscribed", "reminders")
    assert {s.key for s in suppression.suppressions(store)} == {
        "bob@example.org",
        "x1@example.org",
        "x2@example.org",
    }


# -- calendar revisions ----------------------------------------------------------------------------


def test_a_revision_rises_only_for_what_calendars_must_hear_of(store: State) -> None:
    first = current_revision(store, SERIES, Fingerprint("2021-04-20", "a", "text"), NOW)
    same = current_revision(store, SERIES, Fingerprint("2021-04-20", "a", "text"), NOW)
    later = NOW + dt.timedelta(hours=1)
    reworded = current_revision(store, SERIES, Fingerprint("2021-04-20", "a", "new"), later)
    moved = current_revision(store, SERIES, Fingerprint("2021-04-20", "b", "new", 1), later)
    assert first == same and first.sequence == 0
    assert (reworded.sequence, reworded.stamp) == (0, later)
    assert moved.sequence == 1


# -- the mailbox's findings ------------------------------------------------------------------------


def test_bounces_replies_and_unsubscribes_are_recorded_once(store: State) -> None:
    plan(store, 1)
    ledger = Ledger(store)
    (taken,) = ledger.claim(KEY, 1, NOW, 5) or []
    ledger.record([Outcome(taken.id, "sent", "<sent@x>")], NOW)
    address = parse_address(taken.recipient.email)
    soft = Bounce(address, False, "4.2.2", "mailbox full", "<sent@x>")
    for n in range(3):
        suppressed = inbox.record_bounces(
            store, f"bounce-{n}", [soft], NOW, soft_limit=3, window=dt.timedelta(days=7)
        )
    assert suppressed == []  # three bounces of one email are one
    assert inbox.outcome_of(store, "bounce-2") == "bounce"
    sent = inbox.sent_as(store, "<sent@x>")
    assert sent is not None and sent.key == address.key
    assert inbox.was_sent(store, SERIES, KEY.session, address.key)
    reply = CalendarReply(SERIES, KEY.session, address.email, "accepted", 0, NOW)
    inbox.record_reply(store, "reply-1", reply, address, NOW)
    older = CalendarReply(SERIES, KEY.session, address.email, "declined", -1, NOW)
    inbox.record_reply(store, "reply-2", older, address, NOW)
    when = NOW.isoformat(timespec="microseconds")
    said = answers.answers(store, SERIES, KEY.session)
    assert [(r.address, r.said, r.source, r.at) for r in said] == [
        (address.email, "yes", "calendar", when)
    ]
    assert answers.headcount(store, SERIES, [KEY.session])[KEY.session]["yes"] == 1
    assert inbox.record_unsubscribe(store, "unsub-1", address, NOW)
    inbox.record_for_a_person(store, "human-1", "a reply from a person", NOW)
    facts = inbox.mailbox_facts(store, address.key)
    assert len(facts["bounces"]) == 3 and facts["answers"][0]["answer"] == "yes"


def _answer(store: State, n: int, answer: str, *, sequence: int = 1, capacity: int = 2) -> object:
    person = people_named(1, n)[0]
    with store.transaction() as connection:
        return answers.record_answer(
            connection,
            series=SERIES,
            session=KEY.session,
            key=person.key,
            address=person.email,
            answer=answer,  # type: ignore[arg-type]
            sequence=sequence,
            source="link",
            now=NOW + dt.timedelta(minutes=n),
            capacity=capacity,
        )


def test_answers_the_later_wins_and_a_full_session_keeps_a_waiting_list(store: State) -> None:
    plan(store, 6)
    ledger = Ledger(store)
    taken = ledger.claim(KEY, 6, NOW, 5) or []
    ledger.record([Outcome(t.id, "sent", f"<{t.id}@x>") for t in taken], NOW)
    assert not _answer(store, 0, "accepted").waiting  # type: ignore[attr-defined]
    assert not _answer(store, 1, "accepted").waiting  # type: ignore[attr-defined]
    assert _answer(store, 2, "accepted").waiting  # type: ignore[attr-defined]
    assert _answer(store, 3, "accepted").waiting  # type: ignore[attr-defined]
    _answer(store, 4, "declined")
    assert _answer(store, 3, "declined", sequence=0).answer == "accepted"  # type: ignore[attr-defined]
    count = answers.headcount(store, SERIES, [KEY.session])[KEY.session]
    assert count == {"yes": 2, "waiting": 2, "no": 1, "none": 1}
    freed = _answer(store, 0, "tentative")  # a place goes to the first who waited
    assert freed.promoted == ("person.2@museum.example.org",)  # type: ignore[attr-defined]
    facts = answers.session_facts(store, SERIES, KEY.session)
    assert [facts.said(p.key) for p in people_named(6)] == [
        "maybe",
        "yes",
        "place",
        "waiting",
        "no",
        "none",
    ]  # fmt: skip  (given the place person 0 left)
    assert facts.promoted == frozenset({"person.2@museum.example.org"})
    assert facts.attended is None
    rows = answers.answers(store, SERIES, KEY.session)
    assert [r.said for r in rows] == ["yes", "yes", "waiting", "maybe", "no"]
    assert rows[0].name == "Personne 1 « Élève »"  # the name they were emailed with
    assert [r.address for r in answers.unanswered(store, SERIES, KEY.session)] == [
        "person.5@museum.example.org"
    ]


def test_attendance_is_replaced_by_a_new_report_and_forgotten_with_the_person(
    store: State,
) -> None:
    came = [
        Participant(p.email, p.key, p.name, 80, "04/20/2021 12:58", "04/20/2021 14:30")
        for p in people_named(3)
    ]
    assert answers.record_attendance(store, SERIES, KEY.session, came, NOW) == 3
    assert answers.record_attendance(store, SERIES, KEY.session, came[:2], NOW) == 2
    facts = answers.session_facts(store, SERIES, KEY.session)
    assert facts.attended == frozenset({came[0].key, came[1].key})
    assert answers.attendance_of(store, came[0].key) == [{"session": "2021-04-20", "minutes": 80}]
    _answer(store, 0, "accepted")
    people.erase(store, came[0].key, NOW)
    assert answers.attendance_of(store, came[0].key) == []
    assert answers.answers(store, SERIES, KEY.session) == []
    people.prune(store, SERIES, dt.date(2021, 5, 1))
    assert answers.session_facts(store, SERIES, KEY.session).attended == frozenset()


# -- notices, logins, audit ------------------------------------------------------------------------


def test_notices_are_sent_once(store: State) -> None:
    with store.transaction() as connection:
        notices.queue_notice_in(connection, "lifted:x", "lifted", {"address": "a@b.c"}, NOW)
    assert notices.unsent(store, ["lifted:x", "other"]) == {"lifted:x", "other"}
    notices.mark_sent(store, "lifted:x", "<n@x>", NOW)
    assert notices.unsent(store, ["lifted:x"]) == set()
    assert notices.waiting_notices(store) == []


def test_login_sessions_and_the_audit_log(store: State) -> None:
    session = web.LoginSession("org@example.org", "acct", "csrf", NOW + dt.timedelta(hours=8))
    web.open_session(store, "cookie", session, NOW)
    assert web.find_session(store, "cookie", NOW) == session
    assert web.find_session(store, "cookie", NOW + dt.timedelta(hours=9)) is None
    web.close_session(store, "cookie")
    assert web.find_session(store, "cookie", NOW) is None
    for n in range(3):
        web.audit(store, "org@example.org", "saved", subject="2021-04-20", detail=f"{n}", now=NOW)
    web.audit(store, "org@example.org", "sent", subject="2021-05-18", detail="x", now=NOW)
    assert [e.detail for e in web.audit_log(store, 2, subject="2021-04-20")] == ["2", "1"]


# -- a person -------------------------------------------------------------------------------------


def test_a_person_s_history_erasure_and_retention(store: State) -> None:
    plan(store, 2)
    old = SendKey(SERIES, dt.date(2020, 11, 17), "invitation")
    plan(store, 2, old)
    key = people_named(1)[0].key
    assert [d.session for d in people.deliveries_of(store, key)] == [KEY.session, old.session]
    assert people.prune(store, SERIES, dt.date(2021, 1, 1)) == 2
    erased = people.erase(store, key, NOW)
    assert erased.deliveries == 1
    assert people.deliveries_of(store, key) == []
    assert suppression.erased_key(key) in suppression.suppressed_keys(store)


def test_one_leader_at_a_time_and_a_leader_s_writes_fenced_by_its_epoch(store: State) -> None:
    first = leases.hold(store, leases.LEADER, "daemon-a", 0.6)
    assert first is not None
    assert leases.hold(store, leases.LEADER, "daemon-b", 0.6) is None  # a lease still runs
    renewed = leases.hold(store, leases.LEADER, "daemon-a", 0.6)
    assert renewed == first  # a renewal keeps the epoch
    store.fence = first
    with store.transaction(exclusive=False) as connection:  # the leader writes
        connection.execute(
            "INSERT INTO notices (key, subject, created_at) VALUES ('by-a-1', 's', 'now')"
        )
    store.fence = None
    time.sleep(0.8)  # daemon-a stops renewing: another takes over once its lease ran out
    second = leases.hold(store, leases.LEADER, "daemon-b", 0.6)
    assert second is not None
    assert second.epoch == first.epoch + 1
    assert leases.holder_of(store, leases.LEADER)[:2] == ("daemon-b", second.epoch)
    assert leases.hold(store, leases.LEADER, "daemon-a", 0.6) is None
    store.fence = first  # the old leader wakes up and writes: refused, nothing lands
    with pytest.raises(NotLeader), store.transaction(exclusive=False) as connection:
        connection.execute(
            "INSERT INTO notices (key, subject, created_at) VALUES ('by-a-2', 's', 'now')"
        )
    store.fence = None
    keys = [row[0] for row in store.connection.execute("SELECT key FROM notices ORDER BY key")]
    assert keys == ["by-a-1"]
    leases.release(store, second)  # a clean stop: the next takes over at once
    third = leases.hold(store, leases.LEADER, "daemon-a", 0.6)
    assert third is not None
    assert third.epoch == second.epoch + 1
    # the daemon lock says nobody else runs (SQLite): it takes the lease whoever has it
    assert leases.hold(store, leases.LEADER, "daemon-c", 0.6, steal=True) is not None


def test_a_relay_s_rate_and_slow_downs_are_shared_by_every_sender(store: State) -> None:
    from mailer.store import relays

    assert relays.reserve(store, "relay:25", 10, 100.0) == pytest.approx(0.0, abs=0.05)
    # the next sender's 10 wait for the first's (0.1 s at 100/s), whoever it is
    assert relays.reserve(store, "relay:25", 10, 100.0) == pytest.approx(0.1, abs=0.05)
    assert relays.reserve(store, "other:25", 10, 100.0) == pytest.approx(0.0, abs=0.05)
    relays.slow_down(store, "relay:25", 0.5, 1.0)  # a 421 to one of them: all pause, slower
    assert relays.reserve(store, "relay:25", 10, 100.0) == pytest.approx(1.0, abs=0.1)
    assert relays.reserve(store, "relay:25", 10, 100.0) == pytest.approx(1.2, abs=0.1)


def test_a_session_file_saved_on_two_hosts_at_once_loses_neither_edit(store: State) -> None:
    from mailer.store.session_files import digest_of, publish, saved_files

    assert publish(store, "2021-04-20.toml", "v1", NOW, "host-a", over=None) == 1
    # both hosts edited v1; host A publishes first, host B's edit no longer applies over it
    assert publish(store, "2021-04-20.toml", "a", NOW, "host-a", over=digest_of("v1")) == 2
    assert publish(store, "2021-04-20.toml", "b", NOW, "host-b", over=digest_of("v1")) is None
    saved = saved_files(store)["2021-04-20.toml"]
    assert (saved.text, saved.version, saved.saved_by) == ("a", 2, "host-a")
    assert publish(store, "2021-04-20.toml", "a", NOW, "host-b", over=None) == 2  # the same
    assert publish(store, "2021-04-20.toml", "editor", NOW, "host-b") == 3  # a save wins


def test_a_finished_send_s_counts_are_kept_until_its_rows_change(store: State) -> None:
    def kept() -> str | None:
        value = store.connection.execute("SELECT settled FROM sends").fetchone()[0]
        return None if value is None else str(value)

    plan(store, 4)
    ledger = Ledger(store, owner="one")
    claimed = ledger.claim(KEY, 4, NOW, 5) or []
    ledger.record([Outcome(c.id, "sent", f"<{c.id}@x>") for c in claimed[:3]], NOW)
    ledger.record([Outcome(claimed[3].id, "failed", reason="relay", cause="relay")], NOW)
    assert [s.counts for s in ledger.status(SERIES)] == [{"sent": 3, "failed": 1}]
    assert kept() is not None  # nothing left to send: kept, and read from then on
    store.connection.execute("UPDATE sends SET settled = ?", (str(kept()).replace("3", "7"),))
    assert [s.counts for s in ledger.status(SERIES)] == [{"sent": 7, "failed": 1}]
    # each change of its rows forgets them: reopened, planned again, erased, pruned
    assert ledger.reopen_failed(KEY, ["relay"], NOW) == 1 and kept() is None
    assert [s.counts for s in ledger.status(SERIES)] == [{"sent": 3, "pending": 1}]
    assert kept() is None  # one left to send: counted each time
    claimed = ledger.claim(KEY, 4, NOW, 5) or []
    ledger.record([Outcome(claimed[0].id, "sent", "<x@x>")], NOW)
    ledger.status(SERIES)
    assert kept() is not None and plan(store, 5) == 1 and kept() is None
    ledger.status(SERIES)  # one pending again: not kept
    assert kept() is None
    ledger.skip_remaining(KEY, "too late", NOW)
    ledger.status(SERIES)
    assert kept() is not None
    people.erase(store, "person.0@museum.example.org", NOW)
    assert kept() is None
    assert [s.counts for s in ledger.status(SERIES)] == [{"sent": 3, "skipped": 1}]
    assert kept() is not None
    people.prune(store, SERIES, dt.date(2022, 1, 1))
    assert kept() is None and ledger.status(SERIES)[0].counts == {}


EXAMPLES = itertools.count()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.integers(0, 7), st.sampled_from(["accepted", "tentative", "declined"])),
        max_size=30,
    ),
    st.integers(1, 4),
)
def test_whatever_the_answers_a_session_never_has_more_yeses_than_places_nor_idle_waiters(
    store: State, answers_given: list[tuple[int, str]], places: int
) -> None:
    day = dt.date(2030, 1, 1) + dt.timedelta(days=next(EXAMPLES))  # each its own session
    arrived: list[str] = []  # who said yes, in order, among those still saying yes
    for minute, (n, answer) in enumerate(answers_given):
        person = f"p{n}@example.org"
        with store.transaction() as connection:
            answers.record_answer(
                connection, series=SERIES, session=day, key=person, address=person,
                answer=answer, sequence=0, source="link",  # type: ignore[arg-type]
                now=NOW + dt.timedelta(minutes=minute), capacity=places,
            )  # fmt: skip
        if answer == "accepted" and person not in arrived:
            arrived.append(person)
        elif answer != "accepted" and person in arrived:
            arrived.remove(person)
        facts = answers.session_facts(store, SERIES, day)
        coming = {k for k, a in facts.answers.items() if a == "accepted"} - facts.waiting
        assert coming == set(arrived[:places])  # first come, first served, in turn
        assert facts.waiting == set(arrived[places:])
