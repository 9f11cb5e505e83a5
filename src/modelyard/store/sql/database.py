"""The SQL metadata database: engine set-up for SQLite and PostgreSQL, transactions, migrations.

SQLite runs in WAL mode with a busy timeout and one writer: write transactions start with
``BEGIN IMMEDIATE`` (so two processes never deadlock upgrading a read lock) and, within a
process, take a lock first so threads queue here instead of in SQLite's busy handler.
PostgreSQL needs none of that; row locks do the serialising there.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.exc import DBAPIError

from modelyard.errors import ConfigError, ConflictError, StorageError

MIGRATIONS = Path(__file__).parent / "migrations"
#: the newest migration in migrations/versions (a test keeps the two in step)
SCHEMA_REVISION = "0006"
_WRITE = "modelyard_write"
_EVENTS = "modelyard_events"  # conn.info flag: this transaction wrote an outbox event
SQLITE_BUSY_TIMEOUT_S = 30.0
CHANNEL = "modelyard_events"  # PostgreSQL NOTIFY channel: a transaction wrote an event
LISTEN_POLL_S = 0.5  # how often the listener thread checks that it should stop
COALESCE_S = 0.025  # notifications this close together make one wake-up
log = logging.getLogger("modelyard.worker")


class Database:
    """One metadata database; hand out connections inside transactions."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        try:
            self.engine: Engine = _create_engine(url, echo=echo)
        except ConfigError:
            raise
        except Exception as e:  # SQLAlchemy raises several types for a bad URL
            raise ConfigError(f"db_url: cannot use {_redact(url)!r}: {e}", field="db_url") from e
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._commit_listeners: list[Callable[[], None]] = []
        self._listener: _Listener | None = None

    def add_commit_listener(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` after each commit that wrote an outbox event (``mark_event``):
        in this process at once; on PostgreSQL also for other processes' commits, through
        ``LISTEN``/``NOTIFY`` (a thread with its own connection, started on first use)."""
        self._commit_listeners.append(callback)
        if not self.is_sqlite and self._listener is None:
            self._listener = _Listener(self.engine, self._notify)
            self._listener.start()

    def _notify(self) -> None:
        for callback in self._commit_listeners:
            callback()

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Connection]:
        """Run a block in one transaction: commit on success, roll back on any error."""
        lock = self._write_lock if (write and self._write_lock) else nullcontext()
        with lock:
            try:
                with self.engine.connect() as raw:
                    conn = raw.execution_options(**{_WRITE: write})
                    try:
                        with conn.begin():
                            yield conn
                    except BaseException:
                        raw.info.pop(_EVENTS, None)
                        raise
                    if raw.info.pop(_EVENTS, False):
                        for callback in self._commit_listeners:
                            callback()
            except sa_exc.IntegrityError as e:
                # Services check uniqueness first; this is the loser of a concurrent race.
                raise ConflictError(
                    f"a concurrent change conflicted with this one; retry ({_first_line(e)})"
                ) from e
            except DBAPIError as e:
                raise StorageError(f"metadata database error: {_first_line(e)}") from e

    def migrate(self) -> None:
        """Bring the schema to the newest migration (no-op when already there).

        Alembic is imported only when there is something to do: it costs ~80 ms of start-up,
        which every CLI call would otherwise pay.
        """
        current = self.schema_revision()
        if current == SCHEMA_REVISION:
            return
        from alembic import command
        from alembic.config import Config
        from alembic.script import ScriptDirectory
        from alembic.util import CommandError

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        try:
            if current is not None:
                ScriptDirectory.from_config(config).get_revision(current)
        except CommandError:
            raise ConfigError(
                f"db_url: the database schema is at revision {current!r}, which this modelyard "
                f"does not know (it knows up to {SCHEMA_REVISION!r}); upgrade modelyard",
                field="db_url",
            ) from None
        with self.transaction(write=True) as conn:
            if not self.is_sqlite:  # one migrator at a time when many servers start together
                conn.execute(text("SELECT pg_advisory_xact_lock(7305101)"))
            config.attributes["connection"] = conn
            command.upgrade(config, "head")

    def schema_revision(self) -> str | None:
        """The applied migration, or None for an empty database."""
        try:
            with self.engine.connect() as conn:
                if not inspect(conn).has_table("alembic_version"):
                    return None
                revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError as e:
            raise StorageError(
                f"cannot open the metadata database {_redact(self.url)!r}: {_first_line(e)}"
            ) from e
        return None if revision is None else str(revision)

    def dispose(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None
        self.engine.dispose()


def mark_event(conn: Connection) -> None:
    """Note that ``conn``'s transaction wrote an event: commit listeners run after it (and,
    on PostgreSQL, other processes' listeners hear of it when it commits)."""
    if not conn.info.get(_EVENTS) and conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"NOTIFY {CHANNEL}")
    conn.info[_EVENTS] = True


class _Listener:
    """Listens for other processes' event commits on PostgreSQL and calls ``on_event``."""

    def __init__(self, engine: Engine, on_event: Callable[[], None]) -> None:
        self._dsn = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_event = on_event
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="db-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                with psycopg.connect(self._dsn, autocommit=True) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    while not self._stop.is_set():
                        if any(True for _ in conn.notifies(timeout=LISTEN_POLL_S)):
                            # one wake-up per burst: a busy store notifies hundreds of
                            # times a second, and each wake-up costs every thread a query
                            self._stop.wait(COALESCE_S)
                            for _ in conn.notifies(timeout=0.001):
                                pass
                            self._on_event()
            except Exception:  # the database went away: try again, the poll covers the gap
                log.warning("listening for event notifications failed; retrying", exc_info=True)
                self._stop.wait(1.0)


def _create_engine(url: str, *, echo: bool) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            echo=echo,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, echo=echo, pool_size=10, max_overflow=20, pool_pre_ping=True)
    raise ConfigError(
        f"db_url: {_redact(url)!r} is not supported; use sqlite:///PATH or postgresql+psycopg://…",
        field="db_url",
    )


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA case_sensitive_like=ON")  # LIKE as on PostgreSQL; ILIKE ignores case
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(_WRITE, True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _first_line(error: DBAPIError) -> str:
    return str(error.orig).strip().splitlines()[0]


def _redact(url: str) -> str:
    """Hide a password in a database URL before it reaches a message or a log."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in credentials else url
