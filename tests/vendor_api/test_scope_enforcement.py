"""Each vendor resource declares its scope at the door; the protector enforces it."""

from __future__ import annotations

import base64

import pytest

from vendor_api.auth import require_oauth
from vrm.app import create_app
from vrm.vendors.service import VendorService


@pytest.fixture
def scoped_app(app_settings):
    """The app plus one resource that needs profile:read, as later resources will."""
    application = create_app(app_settings)

    @application.get("/vendor/v1/_scoped")
    @require_oauth("profile:read")
    def scoped():
        return {"ok": True}

    yield application
    application.extensions["vrm"].engine.dispose()


def client_token(application, scope: str) -> str:
    rt = application.extensions["vrm"]
    with rt.sessions() as session:
        _, client, secret = VendorService(session, rt.keyring).create_vendor(
            "Scoped", scope="profile:read intentions:read"
        )
        client_id = client.client_id
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = application.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 200, response.json
    assert response.json["scope"] == scope
    return response.json["access_token"]


def test_a_token_without_the_scope_gets_403_insufficient_scope(app, scoped_app):
    token = client_token(scoped_app, "intentions:read")
    response = scoped_app.test_client().get(
        "/vendor/v1/_scoped", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 403
    assert response.mimetype == "application/problem+json"
    assert response.json["error"] == "insufficient_scope"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


def test_a_token_with_the_scope_passes(app, scoped_app):
    token = client_token(scoped_app, "profile:read")
    response = scoped_app.test_client().get(
        "/vendor/v1/_scoped", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200
    assert response.json == {"ok": True}


def test_a_client_cannot_get_a_scope_it_was_not_registered_for(app, scoped_app):
    rt = scoped_app.extensions["vrm"]
    with rt.sessions() as session:
        _, client, secret = VendorService(session, rt.keyring).create_vendor(
            "Narrow", scope="intentions:read"
        )
        client_id = client.client_id
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = scoped_app.test_client().post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "profile:read"},
        headers={"Authorization": f"Basic {basic}"},
    )
    assert response.status_code == 400
    assert response.json["error"] == "invalid_scope"
