"""An Idempotency-Key on the creating POSTs of intentcasting: a retry gets the first
response, marked replayed, and nothing is created twice."""

from __future__ import annotations

from tests.intentions.conftest import (
    count,
    error_fields,
    feed_ids,
    intention_body,
    offer,
    publish,
    subscribe,
)
from vrm.consents.models import Consent
from vrm.conversations.models import Conversation
from vrm.intentions.models import Intention, IntentionMatch, Offer, Subscription
from vrm.terms.roster import DEFAULT_TERMS


def key(name: str) -> dict[str, str]:
    return {"Idempotency-Key": name}


def test_a_retried_publication_replays_and_reaches_each_vendor_once(app, client, ada, acme):
    acme.accept()  # so the disclosure is a consent to it
    subscribe(acme)
    body = intention_body(disclose=["given_name"])
    first = client.post("/personal/v1/intentions", json=body, headers={**ada.auth, **key("i-1")})
    retry = client.post("/personal/v1/intentions", json=body, headers={**ada.auth, **key("i-1")})
    assert first.status_code == retry.status_code == 201
    assert "Idempotent-Replayed" not in first.headers
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json == first.json
    assert count(app, Intention) == 1
    assert count(app, IntentionMatch) == 1
    assert count(app, Consent) == 1
    assert feed_ids(acme) == [first.json["id"]]
    # Another key is another intention.
    other = client.post("/personal/v1/intentions", json=body, headers={**ada.auth, **key("i-2")})
    assert other.status_code == 201 and other.json["id"] != first.json["id"]


def test_a_key_is_the_callers_own(app, client, ada, bob):
    body = intention_body()
    mine = client.post("/personal/v1/intentions", json=body, headers={**ada.auth, **key("same")})
    theirs = client.post("/personal/v1/intentions", json=body, headers={**bob.auth, **key("same")})
    assert mine.status_code == theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert count(app, Intention) == 2


def test_a_retried_subscription_replays_and_is_filed_once(app, acme, globex):
    body = {"categories": ["sports"]}
    first = acme.client.post(
        "/vendor/v1/subscriptions", json=body, headers={**acme.auth, **key("s-1")}
    )
    retry = acme.client.post(
        "/vendor/v1/subscriptions", json=body, headers={**acme.auth, **key("s-1")}
    )
    assert first.status_code == retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json["id"] == first.json["id"]
    assert count(app, Subscription) == 1
    # The same key from another vendor's client is its own.
    theirs = globex.client.post(
        "/vendor/v1/subscriptions", json=body, headers={**globex.auth, **key("s-1")}
    )
    assert theirs.status_code == 201 and theirs.json["id"] != first.json["id"]
    assert count(app, Subscription) == 2


def test_a_retried_offer_replays_instead_of_conflicting(app, client, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    body = {
        "price": "650.00",
        "currency": "EUR",
        "description": "Steel gravel bike",
        "accepted_terms": list(DEFAULT_TERMS),
    }
    path = f"/vendor/v1/intentions/{published['id']}/offers"
    first = acme.client.post(path, json=body, headers={**acme.auth, **key("o-1")})
    retry = acme.client.post(path, json=body, headers={**acme.auth, **key("o-1")})
    assert first.status_code == retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json["id"] == first.json["id"]
    assert count(app, Offer) == 1
    # Without the key, the second one is refused as a second open offer.
    assert acme.post(path, json=body).status_code == 409


def test_a_retried_acceptance_replays_and_gives_one_consent_and_one_conversation(
    app, client, ada, acme
):
    subscribe(acme)
    published = publish(client, ada)
    made = offer(acme, published["id"])
    path = f"/personal/v1/offers/{made['id']}/accept"
    body = {"fields": ["given_name"], "duration_days": 30}
    first = client.post(path, json=body, headers={**ada.auth, **key("a-1")})
    retry = client.post(path, json=body, headers={**ada.auth, **key("a-1")})
    assert first.status_code == retry.status_code == 200, (first.json, retry.json)
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.json == first.json
    assert count(app, Consent) == 1
    assert count(app, Conversation) == 1
    # A plain retry, without the key, is told the offer was answered.
    assert client.post(path, json=body, headers=ada.auth).status_code == 409


def test_a_key_reused_for_another_intention_is_refused_and_publishes_nothing(app, client, ada):
    first = client.post(
        "/personal/v1/intentions", json=intention_body(), headers={**ada.auth, **key("i-1")}
    )
    assert first.status_code == 201
    other = client.post(
        "/personal/v1/intentions",
        json=intention_body(title="A different bike"),
        headers={**ada.auth, **key("i-1")},
    )
    assert error_fields(other, 409) == ["Idempotency-Key"]
    assert other.json["type"] == "urn:vrm:problem:idempotency-key-reused"
    assert count(app, Intention) == 1


def test_a_refused_publication_is_not_replayed(app, client, ada):
    bad = intention_body(category="sports/curling")
    refused = client.post("/personal/v1/intentions", json=bad, headers={**ada.auth, **key("k")})
    assert error_fields(refused) == ["category"]
    fixed = client.post(
        "/personal/v1/intentions",
        json=intention_body(category="sports"),
        headers={**ada.auth, **key("k")},
    )
    assert fixed.status_code == 201, fixed.json
    assert "Idempotent-Replayed" not in fixed.headers
