"""Lists kept in the state (`[lists.NAME] source = "signups"`): their people, the evidence of
each sign-up's consent, what people changed on their preferences page, and the sign-up
attempts that bound the confirmation emails.

A person confirmed by her own link is a row of `members` with the consent she agreed to (the
text itself, kept once in `consents`), when she asked, when she confirmed and from where. An
organiser's addition says who added her. Erasing a person (`mailer.store.people.erase`)
deletes all of it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mailer.audience.addresses import Address
from mailer.config.settings import SignupSettings
from mailer.store.state import Connection, State
from mailer.store.suppression import erased_key

Origin = Literal["signup", "organiser", "upload"]
ATTEMPTS_KEPT = dt.timedelta(days=1)  # the longest limit's window


@dataclass(frozen=True)
class Member:
    """One person of a kept list, with how she came to be on it."""

    list_name: str
    key: str
    email: str
    name: str
    language: str
    timezone: str | None
    tags: frozenset[str]
    origin: Origin
    added_by: str  # the organiser who added her ("" for a sign-up)
    added_at: dt.datetime
    updated_at: dt.datetime
    consent: Consent | None = None  # a sign-up's evidence
    asked_at: dt.datetime | None = None
    confirmed_at: dt.datetime | None = None
    client: str | None = None  # the address her confirmation came from


@dataclass(frozen=True)
class Consent:
    digest: str
    version: str
    language: str
    text: str


@dataclass(frozen=True)
class Preferences:
    """What a person changed on her preferences page (None: what her list says)."""

    name: str | None = None
    language: str | None = None
    timezone: str | None = None


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _time(text: str | None) -> dt.datetime | None:
    return dt.datetime.fromisoformat(text) if text else None


_COLUMNS = (
    "m.list, m.key, m.address, m.name, m.language, m.timezone, m.tags, m.origin, m.added_by, "
    "m.added_at, m.updated_at, c.digest, c.version, c.language AS consent_language, c.text, "
    "m.asked_at, m.confirmed_at, m.client"
)
_FROM = "FROM members m LEFT JOIN consents c ON c.digest = m.consent"


def _member(row: Any) -> Member:
    consent = None
    if row["digest"] is not None:
        consent = Consent(row["digest"], row["version"], row["consent_language"], row["text"])
    return Member(
        row["list"],
        row["key"],
        row["address"],
        row["name"],
        row["language"],
        row["timezone"],
        frozenset(tag for tag in row["tags"].split(";") if tag),
        row["origin"],
        row["added_by"],
        dt.datetime.fromisoformat(row["added_at"]),
        dt.datetime.fromisoformat(row["updated_at"]),
        consent,
        _time(row["asked_at"]),
        _time(row["confirmed_at"]),
        row["client"],
    )


def members(state: State, list_name: str) -> Iterator[Member]:
    """The people of a kept list, in the order they joined."""
    rows = state.connection.execute(
        f"SELECT {_COLUMNS} {_FROM} WHERE m.list = ? ORDER BY m.added_at, m.key", (list_name,)
    )
    return (_member(row) for row in rows.fetchall())


def memberships(state: State, key: str) -> list[Member]:
    """Every kept list the person `key` is on."""
    rows = state.connection.execute(
        f"SELECT {_COLUMNS} {_FROM} WHERE m.key = ? ORDER BY m.list", (key,)
    )
    return [_member(row) for row in rows.fetchall()]


def members_version(state: State) -> tuple[object, ...]:
    """Something that changes whenever a kept list or a person's preferences do (a finished
    send is looked at again then: someone who just signed up gets the invitation too)."""
    row = state.connection.execute(
        "SELECT count(*), max(updated_at) FROM members UNION ALL "
        "SELECT count(*), max(updated_at) FROM preferences"
    ).fetchall()
    return tuple(value for pair in row for value in pair)


@dataclass(frozen=True)
class Entry:
    """A person to write into a kept list (an organiser's form or a row of an upload)."""

    address: Address
    name: str
    language: str
    timezone: str | None = None
    tags: frozenset[str] = frozenset()


def put_members(
    state: State,
    list_name: str,
    entries: Iterable[Entry],
    *,
    origin: Origin,
    by: str,
    now: dt.datetime,
) -> tuple[int, int]:
    """Add or update people of a kept list in one transaction: (added, updated). An added
    person keeps her first evidence; an update changes only what is given."""
    added = updated = 0
    with state.transaction() as connection:
        for entry in entries:
            if _write(connection, list_name, entry, origin=origin, by=by, now=now):
                added += 1
            else:
                updated += 1
    return added, updated


def _write(
    connection: Connection,
    list_name: str,
    entry: Entry,
    *,
    origin: Origin,
    by: str,
    now: dt.datetime,
    evidence: tuple[str, str, str, str | None] | None = None,
) -> bool:
    """Upsert one row; True if it was new. `evidence`: (consent digest, asked, confirmed,
    client) of a sign-up, which keeps the tags organisers gave her."""
    values = (
        entry.address.email,
        entry.name,
        entry.language,
        entry.timezone,
        ";".join(sorted(entry.tags)),
        _stamp(now),
    )
    address, name, language, zone, tags, stamp = values
    if evidence is None:
        changed = connection.execute(
            "UPDATE members SET address = ?, name = ?, language = ?, timezone = ?, tags = ?, "
            "updated_at = ? WHERE list = ? AND key = ?",
            (address, name, language, zone, tags, stamp, list_name, entry.address.key),
        ).rowcount
    else:  # her own sign-up keeps the tags organisers gave her
        changed = connection.execute(
            "UPDATE members SET address = ?, name = ?, language = ?, timezone = ?, "
            "updated_at = ? WHERE list = ? AND key = ?",
            (address, name, language, zone, stamp, list_name, entry.address.key),
        ).rowcount
    if evidence is not None:  # she confirmed (again): her latest consent is the evidence
        connection.execute(
            "UPDATE members SET consent = ?, asked_at = ?, confirmed_at = ?, client = ? "
            "WHERE list = ? AND key = ?",
            (*evidence, list_name, entry.address.key),
        )
    if changed:
        return False
    consent, asked, confirmed, client = evidence or (None, None, None, None)
    connection.execute(
        "INSERT INTO members (list, key, address, name, language, timezone, tags, updated_at, "
        "origin, added_by, added_at, consent, asked_at, confirmed_at, client) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            list_name,
            entry.address.key,
            *values,
            origin,
            by,
            _stamp(now),
            consent,
            asked,
            confirmed,
            client,
        ),
    )
    return True


def remove_member(state: State, list_name: str, key: str) -> bool:
    with state.transaction() as connection:
        deleted = connection.execute(
            "DELETE FROM members WHERE list = ? AND key = ?", (list_name, key)
        )
        return deleted.rowcount == 1


def keep_consent(state: State, consent: Consent, now: dt.datetime) -> None:
    """Keep a consent text as shown on the sign-up page (once per version and language)."""
    with state.transaction(exclusive=False) as connection:
        connection.execute(
            "INSERT INTO consents (digest, version, language, text, first_used) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (digest) DO NOTHING",
            (consent.digest, consent.version, consent.language, consent.text, _stamp(now)),
        )


def consent_of(state: State, digest: str) -> Consent | None:
    row = state.connection.execute(
        "SELECT digest, version, language, text FROM consents WHERE digest = ?", (digest,)
    ).fetchone()
    return Consent(row[0], row[1], row[2], row[3]) if row is not None else None


def confirm_signup(
    state: State,
    lists: Iterable[str],
    entry: Entry,
    consent: str,
    *,
    asked_at: dt.datetime,
    client: str | None,
    now: dt.datetime,
) -> bool:
    """A person confirmed her sign-up with her own link: she is on `lists` with the evidence,
    and what she had done herself is undone (unsubscribing, erasure). A suppression by an
    organiser or a bounce stays. True if she was not on them all already."""
    new = False
    with state.transaction() as connection:
        evidence = (consent, _stamp(asked_at), _stamp(now), client)
        for list_name in lists:
            new |= _write(
                connection, list_name, entry, origin="signup", by="", now=now, evidence=evidence
            )
        connection.execute(
            "DELETE FROM suppressions WHERE (key = ? AND kind = 'unsubscribed') OR key = ?",
            (entry.address.key, erased_key(entry.address.key)),
        )
    return new


# -- the preferences page -----------------------------------------------------------------------


def set_preferences(state: State, key: str, preferences: Preferences, now: dt.datetime) -> None:
    """What the person chose on her preferences page (over her lists' rows); her rows of
    kept lists change too."""
    with state.transaction() as connection:
        connection.execute(
            "INSERT INTO preferences (key, name, language, timezone, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET name = excluded.name, "
            "language = excluded.language, timezone = excluded.timezone, "
            "updated_at = excluded.updated_at",
            (key, preferences.name, preferences.language, preferences.timezone, _stamp(now)),
        )
        for column in ("name", "language", "timezone"):
            if (value := getattr(preferences, column)) is not None:
                connection.execute(
                    f"UPDATE members SET {column} = ?, updated_at = ? WHERE key = ?",
                    (value, _stamp(now), key),
                )


def all_preferences(state: State) -> Mapping[str, Preferences]:
    rows = state.connection.execute("SELECT key, name, language, timezone FROM preferences")
    return {row[0]: Preferences(row[1], row[2], row[3]) for row in rows}


def preferences_of(state: State, key: str) -> Preferences | None:
    row = state.connection.execute(
        "SELECT name, language, timezone FROM preferences WHERE key = ?", (key,)
    ).fetchone()
    return Preferences(row[0], row[1], row[2]) if row is not None else None


def forget_member(connection: Connection, key: str) -> None:
    """Erasing a person: her rows of kept lists, her preferences, her sign-up attempts."""
    connection.execute("DELETE FROM members WHERE key = ?", (key,))
    connection.execute("DELETE FROM preferences WHERE key = ?", (key,))
    connection.execute("DELETE FROM signup_attempts WHERE address = ?", (attempt_hash(key),))


# -- limits on confirmation emails --------------------------------------------------------------


def attempt_hash(value: str) -> str:
    """What an attempt keeps of a client or an address: a hash, for a day."""
    return hashlib.sha256(f"mailer-signup\n{value}".encode()).hexdigest()[:32]


def may_send_confirmation(
    state: State, client: str, key: str, limits: SignupSettings, now: dt.datetime
) -> bool:
    """Record a sign-up attempt and say whether a confirmation email may go: at most
    `per_client` from one client in an hour, `per_address` to one address in a day, and
    `per_hour` in all. Attempts older than a day are forgotten here."""
    client_hash, address_hash = attempt_hash(client), attempt_hash(key)
    hour, day = _stamp(now - dt.timedelta(hours=1)), _stamp(now - ATTEMPTS_KEPT)
    with state.transaction() as connection:
        connection.execute("DELETE FROM signup_attempts WHERE at < ?", (day,))
        counts = connection.execute(
            "SELECT "
            "COALESCE(SUM(CASE WHEN client = ? AND at >= ? THEN sent ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN address = ? THEN sent ELSE 0 END), 0), "
            "COALESCE(SUM(CASE WHEN at >= ? THEN sent ELSE 0 END), 0) "
            "FROM signup_attempts WHERE sent = 1",
            (client_hash, hour, address_hash, hour),
        ).fetchone()
        allowed: bool = (
            int(counts[0]) < limits.per_client
            and int(counts[1]) < limits.per_address
            and int(counts[2]) < limits.per_hour
        )
        connection.execute(
            "INSERT INTO signup_attempts (at, client, address, sent) VALUES (?, ?, ?, ?)",
            (_stamp(now), client_hash, address_hash, int(allowed)),
        )
    return allowed
