"""Which vendors an intention reaches. Every rule is checked both ways it can be applied:
a subscription already there when the intention is published (the index), and a
subscription made after it (the backfill); both must agree."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.intentions.conftest import (
    accept,
    count,
    feed,
    feed_ids,
    intention_of,
    offer,
    publish,
    publish_response,
    sees,
    subscribe,
    withdraw,
)
from vrm.intentions.models import IntentionMatch

PARIS = {"location": {"region": "FR-75C", "city": "Paris"}}
EUR_300_800 = {"price": {"currency": "EUR", "min": "300", "max": "800"}}

CASES = [
    # Category prefixes
    pytest.param({"categories": ["sports"]}, {}, True, id="category-root-prefix"),
    pytest.param({"categories": ["sports/cycling"]}, {}, True, id="category-parent"),
    pytest.param({"categories": ["sports/cycling/bicycles"]}, {}, True, id="category-exact"),
    pytest.param({"categories": ["sports/running"]}, {}, False, id="category-sibling"),
    pytest.param({"categories": ["electronics"]}, {}, False, id="category-other-root"),
    pytest.param(
        {"categories": ["electronics", "sports/cycling"]}, {}, True, id="category-any-of-several"
    ),
    pytest.param(
        {"categories": ["sports/cycling/bicycles"]},
        {"category": "sports/cycling"},
        False,
        id="category-narrower-than-the-intention",
    ),
    pytest.param({}, {}, True, id="no-filter-at-all"),
    # Places
    pytest.param({"regions": ["FR"]}, PARIS, True, id="country-holds-the-subdivision"),
    pytest.param({"regions": ["FR-IDF"]}, PARIS, True, id="region-holds-the-subdivision"),
    pytest.param({"regions": ["FR-75C"]}, PARIS, True, id="region-exact"),
    pytest.param({"regions": ["BE"]}, PARIS, False, id="other-country"),
    pytest.param({"regions": ["BE", "FR-IDF"]}, PARIS, True, id="any-of-several-places"),
    pytest.param({"regions": ["FR-ARA"]}, PARIS, False, id="other-region-same-country"),
    pytest.param(
        {"regions": ["FR-75C"]},
        {"location": {"region": "FR-IDF"}},
        False,
        id="region-narrower-than-the-intention",
    ),
    pytest.param(
        {"regions": ["FR"]}, {"location": {"country": "FR"}}, True, id="country-only-intention"
    ),
    pytest.param(
        {"regions": ["FR-IDF"]},
        {"location": {"country": "FR"}},
        False,
        id="country-only-intention-region-subscription",
    ),
    pytest.param({"regions": ["FR"]}, {}, False, id="no-location-region-subscription"),
    pytest.param({"categories": ["sports"]}, {}, True, id="no-location-no-region-subscription"),
    pytest.param(
        {"regions": ["FR"]}, {"location": {"city": "Paris"}}, False, id="city-alone-is-no-place"
    ),
    # Keywords: in the intention's keywords or its title, any case
    pytest.param(
        {"keywords": ["gravel"]},
        {"title": "A bike", "keywords": ["Gravel"]},
        True,
        id="keyword-in-keywords",
    ),
    pytest.param(
        {"keywords": ["GRAVEL"]},
        {"title": "Gravel bike wanted", "keywords": []},
        True,
        id="keyword-in-title-any-case",
    ),
    pytest.param(
        {"keywords": ["carbon", "gravel"]},
        {"title": "A gravel bike"},
        True,
        id="any-one-keyword",
    ),
    pytest.param(
        {"keywords": ["carbon"]},
        {"title": "A gravel bike", "keywords": ["steel"]},
        False,
        id="keyword-nowhere",
    ),
    pytest.param(
        {"keywords": ["Vélo"]},
        {"title": "Un VÉLO de ville"},
        True,
        id="keyword-accented-any-case",
    ),
    pytest.param(
        {"keywords": ["bike"]},
        {"title": "Bikes and more"},
        False,
        id="keyword-is-a-word-not-a-substring",
    ),
    pytest.param(
        {"keywords": ["road bike"]},
        {"title": "A fast road bike"},
        True,
        id="keyword-phrase-in-title",
    ),
    # A keyword subscription still holds to its other filters
    pytest.param(
        {"keywords": ["gravel"], "categories": ["electronics"]},
        {"keywords": ["gravel"]},
        False,
        id="keyword-but-other-category",
    ),
    pytest.param(
        {"keywords": ["gravel"], "regions": ["BE"]},
        {**PARIS, "keywords": ["gravel"]},
        False,
        id="keyword-but-other-place",
    ),
    pytest.param(
        {"keywords": ["gravel"], "regions": ["FR"]},
        {"keywords": ["gravel"]},
        False,
        id="keyword-but-no-place",
    ),
    pytest.param(
        {"keywords": ["gravel"], "price": {"currency": "EUR", "max": "100"}},
        {**EUR_300_800, "keywords": ["gravel"]},
        False,
        id="keyword-but-price-band-below",
    ),
    pytest.param(
        {"keywords": ["gravel"], "price": {"currency": "USD"}},
        {**EUR_300_800, "keywords": ["gravel"]},
        False,
        id="keyword-but-other-currency",
    ),
    pytest.param(
        {"keywords": ["gravel"], "categories": ["sports"], "regions": ["FR-IDF"]},
        {**PARIS, **EUR_300_800, "keywords": ["gravel"]},
        True,
        id="keyword-category-and-place",
    ),
    # Money: the bands overlap, in the same currency; a price filter asks for a priced
    # intention, so one without a budget is not matched
    pytest.param(
        {"price": {"currency": "EUR", "min": "500", "max": "2000"}},
        EUR_300_800,
        True,
        id="price-bands-overlap",
    ),
    pytest.param(
        {"price": {"currency": "EUR", "min": "800"}},
        EUR_300_800,
        True,
        id="price-bands-touch",
    ),
    pytest.param(
        {"price": {"currency": "EUR", "min": "800.01"}},
        EUR_300_800,
        False,
        id="price-band-above-budget",
    ),
    pytest.param(
        {"price": {"currency": "EUR", "max": "299.99"}},
        EUR_300_800,
        False,
        id="price-band-below-budget",
    ),
    pytest.param(
        {"price": {"currency": "USD", "min": "1", "max": "5000"}},
        EUR_300_800,
        False,
        id="price-other-currency",
    ),
    pytest.param(
        {"price": {"currency": "USD"}},
        {"price": {"currency": "EUR"}},
        False,
        id="currency-alone-other-currency",
    ),
    pytest.param(
        {"price": {"currency": "EUR", "min": "500", "max": "2000"}},
        {},
        False,
        id="intention-without-budget",
    ),
    pytest.param(
        {"price": {"currency": "EUR", "min": "500"}},
        {"price": {"currency": "EUR"}},
        True,
        id="intention-in-the-currency-without-amounts",
    ),
    pytest.param({"categories": ["sports"]}, EUR_300_800, True, id="subscription-without-price"),
    # All filters together
    pytest.param(
        {
            "categories": ["sports/cycling"],
            "regions": ["FR-IDF"],
            "keywords": ["gravel"],
            "price": {"currency": "EUR", "max": "1000"},
        },
        {**PARIS, **EUR_300_800, "keywords": ["gravel"]},
        True,
        id="every-filter-matches",
    ),
    pytest.param(
        {
            "categories": ["sports/cycling"],
            "regions": ["FR-IDF"],
            "keywords": ["gravel"],
            "price": {"currency": "EUR", "max": "1000"},
        },
        {**PARIS, **EUR_300_800, "title": "A road bike"},
        False,
        id="every-filter-but-the-keyword",
    ),
]


@pytest.mark.parametrize("order", ["subscribed-first", "published-first"])
@pytest.mark.parametrize(("subscription", "intention", "matches"), CASES)
def test_an_intention_reaches_a_subscription_exactly_when_it_matches(
    client,
    ada,
    acme,
    order: str,
    subscription: dict[str, Any],
    intention: dict[str, Any],
    matches: bool,
):
    if order == "subscribed-first":
        subscribe(acme, **subscription)
        published = publish(client, ada, **intention)
    else:
        published = publish(client, ada, **intention)
        subscribe(acme, **subscription)
    assert sees(acme, published["id"]) is matches
    assert intention_of(client, ada, published["id"])["matched_vendors"] == int(matches)


def test_a_vendor_with_two_matching_subscriptions_gets_the_intention_once(app, client, ada, acme):
    subscribe(acme, categories=["sports"])
    subscribe(acme, keywords=["gravel"])
    first = publish(client, ada, keywords=["gravel"])
    assert first["matched_vendors"] == 1
    assert feed_ids(acme) == [first["id"]]
    # A third matching subscription made later does not add it again.
    subscribe(acme, regions=[], categories=["sports/cycling"])
    assert feed_ids(acme) == [first["id"]]
    assert count(app, IntentionMatch) == 1
    assert intention_of(client, ada, first["id"])["matched_vendors"] == 1


def test_two_vendors_matching_the_same_intention_both_get_it(client, ada, acme, globex):
    subscribe(acme, categories=["sports"])
    subscribe(globex, regions=["FR"])
    published = publish(client, ada, **PARIS)
    assert published["matched_vendors"] == 2
    assert feed_ids(acme) == feed_ids(globex) == [published["id"]]


def test_a_new_subscription_backfills_open_intentions_only(
    frozen_clock, app, client, ada, bob, acme
):
    start = frozen_clock[0]
    withdrawn = publish(client, ada, title="Withdrawn bike")
    assert withdraw(client, ada, withdrawn["id"]).status_code == 200
    short = publish(client, ada, title="Short-lived bike", expires_at="2026-11-24T12:00:00Z")
    frozen_clock[0] = start + timedelta(hours=1)
    older = publish(client, ada, title="An older bike")
    frozen_clock[0] = start + timedelta(hours=2)
    newer = publish(client, bob, title="A newer bike")
    frozen_clock[0] = start + timedelta(days=2)  # the short-lived one is past its expiry
    acme.new_token()

    subscribe(acme, categories=["sports"])
    assert set(feed_ids(acme)) == {newer["id"], older["id"]}
    assert count(app, IntentionMatch) == 2
    for gone in (withdrawn, short):
        assert acme.get(f"/vendor/v1/intentions/{gone['id']}").status_code == 404


def test_backfill_does_not_bring_back_a_fulfilled_intention(client, ada, acme, globex):
    subscribe(acme)
    published = publish(client, ada)
    made = offer(acme, published["id"])
    assert accept(client, ada, made["id"]).status_code == 200
    subscribe(globex)
    assert feed_ids(globex) == []


def test_deleting_a_subscription_keeps_the_feed_but_matches_nothing_new(client, ada, acme):
    subscription = subscribe(acme, categories=["sports"])
    kept = publish(client, ada, title="Bike before the deletion")
    deleted = acme.client.delete(
        f"/vendor/v1/subscriptions/{subscription['id']}", headers=acme.auth
    )
    assert deleted.status_code == 204
    assert acme.get(f"/vendor/v1/subscriptions/{subscription['id']}").status_code == 404
    assert acme.get("/vendor/v1/subscriptions").json["data"] == []
    later = publish(client, ada, title="Bike after the deletion")
    assert later["matched_vendors"] == 0
    assert feed_ids(acme) == [kept["id"]]


def test_a_vendor_cannot_read_or_delete_another_vendors_subscription(acme, globex):
    theirs = subscribe(acme, categories=["sports"])
    assert globex.get(f"/vendor/v1/subscriptions/{theirs['id']}").status_code == 404
    gone = globex.client.delete(f"/vendor/v1/subscriptions/{theirs['id']}", headers=globex.auth)
    assert gone.status_code == 404
    assert acme.get(f"/vendor/v1/subscriptions/{theirs['id']}").status_code == 200
    assert globex.get("/vendor/v1/subscriptions").json["data"] == []


def test_a_subscription_reads_back_as_it_was_normalised(acme):
    made = subscribe(
        acme,
        categories=["sports/cycling", "sports/cycling"],
        regions=["FR-IDF"],
        keywords=["Gravel", "gravel ", "CARBON"],
        price={"currency": "EUR", "max": "1000"},
    )
    assert made["categories"] == ["sports/cycling"]
    assert made["keywords"] == ["carbon", "gravel"]
    assert made["price"] == {"currency": "EUR", "min": None, "max": "1000.00"}
    assert acme.get(f"/vendor/v1/subscriptions/{made['id']}").json == made


def test_a_backfill_lists_what_it_matched_newest_published_first(frozen_clock, client, ada, acme):
    ids = []
    for hour in range(5):
        frozen_clock[0] += timedelta(hours=1)
        ids.append(publish(client, ada, title=f"Bike {hour}")["id"])
    acme.new_token()
    subscribe(acme)  # all five join the feed at the same moment
    page = feed(acme, limit=3)
    assert [i["id"] for i in page["data"]] == [ids[4], ids[3], ids[2]]
    rest = feed(acme, limit=3, cursor=page["next_cursor"])
    assert [i["id"] for i in rest["data"]] == [ids[1], ids[0]]
    assert rest["next_cursor"] is None


def test_the_feed_lists_what_was_matched_last_first(frozen_clock, client, ada, bob, acme):
    early = publish(client, ada, title="Published before the subscription")
    frozen_clock[0] += timedelta(minutes=10)
    subscribe(acme, categories=["sports"])
    frozen_clock[0] += timedelta(minutes=10)
    later = publish(client, bob, title="Published after it")
    items = feed(acme)["data"]
    assert [i["id"] for i in items] == [later["id"], early["id"]]
    assert items[0]["matched_at"] > items[1]["matched_at"]


def test_both_apis_list_the_same_category_taxonomy(client, ada, acme):
    personal = client.get("/personal/v1/categories", headers=ada.auth)
    vendor = acme.get("/vendor/v1/categories")
    assert personal.status_code == vendor.status_code == 200
    assert personal.json == vendor.json
    paths = [c["path"] for c in vendor.json["data"]]
    assert {"sports", "sports/cycling", "sports/cycling/bicycles"} <= set(paths)
    assert (
        paths.index("sports")
        < paths.index("sports/cycling")
        < paths.index("sports/cycling/bicycles")
    )


@pytest.mark.parametrize("order", ["subscribed-first", "published-first"])
def test_a_hyphenated_keyword_matches_the_same_word_in_a_title(client, ada, acme, order):
    if order == "subscribed-first":
        subscribe(acme, keywords=["e-bike"])
        published = publish(client, ada, title="An e-bike for commuting")
    else:
        published = publish(client, ada, title="An e-bike for commuting")
        subscribe(acme, keywords=["e-bike"])
    assert sees(acme, published["id"])


@pytest.mark.parametrize("order", ["subscribed-first", "published-first"])
@pytest.mark.parametrize(
    ("subscription", "location", "stored"),
    [
        pytest.param(
            {"regions": ["FR"]},
            {"region": "fr-75c"},
            {"country": "FR", "region": "FR-75C"},
            id="lower-case-intention-region",
        ),
        pytest.param(
            {"regions": ["FR"]},
            {"country": "fr"},
            {"country": "FR", "region": None},
            id="lower-case-intention-country",
        ),
        pytest.param(
            {"regions": ["FR-IDF"]},
            {"country": "fr", "region": "FR-75C"},
            {"country": "FR", "region": "FR-75C"},
            id="lower-case-country-with-its-region",
        ),
        pytest.param(
            {"regions": ["fr-idf"]},
            {"region": "FR-75C"},
            {"country": "FR", "region": "FR-75C"},
            id="lower-case-subscription-region",
        ),
    ],
)
def test_place_codes_in_lower_case_are_read_as_the_iso_codes(
    client, ada, acme, order, subscription, location, stored
):
    if order == "subscribed-first":
        made = subscribe(acme, **subscription)
        response = publish_response(client, ada, location=location)
    else:
        response = publish_response(client, ada, location=location)
        made = subscribe(acme, **subscription)
    assert response.status_code == 201, response.json
    assert made["regions"] == [r.upper() for r in subscription["regions"]]
    assert {k: response.json["location"][k] for k in ("country", "region")} == stored
    assert sees(acme, response.json["id"])


def test_a_currency_in_lower_case_is_read_as_the_iso_code(client, ada, acme):
    subscribe(acme, price={"currency": "eur", "max": "1000"})
    published = publish(client, ada, price={"currency": "eur", "max": "800"})
    assert published["price"]["currency"] == "EUR"
    assert sees(acme, published["id"])
    made = offer(acme, published["id"], currency="eur")
    assert made["currency"] == "EUR"
