"""A token a person issued through the authorization code flow reaches that person only:
the feed, the intentions and the offers of everyone else stay out of its reach, and
nothing of theirs is read (or logged as read) on the way."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.consents.conftest import access_log, fill_profile
from tests.intentions.conftest import publish
from tests.vendor_api.conftest import Browser, authorize, create_vendor, exchange, token_request
from vrm.terms.roster import DEFAULT_TERMS


@pytest.fixture
def browser(live_server: str) -> Iterator[Browser]:
    person_browser = Browser(live_server)
    yield person_browser
    person_browser.close()


def test_a_token_issued_by_one_person_sees_only_that_persons_intentions(
    app, client, live_server, browser, ada, bob
):
    fill_profile(client, ada)
    creds = create_vendor(app, "Acme Cycles")
    with httpx.Client(base_url=live_server, trust_env=False, timeout=10) as http:
        service_token = token_request(http, creds, grant_type="client_credentials").json()
        as_vendor = {"Authorization": f"Bearer {service_token['access_token']}"}
        accepted = http.put(
            "/vendor/v1/terms", json={"accepted": list(DEFAULT_TERMS)}, headers=as_vendor
        )
        assert accepted.status_code == 200, accepted.text
        subscribed = http.post("/vendor/v1/subscriptions", json={}, headers=as_vendor)
        assert subscribed.status_code == 201, subscribed.text
        adas = publish(client, ada, disclose=["given_name"])
        bobs = publish(client, bob, title="Bob's bike")

        tokens = exchange(
            live_server,
            creds,
            authorize(live_server, browser, creds, bob, scope="intentions:read offers:write"),
        )
        as_bob = {"Authorization": f"Bearer {tokens['access_token']}"}
        listed = http.get("/vendor/v1/intentions", headers=as_bob)
        assert listed.status_code == 200, listed.text
        assert [i["id"] for i in listed.json()["data"]] == [bobs["id"]]
        assert http.get(f"/vendor/v1/intentions/{adas['id']}", headers=as_bob).status_code == 404
        offered = http.post(
            f"/vendor/v1/intentions/{adas['id']}/offers",
            json={
                "price": "1.00",
                "currency": "EUR",
                "description": "For someone else",
                "accepted_terms": list(DEFAULT_TERMS),
            },
            headers=as_bob,
        )
        assert offered.status_code == 404
        # The service token still sees both, and offers to Ada.
        both = http.get("/vendor/v1/intentions", headers=as_vendor).json()["data"]
        assert {i["id"] for i in both} == {adas["id"], bobs["id"]}
        to_ada = http.post(
            f"/vendor/v1/intentions/{adas['id']}/offers",
            json={
                "price": "1.00",
                "currency": "EUR",
                "description": "For Ada",
                "accepted_terms": list(DEFAULT_TERMS),
            },
            headers=as_vendor,
        )
        assert to_ada.status_code == 201, to_ada.text
        offer_id = to_ada.json()["id"]
        # Bob's token knows nothing of that offer.
        assert http.get("/vendor/v1/offers", headers=as_bob).json()["data"] == []
        assert http.get(f"/vendor/v1/offers/{offer_id}", headers=as_bob).status_code == 404
        withdrawn = http.post(f"/vendor/v1/offers/{offer_id}/withdraw", headers=as_bob)
        assert withdrawn.status_code == 404
        still = http.get(f"/vendor/v1/offers/{offer_id}", headers=as_vendor).json()
        assert still["state"] == "open"

    # Ada's disclosure was read once, through the service token's feed; never through
    # Bob's token, which was refused.
    reads = [e for e in access_log(client, ada, limit=100)["data"] if e["action"] == "profile.read"]
    assert len(reads) == 1
