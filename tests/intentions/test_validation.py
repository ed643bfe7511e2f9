"""Every refusal is problem+json naming the offending field, and leaves nothing behind: no
intention, no feed row, no consent, no offer, no subscription."""

from __future__ import annotations

from typing import Any

import pytest

from tests.intentions.conftest import (
    TERMS,
    count,
    edit,
    error_fields,
    feed_ids,
    intention_of,
    offer_response,
    publish,
    publish_response,
    subscribe,
)
from vrm.audit.models import AuditEvent
from vrm.consents.models import Consent
from vrm.intentions.models import (
    Intention,
    IntentionKeyword,
    IntentionMatch,
    IntentionReach,
    Offer,
    Subscription,
    SubscriptionKey,
)

# frozen_clock starts at 2026-11-23 12:00 UTC.
REFUSED_INTENTIONS = [
    pytest.param({"price": {"currency": "ABC", "max": "900"}}, "price.currency", id="bad-currency"),
    pytest.param({"price": {"max": "900"}}, "price.currency", id="price-without-currency"),
    pytest.param(
        {"price": {"currency": "EUR", "min": "900", "max": "300"}},
        "price.min",
        id="min-above-max",
    ),
    pytest.param(
        {"price": {"currency": "JPY", "max": "90000.50"}}, "price.max", id="yen-with-decimals"
    ),
    pytest.param(
        {"price": {"currency": "EUR", "max": "900.001"}}, "price.max", id="euro-with-3-decimals"
    ),
    pytest.param({"expires_at": "2027-11-23T12:00:01Z"}, "expires_at", id="expiry-beyond-a-year"),
    pytest.param({"expires_at": "2026-11-23T11:59:59Z"}, "expires_at", id="expiry-in-the-past"),
    pytest.param({"expires_at": "2026-12-01T12:00:00"}, "expires_at", id="expiry-without-zone"),
    pytest.param({"category": "sports/curling"}, "category", id="unknown-category"),
    pytest.param({"category": ""}, "category", id="empty-category"),
    pytest.param({"location": {"region": "FR-XYZ"}}, "location.region", id="unknown-region"),
    pytest.param(
        {"location": {"country": "BE", "region": "FR-IDF"}},
        "location.region",
        id="region-not-in-the-country",
    ),
    pytest.param({"location": {"country": "XQ"}}, "location.country", id="unknown-country"),
    pytest.param({"disclose": ["shoe_size"]}, "disclose.0", id="unknown-disclose-field"),
    pytest.param(
        {"disclose": ["given_name", "shoe_size"]}, "disclose.1", id="second-disclose-field"
    ),
    pytest.param({"terms": ["be-nice"]}, "terms.0", id="unknown-term"),
    pytest.param({"title": "   "}, "title", id="blank-title"),
    pytest.param({"wanted_by": "2026-11-22"}, "wanted_by", id="wanted-by-in-the-past"),
]


@pytest.mark.parametrize(("change", "field"), REFUSED_INTENTIONS)
def test_a_refused_intention_names_the_field_and_writes_nothing(
    app, client, ada, acme, frozen_clock, change: dict[str, Any], field: str
):
    # A vendor that would match anything and take a disclosure, so a half-written
    # intention would show.
    acme.accept(TERMS)
    subscribe(acme)
    response = publish_response(client, ada, **({"disclose": ["given_name"]} | change))
    assert field in error_fields(response)
    assert count(app, Intention) == 0
    assert count(app, IntentionKeyword) == 0
    assert count(app, IntentionMatch) == 0
    assert count(app, IntentionReach) == 0
    assert count(app, Consent) == 0
    assert count(app, AuditEvent, AuditEvent.action.like("intention.%")) == 0
    assert feed_ids(acme) == []
    assert client.get("/personal/v1/intentions", headers=ada.auth).json["data"] == []


def test_an_expiry_of_exactly_one_year_is_accepted(client, ada, frozen_clock):
    created = publish(client, ada, expires_at="2027-11-23T12:00:00Z")
    assert created["expires_at"].startswith("2027-11-23T12:00:00")


def test_an_intention_without_an_expiry_lasts_thirty_days(client, ada, frozen_clock):
    created = publish(client, ada)
    assert created["published_at"].startswith("2026-11-23T12:00:00")
    assert created["expires_at"].startswith("2026-12-23T12:00:00")


def test_amounts_are_kept_to_the_currencys_decimals(client, ada):
    yen = publish(client, ada, price={"currency": "JPY", "min": "30000", "max": "90000"})
    assert yen["price"] == {"currency": "JPY", "min": "30000", "max": "90000"}
    euro = publish(client, ada, price={"currency": "EUR", "max": "800.5"})
    assert euro["price"] == {"currency": "EUR", "min": None, "max": "800.50"}


def test_a_refused_edit_names_the_field_and_changes_nothing(app, client, ada, acme, initech):
    subscribe(acme, categories=["sports"])
    subscribe(initech, categories=["electronics"])
    created = publish(client, ada, location={"region": "FR-IDF"})
    for patch, field in [
        ({"category": "electronics/nope"}, "category"),
        ({"location": {"region": "FR-XYZ"}}, "location.region"),
        ({"price": {"currency": "EUR", "min": "10", "max": "1"}}, "price.min"),
        ({"expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ]:
        assert field in error_fields(edit(client, ada, created["id"], **patch))
    # The one edit that would move it to the other vendor, half-refused, must not either.
    refused = edit(client, ada, created["id"], category="electronics", price={"currency": "ABC"})
    assert "price.currency" in error_fields(refused)
    after = intention_of(client, ada, created["id"])
    assert {k: after[k] for k in ("category", "location", "price", "expires_at")} == {
        k: created[k] for k in ("category", "location", "price", "expires_at")
    }
    assert feed_ids(acme) == [created["id"]]
    assert feed_ids(initech) == []


REFUSED_SUBSCRIPTIONS = [
    pytest.param({"categories": ["sports/curling"]}, "categories.0", id="unknown-category"),
    pytest.param({"categories": ["sports", "nope"]}, "categories.1", id="second-category"),
    pytest.param({"regions": ["FR-XYZ"]}, "regions.0", id="unknown-region"),
    pytest.param({"regions": ["FR", "XQ"]}, "regions.1", id="unknown-country"),
    pytest.param({"price": {"currency": "ABC"}}, "price.currency", id="bad-currency"),
    pytest.param(
        {"price": {"currency": "EUR", "min": "900", "max": "10"}}, "price.min", id="min-above-max"
    ),
    pytest.param({"price": {"currency": "JPY", "min": "0.5"}}, "price.min", id="yen-decimals"),
]


@pytest.mark.parametrize(("body", "field"), REFUSED_SUBSCRIPTIONS)
def test_a_refused_subscription_names_the_field_and_writes_nothing(
    app, client, ada, acme, body: dict[str, Any], field: str
):
    publish(client, ada)  # open, so a half-written subscription would backfill it
    response = acme.post("/vendor/v1/subscriptions", json={"keywords": ["gravel"], **body})
    assert field in error_fields(response)
    assert count(app, Subscription) == 0
    assert count(app, SubscriptionKey) == 0
    assert count(app, IntentionMatch) == 0
    assert acme.get("/vendor/v1/subscriptions").json["data"] == []


def test_an_offer_missing_one_of_the_intentions_terms_is_refused_naming_it(app, client, ada, acme):
    subscribe(acme)
    intention = publish(client, ada)
    response = offer_response(acme, intention["id"], accepted_terms=[TERMS[0]])
    assert error_fields(response) == ["accepted_terms"]
    assert response.json["missing_terms"] == [TERMS[1]]
    assert count(app, Offer) == 0
    none = offer_response(acme, intention["id"], accepted_terms=[])
    assert error_fields(none) == ["accepted_terms"]
    assert none.json["missing_terms"] == TERMS
    assert count(app, Offer) == 0
    received = client.get(f"/personal/v1/intentions/{intention['id']}/offers", headers=ada.auth)
    assert received.json["data"] == []


def test_terms_the_vendor_accepts_in_advance_count_for_its_offers(client, ada, acme):
    subscribe(acme)
    acme.accept(TERMS)
    intention = publish(client, ada)
    assert offer_response(acme, intention["id"], accepted_terms=[]).status_code == 201


def test_an_intention_published_under_other_terms_needs_those_accepted(client, ada, acme):
    subscribe(acme)
    intention = publish(client, ada, terms=["intentions-only"])
    acme.accept(TERMS)  # the person's usual terms, not these
    response = offer_response(acme, intention["id"], accepted_terms=[])
    assert error_fields(response) == ["accepted_terms"]
    assert response.json["missing_terms"] == ["intentions-only"]
    assert offer_response(
        acme, intention["id"], accepted_terms=["intentions-only"]
    ).status_code == (201)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"currency": "USD"}, "currency", id="another-currency"),
        pytest.param({"currency": "ABC"}, "currency", id="not-a-currency"),
        pytest.param({"price": "649.001"}, "price", id="too-many-decimals"),
        pytest.param({"price": "-1"}, "price", id="negative"),
        pytest.param({"valid_until": "2026-11-23T11:00:00Z"}, "valid_until", id="past-validity"),
        pytest.param({"accepted_terms": ["be-nice"]}, "accepted_terms.0", id="unknown-term"),
        pytest.param({"description": ""}, "description", id="no-description"),
    ],
)
def test_a_refused_offer_names_the_field_and_writes_nothing(
    app, client, ada, acme, frozen_clock, body: dict[str, Any], field: str
):
    subscribe(acme)
    intention = publish(client, ada, price={"currency": "EUR", "max": "900"})
    assert field in error_fields(offer_response(acme, intention["id"], **body))
    assert count(app, Offer) == 0


def test_an_offer_on_an_intention_without_a_budget_may_name_any_currency(client, ada, acme):
    subscribe(acme)
    intention = publish(client, ada)
    made = offer_response(acme, intention["id"], price="90000", currency="JPY")
    assert made.status_code == 201, made.json
    assert (made.json["price"], made.json["currency"]) == ("90000", "JPY")


def test_accepting_with_an_unknown_field_or_too_long_names_it_and_gives_nothing(
    app, client, ada, acme
):
    subscribe(acme)
    intention = publish(client, ada)
    made = offer_response(acme, intention["id"]).json
    unknown = client.post(
        f"/personal/v1/offers/{made['id']}/accept",
        json={"fields": ["given_name", "shoe_size"]},
        headers=ada.auth,
    )
    assert error_fields(unknown) == ["fields.1"]
    too_long = client.post(
        f"/personal/v1/offers/{made['id']}/accept",
        json={"fields": ["given_name"], "duration_days": 3650},
        headers=ada.auth,
    )
    assert error_fields(too_long) == ["duration_days"]
    assert count(app, Consent) == 0
    assert acme.get(f"/vendor/v1/offers/{made['id']}").json["state"] == "open"
