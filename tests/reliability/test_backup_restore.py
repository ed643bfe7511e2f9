"""A backup restored with the same keys gives back everything, through the API, and the
backup itself holds no personal value in the clear (docs/backups.md says how).

PostgreSQL (its pass): ``pg_dump -Fc``, ``pg_restore`` into a new database, ``vrm db
upgrade``. SQLite (its pass): ``VACUUM INTO`` on the live file while another person keeps
writing."""

from __future__ import annotations

import sqlite3
import subprocess
import threading
import uuid
from collections.abc import Callable
from contextlib import closing
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import make_url

from tests.conftest import FAST_ARGON2, PASSWORD, basic
from tests.reliability.conftest import (
    PG_BIN,
    PostgresCluster,
    new_keys,
    on_postgres,
    on_sqlite,
    run_vrm,
    vrm_env,
)
from vrm.app import create_app
from vrm.migrate import upgrade
from vrm.terms.roster import DEFAULT_TERMS
from vrm.vendors.service import VendorService

# Ada's values: each must come back, and none may be readable in the backup.
PROFILE = {
    "given_name": "Augusta",
    "family_name": "King-Noel",
    "phone": "+447911123456",
    "contact_email": "augusta.contact@example.net",
    "custom": {"favourite_shop": "Babbage and Daughters"},
}
EMAIL = "augusta.ada@example.org"
MESSAGE = "Is the Difference Engine back in stock?"
INTENTION = {"title": "A brass orrery for the study", "category": "sports/cycling/bicycles"}
SECRETS = [
    EMAIL,
    MESSAGE,
    INTENTION["title"],
    PROFILE["family_name"],
    PROFILE["phone"],
    PROFILE["contact_email"],
    PROFILE["custom"]["favourite_shop"],
]


def app_on(url: str, keys: str, instance: Path) -> Flask:
    return create_app(
        {"ENV": "test", "DATABASE_URL": url, "KEYS": keys, "INSTANCE_PATH": str(instance)}
        | FAST_ARGON2
    )


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.get_data(as_text=True)
    return response.json


def fill(app: Flask) -> tuple[dict[str, str], dict[str, str], str]:
    """Ada with a profile, a consent to Acme, a conversation and an intention; her token
    header, Acme's token header and her customer_ref at Acme."""
    client = app.test_client()
    ok(client.post("/personal/v1/accounts", json={"email": EMAIL, "password": PASSWORD}), 201)
    token = ok(client.post("/personal/v1/tokens", json={"name": "t"}, headers=basic(EMAIL)), 201)
    ada = {"Authorization": f"Bearer {token['token']}"}
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        vendor, oauth_client, secret = VendorService(session, rt.keyring).create_vendor("Acme")
        vendor_id, client_id = str(vendor.id), oauth_client.client_id
    issued = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        headers=basic(client_id, secret),
    )
    acme = {"Authorization": f"Bearer {ok(issued)['access_token']}"}
    ok(client.put("/vendor/v1/terms", json={"accepted": list(DEFAULT_TERMS)}, headers=acme))
    ok(client.patch("/personal/v1/profile", json=PROFILE, headers=ada))
    consent = {
        "vendor_id": vendor_id,
        "fields": ["given_name", "phone"],
        "purposes": ["ServiceProvision"],
    }
    customer_ref = ok(client.post("/personal/v1/consents", json=consent, headers=ada), 201)[
        "customer_ref"
    ]
    opening = {"vendor_id": vendor_id, "text": MESSAGE}
    ok(client.post("/personal/v1/conversations", json=opening, headers=ada), 201)
    ok(client.post("/personal/v1/intentions", json=INTENTION, headers=ada), 201)
    return ada, acme, customer_ref


def everything(client: FlaskClient, ada: dict[str, str]) -> dict[str, Any]:
    """What Ada reads of herself through the API."""
    conversations = ok(client.get("/personal/v1/conversations", headers=ada))["data"]
    export = ok(client.get("/personal/v1/export", headers=ada))
    export.pop("exported_at")
    return {
        "profile": ok(client.get("/personal/v1/profile", headers=ada)),
        "consents": ok(client.get("/personal/v1/consents", headers=ada))["data"],
        "intentions": ok(client.get("/personal/v1/intentions", headers=ada))["data"],
        "conversations": conversations,
        "messages": [
            ok(client.get(f"/personal/v1/conversations/{c['id']}/messages", headers=ada))["data"]
            for c in conversations
        ],
        "export": export,
    }


def postgres_backup(cluster: PostgresCluster, source: str, _app: Flask) -> tuple[str, bytes]:
    """``pg_dump -Fc``, restored into a new database; that database, and the dump as plain
    SQL (everything it holds, readable)."""

    def libpq(url: str) -> str:
        return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)

    dump = cluster.root / f"vrm-{uuid.uuid4().hex[:6]}.dump"
    subprocess.run([PG_BIN / "pg_dump", "-Fc", "-f", dump, libpq(source)], check=True)
    target = cluster.create_database("vrm_restored")
    subprocess.run(
        [PG_BIN / "pg_restore", "--no-owner", "--exit-on-error", "-d", libpq(target), dump],
        check=True,
    )
    plain = subprocess.run(
        [PG_BIN / "pg_restore", "-f", "-", dump], check=True, capture_output=True
    ).stdout
    return target, plain


def sqlite_backup(tmp_path: Path, source: str, app: Flask) -> tuple[str, bytes]:
    """``VACUUM INTO`` a new file while another person keeps publishing."""
    writing = threading.Event()
    stop = threading.Event()

    def keep_writing() -> None:
        client = app.test_client()
        client.post(
            "/personal/v1/accounts", json={"email": "bob@example.org", "password": PASSWORD}
        )
        token = client.post(
            "/personal/v1/tokens", json={"name": "t"}, headers=basic("bob@example.org")
        )
        bob = {"Authorization": f"Bearer {token.json['token']}"}
        while not stop.is_set():
            client.post(
                "/personal/v1/intentions", json={**INTENTION, "title": "Bob's"}, headers=bob
            )
            writing.set()

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        assert writing.wait(30)
        copy = tmp_path / "backup.sqlite3"
        with closing(sqlite3.connect(make_url(source).database, timeout=30)) as live:
            live.execute("VACUUM INTO ?", (str(copy),))
    finally:
        stop.set()
        writer.join(timeout=30)
    return f"sqlite:///{copy}", copy.read_bytes()


@pytest.mark.parametrize(
    "backend",
    [pytest.param("postgres", marks=on_postgres), pytest.param("sqlite", marks=on_sqlite)],
)
def test_a_backup_restored_with_the_same_keys_reads_back_equal_and_holds_no_plaintext(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    backup: Callable[[str, Flask], tuple[str, bytes]]
    if backend == "postgres":
        cluster: PostgresCluster = request.getfixturevalue("private_postgres")
        source = cluster.create_database("vrm_source")
        backup = partial(postgres_backup, cluster)
    else:
        source = f"sqlite:///{tmp_path / 'vrm.sqlite3'}"
        backup = partial(sqlite_backup, tmp_path)
    upgrade(source)
    keys = new_keys()

    original = app_on(source, keys, tmp_path)
    try:
        ada, acme, customer_ref = fill(original)
        client = original.test_client()
        vendor_view = ok(
            client.get(
                f"/vendor/v1/customers/{customer_ref}/profile",
                query_string={"purpose": "ServiceProvision"},
                headers=acme,
            )
        )
        before = everything(client, ada)
        restored_url, contents = backup(source, original)
    finally:
        original.extensions["vrm"].engine.dispose()

    for secret in SECRETS:
        assert secret.encode() not in contents, f"{secret!r} is readable in the backup"

    # The documented recovery: restore, bring the schema up to date, start with the same keys.
    run_vrm(vrm_env(restored_url, keys, tmp_path), "db", "upgrade")
    restored = app_on(restored_url, keys, tmp_path)
    try:
        client = restored.test_client()
        assert everything(client, ada) == before
        assert before["profile"] == {**PROFILE, **before["profile"]}  # the values, decrypted
        assert [m["text"] for m in before["messages"][0]] == [MESSAGE]
        again = client.get(
            f"/vendor/v1/customers/{customer_ref}/profile",
            query_string={"purpose": "ServiceProvision"},
            headers=acme,
        )
        assert ok(again) == vendor_view
        # Logging in needs the email's blind index, made with the same keys.
        assert (
            client.post("/personal/v1/tokens", json={"name": "x"}, headers=basic(EMAIL)).status_code
            == 201
        )
    finally:
        restored.extensions["vrm"].engine.dispose()
