"""Database layer: declarative base, column types, engines and the write transaction."""

from __future__ import annotations

import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any

from sqlalchemy import DateTime, Engine, MetaData, Text, TypeDecorator, create_engine, event
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from sqlalchemy.orm import DeclarativeBase, Session, mapped_column, sessionmaker

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and always returned timezone-aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not accepted; use UTC-aware values")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


UUIDPk = Annotated[uuid.UUID, mapped_column(primary_key=True, default=uuid.uuid4)]


def encrypted_column(*, nullable: bool = False) -> Any:
    """A column holding a keyring ciphertext; ``vrm keys rotate`` finds it by its info flag."""
    return mapped_column(Text, nullable=nullable, info={"encrypted": True})


def encrypted_columns() -> Iterator[tuple[Any, str]]:
    """Every (table, column name) that stores ciphertext."""
    for table in Base.metadata.sorted_tables:
        for column in table.columns:
            if column.info.get("encrypted"):
                yield table, column.name


# Idle SQLite connections kept per engine (a gunicorn worker's threads, a webhook worker's
# sending threads); busier moments open more, closed when returned.
SQLITE_POOL_SIZE = 16


def make_engine(url: str, *, sqlite_busy_timeout_ms: int = 10_000) -> Engine:
    """Create an engine; SQLite is tuned for several processes writing at once."""
    # hide_parameters: a failing statement is logged without its values (digests, ciphertext).
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, hide_parameters=True)
    # "sqlite://" (no path) is an in-memory database too: one connection, nothing to pool.
    if ":memory:" in url or url.split("://", 1)[-1] in ("", "/"):
        engine = create_engine(url, hide_parameters=True)
    else:
        # Connections are kept (up to SQLITE_POOL_SIZE idle; more are opened when needed and
        # closed after use), so a transaction does not pay for opening the file and the
        # pragmas below.
        engine = create_engine(
            url, pool_size=SQLITE_POOL_SIZE, max_overflow=-1, hide_parameters=True
        )
        _WRITE_LOCKS[engine] = (threading.RLock(), sqlite_busy_timeout_ms / 1000)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        # Take BEGIN out of the driver's hands so writes can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={int(sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        # A write takes the lock up front: a deferred transaction that upgrades to a writer
        # fails at once with SQLITE_BUSY instead of waiting out busy_timeout.
        if connection.get_execution_options().get("vrm_write"):
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            connection.exec_driver_sql("BEGIN")

    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


# SQLite has one writer at a time, and a writer that finds the lock taken sleeps in
# SQLite's busy handler (1 ms, then 2, 5, 10, ... up to 100 ms) before it looks again.
# Writers of the same process queue on this lock instead and start the moment the one
# before them commits; only writers of other processes still meet the busy handler. A
# writer waits for the lock no longer than it would have waited for SQLite's.
_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, tuple[threading.RLock, float]] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def _queued_writer(bind: Any) -> Iterator[None]:
    found = _WRITE_LOCKS.get(bind) if isinstance(bind, Engine) else None
    if found is None:
        yield
        return
    lock, timeout = found
    if not lock.acquire(timeout=timeout):
        raise SQLAlchemyTimeoutError("the database stayed busy with this process's writers")
    try:
        yield
    finally:
        lock.release()


@contextmanager
def write_transaction(session: Session) -> Iterator[Session]:
    """Run the block as one write transaction: committed at the end, rolled back on error."""
    with _queued_writer(session.get_bind()):
        if session.in_transaction():
            # End any read snapshot first; SQLite cannot upgrade a stale one to a writer.
            session.commit()
        session.connection(execution_options={"vrm_write": True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def insert_missing(session: Session, model: Any, rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping any whose primary or unique key is already there (a row
    written at the same moment by another request included)."""
    if not rows:
        return
    session.execute(conflict_insert(session)(model).on_conflict_do_nothing(), rows)


def conflict_insert(session: Session) -> Any:
    """The session's dialect's ``insert``, the one with ``on_conflict_do_nothing``."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert
