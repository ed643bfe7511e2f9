"""Personal values never reach the database in plaintext, and keys rotate without loss."""

from __future__ import annotations

import json
import subprocess
import sys
from uuid import UUID

from sqlalchemy import create_engine, select, text, update

from tests.conftest import PASSWORD, basic, make_account
from vrm.app import create_app
from vrm.models import Base
from vrm.profile.models import ProfileAttribute as PA

SECRETS = [
    "Augusta",
    "Lovelace",
    "+447911123456",
    "Hidden Street",
    "analytical_engine",
    "ada@example.org",
    "ada.contact@example.net",
    "my secret laptop",
]


def raw_dump(url: str) -> str:
    """Every row of every table, as text, read around the ORM."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            rows = [
                repr(tuple(row))
                for table in Base.metadata.sorted_tables
                for row in connection.execute(text(f"SELECT * FROM {table.name}"))
            ]
    finally:
        engine.dispose()
    return "\n".join(rows)


def fill_profile(client, account):
    response = client.patch(
        "/personal/v1/profile",
        headers=account.auth,
        json={
            "given_name": "Augusta",
            "family_name": "Lovelace",
            "phone": "+447911123456",
            "contact_email": "ada.contact@example.net",
            "postal_address": {"street_lines": ["Hidden Street"], "country": "GB"},
            "custom": {"engine": "analytical_engine"},
        },
    )
    assert response.status_code == 200


def test_no_personal_value_is_stored_in_plaintext(client, app, migrated_url):
    ada = make_account(client, "ada@example.org")
    client.post("/personal/v1/tokens", json={"name": "my secret laptop"}, headers=basic(ada.email))
    fill_profile(client, ada)
    dump = raw_dump(migrated_url)
    for secret in SECRETS:
        assert secret.lower() not in dump.lower(), secret
    assert ada.token not in dump


def test_a_ciphertext_moved_to_another_row_does_not_decrypt(client, app, migrated_url):
    ada = make_account(client, "ada@example.org")
    bob = make_account(client, "bob@example.org")
    fill_profile(client, ada)
    client.patch("/personal/v1/profile", json={"given_name": "Bob"}, headers=bob.auth)
    adas_value = select(PA.value).where(PA.field == "given_name", PA.person_id == UUID(ada.id))
    with app.extensions["vrm"].engine.begin() as connection:
        stolen = connection.execute(adas_value).scalar_one()
        connection.execute(
            update(PA)
            .where(PA.field == "given_name", PA.person_id == UUID(bob.id))
            .values(value=stolen)
        )
    # Bob's row now holds Ada's ciphertext: the AAD (table:column:row) no longer matches.
    response = client.get("/personal/v1/profile", headers=bob.auth)
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "Augusta" not in response.get_data(as_text=True)


def run_vrm(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vrm.cli", *args],
        env=env,
        text=True,
        capture_output=True,
        timeout=120,
        check=False,
    )


def test_rotation_reencrypts_everything_so_the_old_key_can_be_retired(file_keyed_app, app):
    application, keys_file, env = file_keyed_app
    client = application.test_client()
    ada = make_account(client, "ada@example.org")
    fill_profile(client, ada)
    old_kid = json.loads(keys_file.read_text())["encryption"]["active"]

    # Retiring the only, active key is refused.
    refused = run_vrm("keys", "retire", old_kid, env=env)
    assert refused.returncode != 0 and "active" in refused.stderr

    rotated = run_vrm("keys", "rotate", env=env)
    assert rotated.returncode == 0, rotated.stderr
    report = json.loads(rotated.stdout)
    assert report["previous"] == old_kid and report["reencrypted"] >= 8

    listing = {k["kid"]: k for k in json.loads(run_vrm("keys", "list", env=env).stdout)}
    assert listing[old_kid]["values"] == 0
    assert listing[report["active"]]["active"] is True

    retired = run_vrm("keys", "retire", old_kid, env=env)
    assert retired.returncode == 0, retired.stderr
    assert old_kid not in json.loads(keys_file.read_text())["encryption"]["keys"]

    # The running app picks the new keyring up by itself and still reads everything.
    application.extensions["vrm"].keyring.refresh(force=True)
    profile = client.get("/personal/v1/profile", headers=ada.auth).json
    assert profile["given_name"] == "Augusta"
    assert profile["postal_address"]["street_lines"] == ["Hidden Street"]
    tokens = client.get("/personal/v1/tokens", headers=ada.auth).json["data"]
    assert tokens[0]["name"] == "tests"
    assert (
        client.post(
            "/personal/v1/tokens", json={"name": "x"}, headers=basic(ada.email, PASSWORD)
        ).status_code
        == 201
    )

    # A fresh process with only the new key reads it all too.
    fresh = create_app({**application.extensions["vrm"].settings})
    assert fresh.test_client().get("/personal/v1/profile", headers=ada.auth).json == profile
    fresh.extensions["vrm"].engine.dispose()


def test_retiring_a_key_still_in_use_is_refused(file_keyed_app):
    application, keys_file, env = file_keyed_app
    client = application.test_client()
    make_account(client, "ada@example.org")
    doc = json.loads(keys_file.read_text())
    old_kid = doc["encryption"]["active"]
    # Add a second key and make it active without re-encrypting.
    doc["encryption"]["keys"]["k-spare"] = doc["encryption"]["keys"][old_kid]
    doc["encryption"]["active"] = "k-spare"
    keys_file.write_text(json.dumps(doc))
    refused = run_vrm("keys", "retire", old_kid, env=env)
    assert refused.returncode != 0
    assert "still use key" in refused.stderr
