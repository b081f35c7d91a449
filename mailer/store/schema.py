"""The state's schema, as migrations: one per version, applied forward in order.

A migration never changes once released (a state made by a mailer of any version migrates to
this one, keeping its rows). SQLite keeps the version in `PRAGMA user_version` and has every
migration from the first; a PostgreSQL schema starts from `postgres_base.POSTGRES_BASE` (the tables
as they were at version 10, when PostgreSQL came) and takes the migrations after it. From version 11
on, a migration is one text for both stores: standard SQL, numbers of seconds as DOUBLE
PRECISION, no AUTOINCREMENT (an identity column is `POSTGRES_BASE`'s business).
"""

MIGRATIONS: tuple[str, ...] = (
    # 1: the last revision of every calendar event (SEQUENCE and DTSTAMP)
    """
    CREATE TABLE revisions (
        series TEXT NOT NULL,
        event TEXT NOT NULL,
        sequence INTEGER NOT NULL,
        stamp TEXT NOT NULL,
        significant TEXT NOT NULL,
        content TEXT NOT NULL,
        PRIMARY KEY (series, event)
    );
    """,
    # 2: addresses never to mail again (unsubscribed, bounced, removed by hand)
    """
    CREATE TABLE suppressions (
        key TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('unsubscribed', 'bounced', 'manual')),
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    """,
    # 3: the send ledger: one row per (series, session, message, recipient), made when the send
    # is planned, before anything goes out
    """
    CREATE TABLE sends (
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        message TEXT NOT NULL,
        kind TEXT NOT NULL,
        segments TEXT NOT NULL,
        deadline TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (series, session, message)
    );
    CREATE TABLE deliveries (
        id INTEGER PRIMARY KEY,
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        message TEXT NOT NULL,
        recipient TEXT NOT NULL,
        address TEXT NOT NULL,
        language TEXT NOT NULL,
        person TEXT NOT NULL,
        state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN
            ('pending', 'sending', 'sent', 'retry', 'failed', 'unknown', 'skipped')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt TEXT,
        message_id TEXT,
        code INTEGER,
        reason TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        sent_at TEXT,
        UNIQUE (series, session, message, recipient),
        FOREIGN KEY (series, session, message) REFERENCES sends (series, session, message)
    );
    CREATE INDEX deliveries_by_state ON deliveries (series, session, message, state);
    CREATE INDEX deliveries_by_sent_at ON deliveries (sent_at) WHERE sent_at IS NOT NULL;
    """,
    # 4: the revision (SEQUENCE) of the session each send was planned at, so that the daemon
    # knows whether those served have the latest time, place and status; and a person's
    # latest email, for the language of their unsubscribe page
    """
    ALTER TABLE sends ADD COLUMN sequence INTEGER NOT NULL DEFAULT 0;
    CREATE INDEX deliveries_by_recipient ON deliveries (recipient, id);
    """,
    # 5: whose doing a failure was: the recipient's (their mailbox refused) or not (the relay,
    # the content, a bug, a fate that stayed unknown), which can be sent again
    """
    ALTER TABLE deliveries ADD COLUMN cause TEXT CHECK (cause IN
        ('recipient', 'relay', 'content', 'internal', 'unknown'));
    """,
    # 6: what a person chose on the unsubscribe page (everything, or reminders only), erased
    # people (only a hash of their address is kept, so that they are never mailed again), and
    # the notices emailed to the organiser, once per problem
    """
    CREATE TABLE suppressions_6 (
        key TEXT PRIMARY KEY,
        address TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('unsubscribed', 'bounced', 'manual', 'erased')),
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL,
        scope TEXT NOT NULL DEFAULT 'all' CHECK (scope IN ('all', 'reminders'))
    );
    INSERT INTO suppressions_6 (key, address, kind, reason, created_at)
        SELECT key, address, kind, reason, created_at FROM suppressions;
    DROP TABLE suppressions;
    ALTER TABLE suppressions_6 RENAME TO suppressions;
    CREATE TABLE notices (
        key TEXT PRIMARY KEY,
        subject TEXT NOT NULL,
        message_id TEXT,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    """,
    # 7: what the mailbox brought: each incoming email processed once (its outcome), the
    # bounces counted per address, the calendar replies per session and person; and finding a
    # delivery by its Message-ID (a bounce names it)
    """
    CREATE TABLE inbox (
        key TEXT PRIMARY KEY,
        outcome TEXT NOT NULL CHECK (outcome IN
            ('bounce', 'unsubscribe', 'reply', 'person')),
        detail TEXT NOT NULL,
        processed_at TEXT NOT NULL
    );
    CREATE TABLE bounces (
        id INTEGER PRIMARY KEY,
        inbox TEXT NOT NULL REFERENCES inbox (key),
        key TEXT NOT NULL,
        address TEXT NOT NULL,
        permanent INTEGER NOT NULL,
        status TEXT NOT NULL,
        diagnostic TEXT NOT NULL,
        message_id TEXT,
        received_at TEXT NOT NULL,
        UNIQUE (inbox, key)
    );
    CREATE INDEX bounces_by_key ON bounces (key, received_at);
    CREATE TABLE answers (
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        key TEXT NOT NULL,
        address TEXT NOT NULL,
        answer TEXT NOT NULL CHECK (answer IN ('accepted', 'tentative', 'declined')),
        sequence INTEGER NOT NULL,
        answered_at TEXT NOT NULL,
        PRIMARY KEY (series, session, key)
    );
    CREATE INDEX deliveries_by_message_id ON deliveries (message_id)
        WHERE message_id IS NOT NULL;
    """,
    # 8: the organisers' pages: who is logged in (by the hash of their cookie), and what each
    # organiser changed or sent (the audit log; never deleted by mailer)
    """
    CREATE TABLE web_sessions (
        token_hash TEXT PRIMARY KEY,
        organiser TEXT NOT NULL,
        account TEXT NOT NULL,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE TABLE audit (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        organiser TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL
    );
    """,
    # 9: Message-IDs are keyed (HMAC) from now on; the deliveries planned before keep the
    # unkeyed one they were (or will be) sent with, so that a resend is recognised as a copy.
    # Notices to the organiser can wait in the state file to be sent (`problem`, `fields`).
    """
    ALTER TABLE deliveries ADD COLUMN legacy_id INTEGER NOT NULL DEFAULT 0;
    UPDATE deliveries SET legacy_id = 1;
    ALTER TABLE notices ADD COLUMN problem TEXT;
    ALTER TABLE notices ADD COLUMN fields TEXT;
    """,
    # 10: the text (a digest of every language's summary and description) each email was
    # planned with, so that one knows when calendars hold an older text than the sessions'
    """
    ALTER TABLE sends ADD COLUMN content TEXT;
    """,
    # 11: many senders and daemons (PostgreSQL): a delivery being sent is its sender's
    # (`owner`) until `lease_until` (seconds since the epoch, on the database's clock); named
    # leases (the daemons' leader, with an epoch that fences its writes); each relay's shared
    # pace; the session files' content, the same on every host; the row an exclusive
    # transaction locks (PostgreSQL: one writer at a time where SQLite always has one); the
    # counts of a send nothing is left to send of (`mailer status` reads them, not its rows)
    """
    ALTER TABLE deliveries ADD COLUMN owner TEXT;
    ALTER TABLE deliveries ADD COLUMN lease_until DOUBLE PRECISION;
    CREATE INDEX deliveries_by_lease ON deliveries (lease_until) WHERE state = 'sending';
    CREATE INDEX deliveries_due ON deliveries (series, session, message, id)
        WHERE state IN ('pending', 'retry', 'unknown');
    ALTER TABLE sends ADD COLUMN settled TEXT;
    ALTER TABLE sends ADD COLUMN changes INTEGER NOT NULL DEFAULT 0;
    CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT,
        epoch INTEGER NOT NULL DEFAULT 0,
        expires DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE TABLE relays (
        name TEXT PRIMARY KEY,
        next_free DOUBLE PRECISION NOT NULL DEFAULT 0,
        factor DOUBLE PRECISION NOT NULL DEFAULT 1,
        paused_until DOUBLE PRECISION NOT NULL DEFAULT 0,
        updated DOUBLE PRECISION NOT NULL DEFAULT 0
    );
    CREATE TABLE session_files (
        name TEXT PRIMARY KEY,
        text TEXT NOT NULL,
        digest TEXT NOT NULL,
        version INTEGER NOT NULL,
        saved_at TEXT NOT NULL,
        saved_by TEXT NOT NULL
    );
    CREATE TABLE mutex (name TEXT PRIMARY KEY);
    INSERT INTO mutex (name) VALUES ('writes');
    """,
    # 12: who is coming: answers come from calendar replies and from the emails' one-click
    # links (`source`), with the name they were emailed with; a yes to a full session waits
    # (`waiting_since`) until a place frees up (`promoted_at`); the imported participants
    # report of a session (who came)
    """
    ALTER TABLE answers ADD COLUMN source TEXT NOT NULL DEFAULT 'calendar';
    ALTER TABLE answers ADD COLUMN waiting_since TEXT;
    ALTER TABLE answers ADD COLUMN promoted_at TEXT;
    ALTER TABLE answers ADD COLUMN name TEXT NOT NULL DEFAULT '';
    CREATE INDEX answers_by_key ON answers (key);
    CREATE TABLE attendance_reports (
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        people INTEGER NOT NULL,
        PRIMARY KEY (series, session)
    );
    CREATE TABLE attendance (
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        key TEXT NOT NULL,
        address TEXT NOT NULL,
        name TEXT NOT NULL,
        minutes INTEGER NOT NULL,
        joined_at TEXT NOT NULL,
        left_at TEXT NOT NULL,
        PRIMARY KEY (series, session, key)
    );
    CREATE INDEX attendance_by_key ON attendance (key);
    """,
    # 13: lists kept in the state (sign-ups confirmed by their own link, people added by
    # organisers), with the evidence of each consent (the text agreed to is kept once in
    # `consents`); what people changed on their preferences page (over any list's row); the
    # sign-up attempts of the last day, hashed, for the limits on confirmation emails
    """
    CREATE TABLE consents (
        digest TEXT PRIMARY KEY,
        version TEXT NOT NULL,
        language TEXT NOT NULL,
        text TEXT NOT NULL,
        first_used TEXT NOT NULL
    );
    CREATE TABLE members (
        list TEXT NOT NULL,
        key TEXT NOT NULL,
        address TEXT NOT NULL,
        name TEXT NOT NULL,
        language TEXT NOT NULL,
        timezone TEXT,
        tags TEXT NOT NULL,
        origin TEXT NOT NULL CHECK (origin IN ('signup', 'organiser', 'upload')),
        added_by TEXT NOT NULL,
        added_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        consent TEXT REFERENCES consents (digest),
        asked_at TEXT,
        confirmed_at TEXT,
        client TEXT,
        PRIMARY KEY (list, key)
    );
    CREATE INDEX members_by_key ON members (key);
    CREATE TABLE preferences (
        key TEXT PRIMARY KEY,
        name TEXT,
        language TEXT,
        timezone TEXT,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE signup_attempts (
        at TEXT NOT NULL,
        client TEXT NOT NULL,
        address TEXT NOT NULL,
        sent INTEGER NOT NULL
    );
    CREATE INDEX signup_attempts_by_at ON signup_attempts (at);
    """,
    # 14: a send an organiser paused: nobody sends it (her, another organiser, a daemon)
    # until it is resumed
    """
    CREATE TABLE paused (
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        message TEXT NOT NULL,
        paused_by TEXT NOT NULL,
        paused_at TEXT NOT NULL,
        PRIMARY KEY (series, session, message)
    );
    """,
    # 15: what each send told people of its session (its content, as JSON, when first
    # planned): an update says what changed since
    """
    CREATE TABLE told (
        series TEXT NOT NULL,
        session TEXT NOT NULL,
        message TEXT NOT NULL,
        content TEXT NOT NULL,
        told_at TEXT NOT NULL,
        PRIMARY KEY (series, session, message)
    );
    """,
)

# Every table, in an order that respects their references (for copying a state).
TABLES = (
    "revisions",
    "suppressions",
    "sends",
    "deliveries",
    "notices",
    "inbox",
    "bounces",
    "answers",
    "web_sessions",
    "audit",
    "leases",
    "relays",
    "session_files",
    "attendance_reports",
    "attendance",
    "consents",
    "members",
    "preferences",
    "signup_attempts",
    "paused",
    "told",
)

SCHEMA_VERSION = len(MIGRATIONS)
