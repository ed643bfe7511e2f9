from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from tests.conftest import basic
from vrm.accounts.models import PersonalToken
from vrm.crypto import token_digest


def test_a_token_is_prefixed_random_and_stored_only_as_its_digest(client, app, ada):
    assert ada.token.startswith("vrm_pat_")
    assert len(ada.token.removeprefix("vrm_pat_")) >= 43  # 32 bytes, base64url
    with app.extensions["vrm"].sessions() as session:
        stored = session.scalars(select(PersonalToken)).one()
    assert stored.digest == token_digest(ada.token)
    assert ada.token not in repr(vars(stored))


def test_the_token_list_never_shows_secrets(client, ada):
    listing = client.get("/personal/v1/tokens", headers=ada.auth).json
    assert [t["name"] for t in listing["data"]] == ["tests"]
    assert listing["data"][0]["hint"] == ada.token[:12]
    assert all("token" not in t for t in listing["data"])


def test_a_revoked_token_is_refused_on_the_next_request(client, ada):
    second = client.post("/personal/v1/tokens", json={"name": "second"}, headers=basic(ada.email))
    token_id = second.json["id"]
    other = {"Authorization": f"Bearer {second.json['token']}"}
    assert client.get("/personal/v1/profile", headers=other).status_code == 200
    assert client.delete(f"/personal/v1/tokens/{token_id}", headers=ada.auth).status_code == 204
    refused = client.get("/personal/v1/profile", headers=other)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]


def test_an_expired_token_is_refused(client, ada, frozen_clock):
    short = client.post(
        "/personal/v1/tokens",
        json={"name": "short", "expires_in_days": 1},
        headers=basic(ada.email),
    )
    auth = {"Authorization": f"Bearer {short.json['token']}"}
    assert client.get("/personal/v1/profile", headers=auth).status_code == 200
    frozen_clock[0] += timedelta(days=1, seconds=1)
    assert client.get("/personal/v1/profile", headers=auth).status_code == 401


def test_tokens_page_newest_first_with_a_cursor(client, frozen_clock, ada):
    # frozen_clock before ada: the account's own token is made on the frozen clock too,
    # so it is the oldest whatever the time of day the suite runs.
    for n in range(4):
        frozen_clock[0] += timedelta(seconds=1)
        client.post("/personal/v1/tokens", json={"name": f"t{n}"}, headers=basic(ada.email))
    first = client.get("/personal/v1/tokens?limit=3", headers=ada.auth).json
    assert [t["name"] for t in first["data"]] == ["t3", "t2", "t1"]
    rest = client.get(
        f"/personal/v1/tokens?limit=3&cursor={first['next_cursor']}", headers=ada.auth
    ).json
    assert [t["name"] for t in rest["data"]] == ["t0", "tests"]
    assert rest["next_cursor"] is None


def test_a_malformed_cursor_is_a_clear_error(client, ada):
    response = client.get("/personal/v1/tokens?cursor=not-a-cursor", headers=ada.auth)
    assert response.status_code == 422
    assert response.json["errors"][0]["field"] == "cursor"


def test_a_person_cannot_revoke_or_see_another_persons_token(client, ada, bob):
    bobs = client.get("/personal/v1/tokens", headers=bob.auth).json["data"][0]["id"]
    assert client.delete(f"/personal/v1/tokens/{bobs}", headers=ada.auth).status_code == 404
    assert client.get("/personal/v1/profile", headers=bob.auth).status_code == 200
    adas = client.get("/personal/v1/tokens", headers=ada.auth).json["data"]
    assert [t["id"] for t in adas] != [bobs]


def test_requests_without_a_token_are_challenged(client):
    for method, path in [
        ("GET", "/personal/v1/profile"),
        ("PATCH", "/personal/v1/profile"),
        ("GET", "/personal/v1/profile/history"),
        ("GET", "/personal/v1/tokens"),
        ("GET", "/personal/v1/export"),
        ("DELETE", "/personal/v1/account"),
    ]:
        for headers in (
            {},
            {"Authorization": "Bearer vrm_pat_nope"},
            {"Authorization": "Basic YWRhOng="},
        ):
            response = client.open(path, method=method, headers=headers, json={})
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["WWW-Authenticate"].startswith("Bearer")
            assert response.mimetype == "application/problem+json"
