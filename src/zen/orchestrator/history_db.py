"""The database under History: one SQLite file, or a PostgreSQL database that a cluster shares.

History writes its SQL once, in SQLite's dialect with ``?`` and ``:name`` parameters; this module
opens the database, keeps its schema version, applies migrations and runs statements, translating
the few things PostgreSQL spells differently (parameters, auto-numbered ids, 8-byte floats).
Both speak DB-API (``sqlite3``, psycopg 3) directly: History's statements are small and fixed,
and SQLite keeps the speed it had without an extra layer.

* SQLite: WAL mode so readers never wait, ``BEGIN IMMEDIATE`` writes that wait for each other
  (``busy_timeout``), the schema version in ``PRAGMA user_version``.
* PostgreSQL: autocommit reads, one transaction per write, the schema version in a table
  ``zen_schema_version`` and migrations serialised by an advisory lock, so several nodes may open
  the same database at once.

A database whose schema is newer than this zen knows, or a file that is not SQLite, is refused
with a :class:`~zen.errors.DataError` naming it, and left untouched. A password is never shown:
every message uses :attr:`Database.url`, which hides it.
"""

from __future__ import annotations

import functools
import logging
import re
import sqlite3
import time
import urllib.parse
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from zen.errors import ConfigError, DataError

if TYPE_CHECKING:
    import psycopg

logger = logging.getLogger(__name__)

#: How long a write waits for another process's transaction; writes take milliseconds, so
#: reaching this means a process holds the database and is stuck.
BUSY_TIMEOUT_S = 30.0
#: How long opening a PostgreSQL History waits for the server.
CONNECT_TIMEOUT_S = 10
POSTGRES_SCHEMES = ("postgresql", "postgresql+psycopg", "postgres")
#: Key of the advisory lock that serialises migrations across the nodes of a cluster.
MIGRATION_LOCK = 0x7A656E  # "zen"
INSTALL_HINT = "pip install 'zen-neural[cluster]'"

Parameters = Sequence[Any] | Mapping[str, Any]


class Cursor(Protocol):
    """What a statement returns: its rows (tuples)."""

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Transaction(Protocol):
    """The statements of one write transaction (SQLite's dialect)."""

    def execute(self, sql: str, parameters: Parameters = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Parameters]) -> None: ...

    def insert(self, sql: str, parameters: Parameters) -> int:
        """Run an ``INSERT`` and return the id of the new row."""
        ...


Migration = str | Callable[[Transaction], None]


def is_url(location: str | Path) -> bool:
    """Whether ``location`` names a database server (``scheme://...``) rather than a file."""
    return isinstance(location, str) and "://" in location


def hide_password(url: str) -> str:
    """``url`` with its password (in the user part or the query) replaced by ``***``."""
    parts = urllib.parse.urlsplit(url)
    netloc, query = parts.netloc, parts.query
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):
        # Re-encoded only then: other URLs keep their query exactly as written.
        query = urllib.parse.urlencode(
            [(key, "***" if key == "password" else value) for key, value in pairs], safe="*/"
        )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Database(ABC):
    """An open History database; see :func:`open_database`.

    Attributes:
        url: where it is, as a URL with any password hidden (for messages and display).
        hint: what the user can do to use another database (ends a refusal message).
    """

    url: str
    hint: str

    @abstractmethod
    def version(self) -> int:
        """The schema version stored in the database (0 for an empty one)."""

    @abstractmethod
    def migrate(self, migrations: Sequence[Migration]) -> None:
        """Refuse a newer schema, then apply the missing ``migrations``, one transaction each."""

    @abstractmethod
    def write(self) -> AbstractContextManager[Transaction]:
        """One write transaction; other processes' writes wait for it, never interleave."""

    @abstractmethod
    def read(self, sql: str, parameters: Parameters = ()) -> list[Any]:
        """The rows of a query, each indexable by column name (``row["id"]``, ``dict(row)``)."""

    @abstractmethod
    def optuna_url(self) -> str:
        """The SQLAlchemy URL Optuna opens to keep its studies here (with the password)."""

    @abstractmethod
    def close(self) -> None:
        """Close the connection."""

    def _newer(self, version: int, known: int) -> DataError:
        import zen

        return DataError(
            f"history: {self.url} has schema version {version} but this zen"
            f" ({zen.__version__}) knows up to {known}: it was created by a newer zen; upgrade"
            f" zen or {self.hint}"
        )

    def _migration_failed(self, target: int, error: str) -> DataError:
        return DataError(
            f"history: migrating {self.url} to schema version {target} failed ({error}); the"
            f" database was left at version {target - 1}"
        )


def open_database(location: str | Path, hint: str) -> Database:
    """Open the History database at ``location``: a SQLite file path, or a PostgreSQL URL
    (``postgresql://user@host:port/db``, also ``postgresql+psycopg://``).

    Args:
        location: where the database is.
        hint: what the user can do to use another database, for refusal messages.

    Raises:
        ConfigError: an unknown URL scheme, or psycopg is missing for a PostgreSQL URL.
        DataError: the database cannot be opened or is not a usable History.
    """
    if is_url(location):
        url = str(location)
        scheme = url.split("://", 1)[0].lower()
        if scheme in POSTGRES_SCHEMES:
            return PostgresDatabase(url, hint)
        if scheme == "sqlite":
            # sqlite:///relative or sqlite:////absolute, as SQLAlchemy (and Optuna) write it.
            return SQLiteDatabase(Path(url.split("://", 1)[1][1:]).expanduser(), hint)
        raise ConfigError(
            f"history: expected a SQLite file path or a postgresql:// URL, got"
            f" {hide_password(url)!r}"
        )
    return SQLiteDatabase(Path(location).expanduser(), hint)


def statements(script: str) -> Iterator[str]:
    """The SQL statements of a script, split where SQLite itself sees a statement end."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n\t;"):
                yield pending.strip()
            pending = ""


# -- SQLite --------------------------------------------------------------------------------------


class _SQLiteTransaction:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: Parameters = ()) -> Cursor:
        return self.connection.execute(sql, parameters)

    def executemany(self, sql: str, rows: Sequence[Parameters]) -> None:
        self.connection.executemany(sql, rows)

    def insert(self, sql: str, parameters: Parameters) -> int:
        row_id = self.connection.execute(sql, parameters).lastrowid
        assert row_id is not None  # an INSERT into a rowid table always sets it
        return row_id


class SQLiteDatabase(Database):
    """A History in one SQLite file (WAL mode; keep it on a local disk: WAL needs shared memory
    that network file systems do not provide)."""

    def __init__(self, path: Path, hint: str) -> None:
        if path.is_dir():
            raise DataError(f"history: {path} is a directory; expected a database file path")
        self.path = path
        self.url = f"sqlite:///{path.absolute()}"
        self.hint = hint
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, because a deferred
        # transaction that later upgrades to a write lock fails with SQLITE_BUSY at once instead
        # of waiting for busy_timeout.
        self.connection = sqlite3.connect(path, timeout=BUSY_TIMEOUT_S, isolation_level=None)

    def __str__(self) -> str:
        return str(self.path)

    def version(self) -> int:
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, migrations: Sequence[Migration]) -> None:
        connection = self.connection
        try:
            # Read the version before anything that writes (journal_mode does): a newer or
            # foreign file must be left exactly as it was.
            version = self.version()
            if version > len(migrations):
                raise self._newer(version, len(migrations))
            self._enable_wal()
            # NORMAL is safe from corruption in WAL mode; only the last commits may be lost on
            # power failure, which for a run log beats an fsync per write.
            connection.execute("PRAGMA synchronous = NORMAL")
            connection.execute("PRAGMA foreign_keys = ON")
            for target, migration in enumerate(migrations, start=1):
                self._apply(target, migration)
        except sqlite3.Error as error:
            raise self._data_error(error) from None

    def _enable_wal(self) -> None:
        """Switch the file to WAL, in short tries, then set the full busy timeout.

        The switch needs an exclusive lock. While another process migrates a new file (still
        in rollback-journal mode), waiting for it with the full busy timeout can deadlock: the
        waiting statement holds a shared lock that the other process's COMMIT waits for, and
        both wait 30 s. A failed short try releases that lock, so the other side can commit.
        """
        connection = self.connection
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        connection.execute("PRAGMA busy_timeout = 50")
        try:
            while True:
                try:
                    connection.execute("PRAGMA journal_mode = WAL")
                    return
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) or time.monotonic() > deadline:
                        raise
                    time.sleep(0.02)
        finally:
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    def _apply(self, target: int, migration: Migration) -> None:
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            # Re-read under the write lock: another process may have just migrated.
            if self.version() >= target:
                connection.execute("COMMIT")
                return
            if isinstance(migration, str):
                for statement in statements(migration):
                    connection.execute(statement)
            else:
                migration(_SQLiteTransaction(connection))
            connection.execute(f"PRAGMA user_version = {target}")
            connection.execute("COMMIT")
        except BaseException as error:
            connection.rollback()
            if isinstance(error, sqlite3.Error):
                raise self._migration_failed(target, str(error)) from None
            raise
        logger.info("history: %s migrated to schema version %d", self.path, target)

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        connection = self.connection
        try:
            connection.execute("BEGIN IMMEDIATE")
            try:
                yield _SQLiteTransaction(connection)
            except BaseException:
                connection.rollback()
                raise
            connection.execute("COMMIT")
        except sqlite3.Error as error:
            raise self._data_error(error) from None

    def read(self, sql: str, parameters: Parameters = ()) -> list[Any]:
        try:
            cursor = self.connection.execute(sql, parameters)
            cursor.row_factory = sqlite3.Row
            return cursor.fetchall()
        except sqlite3.Error as error:
            raise self._data_error(error) from None

    def optuna_url(self) -> str:
        return f"sqlite:///{self.path.resolve()}"

    def close(self) -> None:
        self.connection.close()

    def _data_error(self, error: sqlite3.Error) -> DataError:
        name = getattr(error, "sqlite_errorname", "")
        if name in ("SQLITE_NOTADB", "SQLITE_CORRUPT"):
            return DataError(
                f"history: {self.path} is not a readable SQLite database ({error}); move it"
                f" aside or {self.hint} (zen does not delete it)"
            )
        if name == "SQLITE_BUSY":
            return DataError(
                f"history: {self.path} stayed locked by another process for"
                f" {BUSY_TIMEOUT_S:.0f} s ({error})"
            )
        return DataError(f"history: {self.path}: {error}")


# -- PostgreSQL ----------------------------------------------------------------------------------


@functools.cache
def _postgres_sql(sql: str) -> str:
    """A statement of History in PostgreSQL's spelling: ``%s`` and ``%(name)s`` parameters."""
    sql = re.sub(r"(?<![:\w]):([A-Za-z_]\w*)", r"%(\1)s", sql)
    return sql.replace("?", "%s")


def _postgres_ddl(statement: str) -> str:
    """A migration statement for PostgreSQL: auto-numbered ids, 8-byte floats (its ``REAL``
    has 4 bytes, SQLite's 8)."""
    statement = re.sub(
        r"\bINTEGER PRIMARY KEY\b", "INTEGER GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        statement,
    )  # fmt: skip
    return re.sub(r"\bREAL\b", "DOUBLE PRECISION", statement)


class _PostgresTransaction:
    def __init__(self, connection: psycopg.Connection[Any]) -> None:
        self.connection = connection

    def execute(self, sql: str, parameters: Parameters = ()) -> Cursor:
        return self.connection.execute(_postgres_sql(sql), parameters or None)

    def executemany(self, sql: str, rows: Sequence[Parameters]) -> None:
        with self.connection.cursor() as cursor:
            cursor.executemany(_postgres_sql(sql), rows)

    def insert(self, sql: str, parameters: Parameters) -> int:
        row = self.execute(sql + " RETURNING id", parameters).fetchone()
        return int(row[0])


class PostgresDatabase(Database):
    """A History in a PostgreSQL database, shared by every node of a cluster."""

    def __init__(self, url: str, hint: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise ConfigError(
                f"history: a PostgreSQL History ({hide_password(url)}) needs psycopg; install"
                f" it with {INSTALL_HINT}"
            ) from None
        self._psycopg = psycopg
        rest = url.split("://", 1)[1]
        self._conninfo = f"postgresql://{rest}"
        self.url = hide_password(f"postgresql://{rest}")
        self.hint = hint
        self._closed = False
        self.connection = self._connect()

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            # Autocommit: a read is its own short transaction, so an idle History never holds
            # a snapshot or locks; writes open an explicit transaction.
            return self._psycopg.connect(
                self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
            )
        except self._psycopg.Error as error:
            raise DataError(
                f"history: cannot connect to {self.url} ({_first_line(error)}); check that the"
                f" server runs and the URL is right, or {self.hint}"
            ) from None

    def _live(self) -> psycopg.Connection[Any]:
        """The connection, opened again if the last one broke (a server restart, a dropped
        network): the statement that met the break failed, later ones need not."""
        if self.connection.broken and not self._closed:
            logger.info("history: reconnecting to %s: the connection broke", self.url)
            self.connection = self._connect()
        return self.connection

    def __str__(self) -> str:
        return self.url

    def version(self) -> int:
        try:
            found = (
                self._live()
                .execute("SELECT to_regclass('zen_schema_version') IS NOT NULL")
                .fetchone()
            )
            if not (found and found[0]):
                return 0
            row = self.connection.execute("SELECT max(version) FROM zen_schema_version").fetchone()
        except self._psycopg.Error as error:
            raise self._data_error(error) from None
        return int(row[0] or 0) if row else 0

    def migrate(self, migrations: Sequence[Migration]) -> None:
        version = self.version()
        if version > len(migrations):
            raise self._newer(version, len(migrations))
        if version == len(migrations):
            return  # the common case: no lock, no write
        for target, migration in enumerate(migrations, start=1):
            self._apply(target, migration)

    def _apply(self, target: int, migration: Migration) -> None:
        psycopg = self._psycopg
        try:
            with self.connection.transaction():
                # Held until the transaction ends: nodes opening the database together migrate
                # one after the other, and the later ones find the work done.
                self.connection.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
                self.connection.execute(
                    "CREATE TABLE IF NOT EXISTS zen_schema_version (version INTEGER NOT NULL)"
                )
                if self.version() >= target:
                    return
                if isinstance(migration, str):
                    for statement in statements(migration):
                        self.connection.execute(_postgres_ddl(statement))
                else:
                    migration(_PostgresTransaction(self.connection))
                self.connection.execute("DELETE FROM zen_schema_version")
                self.connection.execute(
                    "INSERT INTO zen_schema_version (version) VALUES (%s)", (target,)
                )
        except psycopg.Error as error:
            raise self._migration_failed(target, _first_line(error)) from None
        logger.info("history: %s migrated to schema version %d", self.url, target)

    @contextmanager
    def write(self) -> Iterator[Transaction]:
        try:
            connection = self._live()
            with connection.transaction():
                yield _PostgresTransaction(connection)
        except self._psycopg.Error as error:
            raise self._data_error(error) from None

    def read(self, sql: str, parameters: Parameters = ()) -> list[Any]:
        from psycopg.rows import dict_row

        try:
            with self._live().cursor(row_factory=dict_row) as cursor:
                return cursor.execute(_postgres_sql(sql), parameters or None).fetchall()
        except self._psycopg.Error as error:
            raise self._data_error(error) from None

    def optuna_url(self) -> str:
        return f"postgresql+psycopg://{self._conninfo.split('://', 1)[1]}"

    def close(self) -> None:
        self._closed = True
        self.connection.close()

    def _data_error(self, error: Exception) -> DataError:
        return DataError(f"history: {self.url}: {_first_line(error)}")


def _first_line(error: Exception) -> str:
    """An error's first line: psycopg's messages add a LINE/context block."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]
