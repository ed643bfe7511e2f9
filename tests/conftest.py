"""Fixtures: a real database (SQLite, or PostgreSQL when VRM_TEST_DATABASE_URL is set),
migrated with Alembic exactly as in production, one app per session, and a real HTTP
server for tests that need one. Every table is emptied after each test that used the app,
so tests can share the live server and still start from nothing."""

from __future__ import annotations

import base64
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, delete, make_url, text
from werkzeug.serving import make_server

from vrm import clock
from vrm.app import create_app
from vrm.crypto import KeyMaterial
from vrm.limits import limiter
from vrm.migrate import upgrade
from vrm.models import Base

PASSWORD = "correct horse battery staple"

# The OWASP floor: the cheapest settings the app accepts, so tests stay quick.
FAST_ARGON2 = {"ARGON2_MEMORY_KIB": 19_456, "ARGON2_TIME_COST": 2, "ARGON2_PARALLELISM": 1}


def pytest_report_header() -> str:
    url = os.environ.get("VRM_TEST_DATABASE_URL")
    return f"database: {'PostgreSQL ' + url if url else 'SQLite'}"


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = os.environ.get("VRM_TEST_DATABASE_URL")
    if not server:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'vrm.sqlite3'}"
        return
    name = "vrm_test_" + secrets.token_hex(4)
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_url(database_url: str) -> str:
    upgrade(database_url)
    return database_url


@pytest.fixture(scope="session")
def keys_json() -> str:
    return KeyMaterial.generate().to_json()


@pytest.fixture(scope="session")
def app_settings(
    migrated_url: str, keys_json: str, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    return {
        "ENV": "test",
        "DATABASE_URL": migrated_url,
        "KEYS": keys_json,
        "INSTANCE_PATH": str(tmp_path_factory.mktemp("instance")),
        "LOGIN_RATE_LIMIT": "1000 per minute",
        "SIGNUP_RATE_LIMIT": "1000 per minute",
        **FAST_ARGON2,
    }


@pytest.fixture(scope="session")
def app(app_settings: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_settings)
    yield application
    application.extensions["vrm"].engine.dispose()


@pytest.fixture(autouse=True)
def _empty_tables(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if "app" not in request.fixturenames:
        return
    application = request.getfixturevalue("app")
    with application.extensions["vrm"].engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
    with application.app_context():
        limiter.reset()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture(scope="session")
def live_server(app: Flask) -> Iterator[str]:
    """The app behind a real HTTP server on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def file_keyed_app(
    app: Flask, app_settings: dict[str, Any], tmp_path: Path
) -> Iterator[tuple[Flask, Path, dict[str, str]]]:
    """An app on the test database whose keyring is a file, as `vrm keys` needs, and the
    environment for running `vrm` against it. (``app`` is asked for so the tables are
    emptied after the test.)"""
    keys_file = tmp_path / "keys.json"
    keys_file.write_text(KeyMaterial.generate().to_json())
    settings = {**app_settings, "KEYS": None, "KEYS_FILE": str(keys_file)}
    env = {
        **os.environ,
        "VRM_KEYS_FILE": str(keys_file),
        "VRM_ENV": "test",
        "VRM_DATABASE_URL": settings["DATABASE_URL"],
        "VRM_INSTANCE_PATH": str(tmp_path),
        **{f"VRM_{k}": str(v) for k, v in FAST_ARGON2.items()},
    }
    env.pop("VRM_KEYS", None)
    application = create_app(settings)
    yield application, keys_file, env
    application.extensions["vrm"].engine.dispose()


@pytest.fixture
def frozen_clock() -> Iterator[list[datetime]]:
    """A clock the test moves by assigning ``frozen_clock[0]``."""
    moment = [datetime(2026, 11, 23, 12, 0, tzinfo=UTC)]
    clock.set_source(lambda: moment[0])
    yield moment
    clock.set_source(None)


def basic(email: str, password: str = PASSWORD) -> dict[str, str]:
    raw = base64.b64encode(f"{email}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


@dataclass
class Account:
    id: str
    email: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def make_account(client: FlaskClient, email: str) -> Account:
    response = client.post("/personal/v1/accounts", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.json
    token = client.post("/personal/v1/tokens", json={"name": "tests"}, headers=basic(email))
    assert token.status_code == 201, token.json
    return Account(response.json["id"], email, token.json["token"])


@pytest.fixture
def ada(client: FlaskClient) -> Account:
    return make_account(client, "ada@example.org")


@pytest.fixture
def bob(client: FlaskClient) -> Account:
    return make_account(client, "bob@example.org")
