from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text

from vrm import clock
from vrm.accounts.models import Person
from vrm.db import make_engine, make_sessionmaker, write_transaction
from vrm.migrate import drift


def test_migrations_match_the_models(migrated_url):
    assert drift(migrated_url) == []


def test_sqlite_is_tuned_for_concurrent_use(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}", sqlite_busy_timeout_ms=1234)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
    engine.dispose()


def test_sqlite_writes_begin_immediate(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    seen: list[str] = []

    from sqlalchemy import event

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args):  # noqa: ANN001
        seen.append(statement)

    session = make_sessionmaker(engine)()
    with write_transaction(session):
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    session.close()
    engine.dispose()
    assert "BEGIN IMMEDIATE" in seen


def test_concurrent_writers_on_sqlite_never_see_database_is_locked(tmp_path):
    """Eight threads, each reading then writing: the pattern that fails with deferred BEGIN."""
    url = f"sqlite:///{tmp_path / 'x.sqlite3'}"
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE counter (n INTEGER)")
        connection.exec_driver_sql("INSERT INTO counter VALUES (0)")
    sessions = make_sessionmaker(engine)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(25):
                with sessions() as session:
                    session.execute(text("SELECT n FROM counter")).scalar()  # a read first
                    with write_transaction(session):
                        n = session.execute(text("SELECT n FROM counter")).scalar()
                        session.execute(text("UPDATE counter SET n = :n"), {"n": n + 1})
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with engine.connect() as connection:
        total = connection.exec_driver_sql("SELECT n FROM counter").scalar()
    engine.dispose()
    assert errors == []
    assert total == 8 * 25  # no lost update either


def test_a_failed_write_transaction_leaves_nothing(app):
    sessions = app.extensions["vrm"].sessions
    with sessions() as session, pytest.raises(RuntimeError):
        with write_transaction(session):
            now = clock.now()
            session.add(
                Person(
                    id=uuid.uuid4(),
                    email="x",
                    email_index="i" * 64,
                    password_hash="h",
                    created_at=now,
                    updated_at=now,
                )
            )
            session.flush()
            raise RuntimeError("boom")
    with sessions() as session:
        assert session.query(Person).count() == 0


def test_naive_datetimes_are_refused(app):
    from datetime import datetime

    with app.extensions["vrm"].sessions() as session, pytest.raises(Exception, match="naive"):
        now = datetime(2026, 1, 1)  # noqa: DTZ001
        session.add(
            Person(
                id=uuid.uuid4(),
                email="x",
                email_index="j" * 64,
                password_hash="h",
                created_at=now,
                updated_at=now,
            )
        )
        session.flush()
