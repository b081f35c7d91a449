"""The state in PostgreSQL (13 or later), through psycopg 3: many senders and daemons on many
hosts, one schema per series.

The services' SQL is the same as for SQLite: `?` parameters become psycopg's `%s` here, and
the rows answer by position and by column name as sqlite3.Row does. Connections come from one
pool per process and database (psycopg_pool: the daemon opens the state many times a minute),
in autocommit mode, as the SQLite one is; `transaction()` opens one explicitly. An exclusive
transaction locks the `mutex` row (one writer at a time for read-modify-write, as SQLite
always has); claims and records of deliveries lock only their own rows (`FOR UPDATE SKIP
LOCKED`: a sender never waits for another's rows).

Connection trouble (the server down, the network) is `StateUnavailable`: what was committed
is kept, and the caller may `reconnect()` and do the same again (every ledger operation can be
repeated). The password is never in config.toml: libpq reads PGPASSWORD or a PGPASSFILE.
"""

from __future__ import annotations

import atexit
import contextlib
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import psycopg
import psycopg_pool
from psycopg import sql

from mailer.errors import StateError, StateUnavailable
from mailer.store.leases import check_fence
from mailer.store.postgres_base import POSTGRES_BASE, POSTGRES_BASE_VERSION
from mailer.store.schema import MIGRATIONS, SCHEMA_VERSION
from mailer.store.state import Connection, Cursor, Dialect, State

if TYPE_CHECKING:
    from mailer.store.location import PostgresLocation

POSTGRES = Dialect(
    name="postgresql",
    clock="CAST(extract(epoch FROM clock_timestamp()) AS double precision)",
    skip_locked=" FOR UPDATE SKIP LOCKED",
    for_update=" FOR UPDATE",
    brief="SET LOCAL idle_in_transaction_session_timeout = '5s'",
    arrays=True,
)
CONNECT_TIMEOUT = 10  # seconds
MIN_SERVER = 130000  # PostgreSQL 13
POOL_SIZE = 8  # connections per process: the lanes' ledger thread, the watcher, the pages
# a process frozen (or cut off) inside a transaction loses it after this long, and its locks;
# transactions that hold the leader's lease row say 5 s (POSTGRES.brief)
IDLE_IN_TRANSACTION = "15s"


class Row(tuple[Any, ...]):
    """A row that answers `row[0]` and `row["state"]`, as sqlite3.Row does."""

    names: dict[str, int]

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self.names[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self.names)


def _rows(cursor: Any) -> Any:
    names = {column.name: i for i, column in enumerate(cursor.description or ())}

    def make(values: Sequence[Any]) -> Row:
        row = Row(values)
        row.names = names
        return row

    return make


def _translate(text: str, parameters: Sequence[Any]) -> str:
    """`?` parameters as psycopg's `%s` (a literal `%` doubled, when there are parameters)."""
    if not parameters:
        return text
    return text.replace("%", "%%").replace("?", "%s")


class _Connection:
    """A psycopg connection that speaks the services' SQL and says what its errors mean."""

    def __init__(self, raw: psycopg.Connection[Any], where: str) -> None:
        self.raw = raw
        self.where = where

    def execute(self, text: str, parameters: Sequence[Any] = (), /) -> Cursor:
        try:
            return self.raw.execute(_translate(text, parameters), list(parameters) or None)
        except psycopg.Error as error:
            raise database_error(self.where, error) from error

    def executemany(self, text: str, rows: Iterable[Sequence[Any]], /) -> Cursor:
        """One statement per many rows: an INSERT's rows as multi-row VALUES, in chunks; any
        other statement once per row. Never psycopg's pipeline: a process frozen in the middle
        of one leaves its session `active` and its row locks held for ever, where between two
        statements it is `idle in transaction` and the server ends it (IDLE_IN_TRANSACTION)."""
        batch = [list(row) for row in rows]
        total = 0
        if not batch:
            return _Done(0)
        try:
            if found := _VALUES.match(text):
                head, one, tail = found.groups()
                size = max(1, min(MULTI_ROW, MAX_PARAMETERS // len(batch[0])))
                for start in range(0, len(batch), size):
                    chunk = batch[start : start + size]
                    values = ", ".join([one] * len(chunk))
                    statement = _translate(f"{head}{values}{tail}", chunk[0])
                    flat = [value for row in chunk for value in row]
                    total += self.raw.execute(statement, flat).rowcount
            else:
                statement = _translate(text, batch[0])
                for row in batch:
                    total += self.raw.execute(statement, row).rowcount
        except psycopg.Error as error:
            raise database_error(self.where, error) from error
        return _Done(total)


class _Done:
    """What executemany gives back: how many rows it touched."""

    description = None

    def __init__(self, rowcount: int) -> None:
        self.rowcount = rowcount

    def fetchone(self) -> Any:
        return None

    def fetchall(self) -> list[Any]:
        return []

    def fetchmany(self, size: int = 0, /) -> list[Any]:  # noqa: ARG002
        return []

    def __iter__(self) -> Iterator[Any]:
        return iter(())


_VALUES = re.compile(r"^(INSERT INTO .*?VALUES\s*)(\([?,\s]+\))(.*)$", re.DOTALL)
MULTI_ROW = 1000  # rows per INSERT statement
MAX_PARAMETERS = 32767  # what one statement may carry (the protocol's limit is 65,535)


def database_error(where: str, error: psycopg.Error) -> StateError:
    """What a PostgreSQL error means for the person running mailer, and what to do."""
    if isinstance(error, psycopg.OperationalError | psycopg.errors.AdminShutdown):
        return StateUnavailable(
            f"{where} cannot be reached ({str(error).strip() or type(error).__name__}): what was "
            "recorded is kept; run again once it is back (the daemon tries again by itself)"
        )
    if isinstance(error, psycopg.errors.InsufficientPrivilege):
        return StateError(f"{where} refuses this user: {error}; grant it the schema's rights")
    return StateError(f"{where} failed: {str(error).strip()}")


_pools: dict[tuple[str, str], psycopg_pool.ConnectionPool[Any]] = {}
_migrated: set[tuple[str, str]] = set()
_pools_lock = threading.Lock()


def _pool(location: PostgresLocation) -> psycopg_pool.ConnectionPool[Any]:
    """This process's pool of connections to the series' schema."""
    key = (location.url, location.schema)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is None:
            schema = sql.Identifier(location.schema)

            def configure(connection: psycopg.Connection[Any]) -> None:
                connection.execute(sql.SQL("SET search_path TO {}").format(schema))
                connection.execute(
                    sql.SQL("SET idle_in_transaction_session_timeout = {}").format(
                        sql.Literal(IDLE_IN_TRANSACTION)
                    )
                )

            pool = psycopg_pool.ConnectionPool(
                location.url,
                kwargs={
                    "autocommit": True,
                    "row_factory": _rows,
                    "connect_timeout": CONNECT_TIMEOUT,
                    "application_name": "mailer",
                },
                min_size=1,
                max_size=POOL_SIZE,
                configure=configure,
                check=psycopg_pool.ConnectionPool.check_connection,
                timeout=CONNECT_TIMEOUT,
                name=f"mailer-{location.schema}",
                open=True,
            )
            _pools[key] = pool
        return pool


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools.values()):
        with contextlib.suppress(Exception):
            pool.close(timeout=1.0)
    _pools.clear()


class PostgresState(State):
    """A connection to a series' schema (borrowed from the pool; `close` gives it back)."""

    dialect = POSTGRES
    one_sender = False  # senders on any host share a send: each takes rows under a lease

    def __init__(self, location: PostgresLocation) -> None:
        self.location = location
        self.where = location.describe()
        self._in_transaction = False
        self._raw: psycopg.Connection[Any] | None = None
        self._open()

    def _open(self) -> None:
        pool = _pool(self.location)
        try:
            raw = pool.getconn()
        except psycopg_pool.PoolTimeout as error:
            raise StateUnavailable(
                f"{self.where} cannot be reached ({error}): what was recorded is kept; run "
                "again once it is back (the daemon tries again by itself)"
            ) from error
        self._raw = raw
        self.connection: Connection = _Connection(raw, self.where)
        key = (self.location.url, self.location.schema)
        if key not in _migrated:
            try:
                self._migrate()
            except BaseException:
                self.close()
                raise
            _migrated.add(key)

    def reconnect(self) -> None:
        """A new connection after the last one was lost (StateUnavailable)."""
        self.close()
        self._open()

    def _migrate(self) -> None:
        # two hosts starting at once: the second waits for the first's migration (a lock for
        # this transaction only, never held across transactions)
        with self._transaction(exclusive=False) as connection:
            connection.execute(
                "SELECT pg_advisory_xact_lock(hashtext(?))", (f"mailer:{self.location.schema}",)
            )
            connection.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}")
                .format(sql.Identifier(self.location.schema))
                .as_string(self.raw)
            )
            version = self._version(connection)
            if version is None:
                for statement in _statements(POSTGRES_BASE):
                    connection.execute(statement)
                connection.execute(
                    "INSERT INTO schema_version (version) VALUES (?)", (POSTGRES_BASE_VERSION,)
                )
                version = POSTGRES_BASE_VERSION
            if version > SCHEMA_VERSION:
                raise StateError(
                    f"{self.where} has schema version {version}, newer than this mailer's "
                    f"({SCHEMA_VERSION}); upgrade mailer on this host"
                )
            for number in range(version, SCHEMA_VERSION):
                for statement in _statements(MIGRATIONS[number]):
                    connection.execute(statement)
            connection.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    @property
    def raw(self) -> psycopg.Connection[Any]:
        assert self._raw is not None, "the connection was given back"
        return self._raw

    @staticmethod
    def _version(connection: Connection) -> int | None:
        exists = connection.execute("SELECT to_regclass('schema_version') IS NOT NULL").fetchone()[
            0
        ]
        if not exists:
            return None
        return int(connection.execute("SELECT version FROM schema_version").fetchone()[0])

    @property
    def schema_version(self) -> int:
        return int(self.connection.execute("SELECT version FROM schema_version").fetchone()[0])

    def transaction(
        self, *, exclusive: bool = True
    ) -> contextlib.AbstractContextManager[Connection]:
        return self._transaction(exclusive=exclusive)

    @contextmanager
    def _transaction(self, *, exclusive: bool) -> Iterator[Connection]:
        if self._in_transaction:  # within one already: part of it
            yield self.connection
            return
        self.connection.execute("BEGIN")
        self._in_transaction = True
        try:
            if exclusive:
                self.connection.execute(
                    f"SELECT name FROM mutex WHERE name = 'writes'{POSTGRES.for_update}"
                )
            if self.fence is not None:
                check_fence(self.connection, self, self.fence)
            yield self.connection
        except BaseException:
            with contextlib.suppress(Exception):  # a lost connection has rolled it back
                self.raw.execute("ROLLBACK")
            raise
        finally:
            self._in_transaction = False
        self.connection.execute("COMMIT")

    def renumber(self, connection: Connection, table: str) -> None:
        identity = connection.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? AND column_name = 'id' AND is_identity = 'YES'",
            (table,),
        ).fetchone()
        if identity is not None:
            connection.execute(
                f"SELECT setval(pg_get_serial_sequence(?, 'id'), "
                f"COALESCE((SELECT max(id) FROM {table}), 0) + 1, false)",
                (table,),
            )

    def notify_work(self) -> None:
        with contextlib.suppress(StateError):  # a wake-up lost: the others poll anyway
            self.connection.execute("SELECT pg_notify(?, '')", (self.channel,))

    @property
    def channel(self) -> str:
        """The LISTEN channel of this series' senders."""
        return work_channel(self.location.schema)

    def close(self) -> None:
        """Give the connection back to the pool (which drops it if it is broken or in a
        transaction)."""
        if self._raw is not None:
            raw, self._raw = self._raw, None
            with contextlib.suppress(Exception):
                _pool(self.location).putconn(raw)


def _statements(script: str) -> list[str]:
    return [statement.strip() for statement in script.split(";") if statement.strip()]


def work_channel(schema: str) -> str:
    """The LISTEN channel of a series' senders (a PostgreSQL name: 63 bytes at most)."""
    return f"{schema}_work"[:63]


class WorkSignal:
    """LISTEN on a series' channel: `wait` returns True when a sender or the leader said that
    work was planned (`notify_work`), False after `timeout` seconds without (polling is the
    fallback: a lost wake-up only delays). Its own connection, outside the pool."""

    def __init__(self, location: PostgresLocation) -> None:
        self.location = location
        self.channel = work_channel(location.schema)
        self._raw: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> bool:
        try:
            if self._raw is None or self._raw.closed:
                self._raw = psycopg.connect(
                    self.location.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT
                )
                self._raw.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
            return any(True for _ in self._raw.notifies(timeout=timeout, stop_after=1))
        except psycopg.Error as error:
            self.close()
            raise database_error(self.location.describe(), error) from error

    def close(self) -> None:
        if self._raw is not None:
            with contextlib.suppress(psycopg.Error):
                self._raw.close()
            self._raw = None


def probe(location: PostgresLocation) -> str:
    """The server's version and the schema's, read without writing anything (`mailer
    check`); StateUnavailable if the server cannot be reached."""
    where = location.describe()
    try:
        with psycopg.connect(location.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as raw:
            server = raw.info.server_version
            regclass = raw.execute(
                "SELECT to_regclass(%s)", (f'"{location.schema}".schema_version',)
            ).fetchone()
            version = None
            if regclass is not None and regclass[0] is not None:
                query = sql.SQL("SELECT version FROM {}.schema_version").format(
                    sql.Identifier(location.schema)
                )
                found = raw.execute(query).fetchone()
                version = None if found is None else int(found[0])
    except psycopg.Error as error:
        raise database_error(where, error) from error
    if server < MIN_SERVER:
        raise StateError(
            f"{where} runs PostgreSQL {server // 10000}: mailer needs "
            f"{MIN_SERVER // 10000} or later"
        )
    if version is not None and version > SCHEMA_VERSION:
        raise StateError(
            f"{where} has schema version {version}, newer than this mailer's ({SCHEMA_VERSION})"
        )
    made = "made at the first send" if version is None else f"schema version {version}"
    return f"{where} (PostgreSQL {server // 10000}, reachable; {made})"
