"""Creating POSTs honour Idempotency-Key: a retry gets the first response, not a second
resource; keys are scoped to their caller; a key reused for another request is refused."""

from __future__ import annotations

import threading
import uuid

import httpx
from sqlalchemy import func, select, text

from tests.conftest import PASSWORD
from vrm.consents.models import Consent
from vrm.terms.roster import DEFAULT_TERMS
from vrm.terms.service import TermsService
from vrm.vendors.service import VendorService


def vendor_id(app) -> str:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        vendor, _, _ = VendorService(session, rt.keyring).create_vendor("Velo")
        TermsService(session, rt.keyring).set_for_vendor(vendor.id, list(DEFAULT_TERMS))
        return str(vendor.id)


def count_consents(app) -> int:
    with app.extensions["vrm"].sessions() as session:
        return session.scalar(select(func.count()).select_from(Consent))


def grant(client, account, vendor: str, key: str | None, fields=("given_name",)):
    headers = {**account.auth, **({"Idempotency-Key": key} if key else {})}
    body = {"vendor_id": vendor, "fields": list(fields), "purposes": ["ServiceProvision"]}
    return client.post("/personal/v1/consents", json=body, headers=headers)


def test_a_retry_with_the_same_key_replays_the_first_response(client, app, ada):
    vendor = vendor_id(app)
    key = str(uuid.uuid4())
    first = grant(client, ada, vendor, key)
    again = grant(client, ada, vendor, key)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json
    assert again.headers["Idempotent-Replayed"] == "true"
    assert count_consents(app) == 1
    assert grant(client, ada, vendor, str(uuid.uuid4())).json["id"] != first.json["id"]
    assert count_consents(app) == 2


def test_a_key_reused_for_a_different_request_is_refused(client, app, ada):
    vendor = vendor_id(app)
    key = str(uuid.uuid4())
    grant(client, ada, vendor, key)
    other = grant(client, ada, vendor, key, fields=("phone",))
    assert other.status_code == 409
    assert other.json["type"] == "urn:vrm:problem:idempotency-key-reused"
    assert count_consents(app) == 1


def test_keys_belong_to_their_caller(client, app, ada, bob):
    vendor = vendor_id(app)
    key = str(uuid.uuid4())
    adas = grant(client, ada, vendor, key)
    bobs = grant(client, bob, vendor, key)
    assert bobs.status_code == 201 and "Idempotent-Replayed" not in bobs.headers
    assert bobs.json["id"] != adas.json["id"]


def test_an_error_is_not_replayed(client, app, ada):
    vendor = vendor_id(app)
    key = str(uuid.uuid4())
    body = {
        "vendor_id": str(uuid.uuid4()),
        "fields": ["given_name"],
        "purposes": ["ServiceProvision"],
    }
    headers = {**ada.auth, "Idempotency-Key": key}
    assert client.post("/personal/v1/consents", json=body, headers=headers).status_code == 404
    assert client.post("/personal/v1/consents", json=body, headers=headers).status_code == 404
    assert grant(client, ada, vendor, str(uuid.uuid4())).status_code == 201


def test_a_bad_key_is_named(client, ada, app):
    vendor = vendor_id(app)
    response = grant(client, ada, vendor, "x" * 256)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "Idempotency-Key"


def test_the_stored_response_is_encrypted(client, app, ada):
    vendor = vendor_id(app)
    grant(client, ada, vendor, "retry-me-please")
    with app.extensions["vrm"].engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM idempotency_records")).all()
    dump = repr(rows)
    assert len(rows) == 1
    assert "retry-me-please" not in dump and "given_name" not in dump and "cus_" not in dump


def test_concurrent_sign_ups_with_one_key_make_one_account(live_server, app):
    """Twelve clients race with the same key and body: one account, identical answers."""
    body = {"email": "race@example.org", "password": PASSWORD}
    results: list[httpx.Response] = []

    def post() -> None:
        with httpx.Client(trust_env=False) as http:
            results.append(
                http.post(
                    f"{live_server}/personal/v1/accounts",
                    json=body,
                    headers={"Idempotency-Key": "one-sign-up"},
                    timeout=30,
                )
            )

    threads = [threading.Thread(target=post) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert {r.status_code for r in results} == {201}
    assert len({r.json()["id"] for r in results}) == 1
    with app.extensions["vrm"].engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM persons")).scalar() == 1


def test_erasure_takes_the_stored_responses_with_it(client, app):
    body = {"email": "gone@example.org", "password": PASSWORD}
    first = client.post("/personal/v1/accounts", json=body, headers={"Idempotency-Key": "k1"})
    assert first.status_code == 201
    from tests.conftest import basic

    token = client.post(
        "/personal/v1/tokens", json={"name": "t"}, headers=basic("gone@example.org")
    ).json["token"]
    erased = client.delete(
        "/personal/v1/account",
        json={"password": PASSWORD},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert erased.status_code == 204
    with app.extensions["vrm"].engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM idempotency_records")).scalar() == 0
    again = client.post("/personal/v1/accounts", json=body, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.json["id"] != first.json["id"]
