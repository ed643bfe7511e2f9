"""An intention's life: edited while open (its matches follow), withdrawn (out of every
feed at once, offers closed), expired (hidden at once, recorded by the worker)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from tests.consents.conftest import access_log
from tests.intentions.conftest import (
    accept,
    count,
    edit,
    error_fields,
    feed_ids,
    intention_of,
    offer,
    offer_response,
    person_offer,
    publish,
    sees,
    stored,
    subscribe,
    vendor_offer,
    withdraw,
)
from vrm.intentions.models import Intention, IntentionMatch, Offer
from vrm.worker import run_once


def test_an_edit_moves_the_intention_to_the_vendors_it_now_matches(client, ada, acme, initech):
    subscribe(acme, categories=["sports/cycling"])
    subscribe(initech, categories=["electronics"])
    published = publish(client, ada, keywords=["gravel"])
    assert (sees(acme, published["id"]), sees(initech, published["id"])) == (True, False)

    edited = edit(
        client, ada, published["id"], title="A laptop", category="electronics/computers/laptops"
    )
    assert edited.status_code == 200, edited.json
    assert (edited.json["category"], edited.json["title"]) == (
        "electronics/computers/laptops",
        "A laptop",
    )
    assert edited.json["keywords"] == ["gravel"]  # what the patch did not name stays
    assert (sees(acme, published["id"]), sees(initech, published["id"])) == (False, True)
    seen = initech.get(f"/vendor/v1/intentions/{published['id']}").json
    assert (seen["title"], seen["category"]) == ("A laptop", "electronics/computers/laptops")


def test_an_edit_of_the_budget_drops_a_vendor_whose_price_band_no_longer_overlaps(
    client, ada, acme, globex
):
    subscribe(acme, price={"currency": "EUR", "min": "500"})
    subscribe(globex, categories=["sports"])
    published = publish(client, ada, price={"currency": "EUR", "max": "900"})
    assert sees(acme, published["id"])
    assert edit(
        client, ada, published["id"], price={"currency": "EUR", "max": "400"}
    ).status_code == (200)
    assert not sees(acme, published["id"])
    assert sees(globex, published["id"])
    assert globex.get(f"/vendor/v1/intentions/{published['id']}").json["price"] == {
        "currency": "EUR",
        "min": None,
        "max": "400.00",
    }


def test_a_vendor_with_an_open_offer_keeps_an_intention_an_edit_moved_away(
    client, ada, acme, initech
):
    subscribe(acme, categories=["sports"])
    subscribe(initech, categories=["electronics"])
    published = publish(client, ada)
    made = offer(acme, published["id"])
    assert edit(client, ada, published["id"], category="electronics/tv").status_code == 200
    assert sees(acme, published["id"])
    assert sees(initech, published["id"])
    assert vendor_offer(acme, made["id"])["state"] == "open"
    # Once its offer is withdrawn, the next edit lets it go.
    assert acme.post(f"/vendor/v1/offers/{made['id']}/withdraw").status_code == 200
    assert edit(client, ada, published["id"], title="A television").status_code == 200
    assert not sees(acme, published["id"])


def test_an_intention_counts_each_vendor_it_reached_once_however_often_edits_rematch_it(
    client, ada, acme
):
    subscribe(acme, categories=["sports"])
    published = publish(client, ada)
    assert edit(client, ada, published["id"], category="electronics/tv").status_code == 200
    assert edit(client, ada, published["id"], category="sports/fitness").status_code == 200
    assert sees(acme, published["id"])
    assert intention_of(client, ada, published["id"])["matched_vendors"] == 1


def test_the_terms_and_disclosure_of_a_published_intention_cannot_be_edited(app, client, ada, acme):
    subscribe(acme)
    published = publish(client, ada, disclose=["given_name"])
    for patch, field in [
        ({"terms": ["intentions-only"]}, "terms"),
        ({"disclose": ["given_name", "phone"]}, "disclose"),
        ({"disclose": []}, "disclose"),
    ]:
        assert field in error_fields(edit(client, ada, published["id"], **patch))
    after = intention_of(client, ada, published["id"])
    assert after["terms"] == published["terms"]
    assert after["disclose"] == ["given_name"]
    assert after["updated_at"] == published["updated_at"]


def test_a_withdrawn_intention_cannot_be_edited_or_withdrawn_again(client, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    withdrawn = withdraw(client, ada, published["id"])
    assert withdrawn.status_code == 200
    assert withdrawn.json["state"] == "withdrawn"
    assert withdrawn.json["closed_at"]
    assert error_fields(edit(client, ada, published["id"], title="Again"), 409) == ["state"]
    assert error_fields(withdraw(client, ada, published["id"]), 409) == ["state"]
    assert intention_of(client, ada, published["id"])["title"] == published["title"]
    assert not sees(acme, published["id"])


def test_withdrawing_takes_the_intention_out_of_every_feed_and_closes_its_offers(
    app, client, ada, acme, globex, initech
):
    for vendor in (acme, globex, initech):
        subscribe(vendor, categories=["sports"])
    published = publish(client, ada)
    other = publish(client, ada, title="A tent", category="sports/camping/tents")
    from_acme = offer(acme, published["id"])
    from_globex = offer(globex, published["id"])
    declined = offer(initech, published["id"])
    assert (
        client.post(f"/personal/v1/offers/{declined['id']}/decline", headers=ada.auth).status_code
        == 200
    )

    assert withdraw(client, ada, published["id"]).status_code == 200
    for vendor in (acme, globex, initech):
        assert feed_ids(vendor) == [other["id"]]
        assert vendor.get(f"/vendor/v1/intentions/{published['id']}").status_code == 404
        assert offer_response(vendor, published["id"]).status_code == 404
    assert vendor_offer(acme, from_acme["id"])["state"] == "closed"
    assert vendor_offer(globex, from_globex["id"])["state"] == "closed"
    assert vendor_offer(initech, declined["id"])["state"] == "declined"  # answered stays answered
    assert person_offer(client, ada, from_acme["id"])["state"] == "closed"
    assert (
        count(app, IntentionMatch, IntentionMatch.intention_id == uuid.UUID(published["id"])) == 0
    )
    # A closed offer cannot be accepted.
    assert error_fields(accept(client, ada, from_acme["id"]), 409) == ["state"]
    state = client.get("/personal/v1/intentions", headers=ada.auth, query_string={"state": "open"})
    assert [i["id"] for i in state.json["data"]] == [other["id"]]


def test_past_its_expiry_an_intention_is_hidden_at_once_and_the_worker_records_it(
    frozen_clock, app, client, ada, acme
):
    subscribe(acme, categories=["sports"])
    published = publish(client, ada, expires_at="2026-11-25T12:00:00Z")
    lasting = publish(client, ada, title="A tent", category="sports/camping/tents")
    made = offer(acme, published["id"], valid_until="2026-11-30T12:00:00Z")

    frozen_clock[0] += timedelta(days=2)  # exactly at the expiry: no longer open
    acme.new_token()
    # Before the worker runs: gone from the vendor's side, expired on the person's.
    assert feed_ids(acme) == [lasting["id"]]
    assert acme.get(f"/vendor/v1/intentions/{published['id']}").status_code == 404
    assert offer_response(acme, published["id"]).status_code == 404
    assert intention_of(client, ada, published["id"])["state"] == "expired"
    listed = client.get(
        "/personal/v1/intentions", headers=ada.auth, query_string={"state": "expired"}
    )
    assert [i["id"] for i in listed.json["data"]] == [published["id"]]
    still_open = client.get(
        "/personal/v1/intentions", headers=ada.auth, query_string={"state": "open"}
    )
    assert [i["id"] for i in still_open.json["data"]] == [lasting["id"]]
    assert error_fields(accept(client, ada, made["id"]), 409) == ["state"]
    assert stored(app, Intention, published["id"], "state") == ("open",)  # not recorded yet

    done = run_once(app)
    assert done["expire_intentions"] == 1
    assert stored(app, Intention, published["id"], "state", "closed_at") == (
        "expired",
        frozen_clock[0],
    )
    assert stored(app, Intention, lasting["id"], "state") == ("open",)
    assert stored(app, Offer, made["id"], "state") == ("closed",)
    assert (
        count(app, IntentionMatch, IntentionMatch.intention_id == uuid.UUID(published["id"])) == 0
    )
    assert intention_of(client, ada, published["id"])["state"] == "expired"
    assert vendor_offer(acme, made["id"])["state"] == "closed"
    actions = [e["action"] for e in access_log(client, ada, limit=100)["data"]]
    assert "intention.expired" in actions
    assert run_once(app)["expire_intentions"] == 0


def test_an_edit_or_withdrawal_after_the_expiry_is_refused_and_records_it(
    frozen_clock, app, client, ada
):
    published = publish(client, ada, expires_at="2026-11-24T12:00:00Z")
    frozen_clock[0] += timedelta(days=1, seconds=1)
    refused = edit(client, ada, published["id"], title="Later")
    assert error_fields(refused, 409) == ["state"]
    assert "expired" in refused.json["detail"]
    assert stored(app, Intention, published["id"], "state") == ("expired",)
    assert error_fields(withdraw(client, ada, published["id"]), 409) == ["state"]
    assert intention_of(client, ada, published["id"])["title"] == published["title"]


def test_extending_the_expiry_keeps_the_intention_in_feeds_past_the_old_date(
    frozen_clock, client, ada, acme
):
    subscribe(acme)
    published = publish(client, ada, expires_at="2026-11-25T12:00:00Z")
    extended = edit(client, ada, published["id"], expires_at="2026-12-25T12:00:00Z")
    assert extended.status_code == 200, extended.json
    frozen_clock[0] += timedelta(days=3)
    acme.new_token()
    assert sees(acme, published["id"])
    assert (
        acme.get(f"/vendor/v1/intentions/{published['id']}")
        .json["expires_at"]
        .startswith("2026-12-25T12:00:00")
    )


def test_a_fulfilled_intention_is_closed_for_edits(client, ada, acme):
    subscribe(acme)
    published = publish(client, ada)
    made = offer(acme, published["id"])
    assert accept(client, ada, made["id"]).status_code == 200
    assert intention_of(client, ada, published["id"])["state"] == "fulfilled"
    assert error_fields(edit(client, ada, published["id"], title="More"), 409) == ["state"]
    assert error_fields(withdraw(client, ada, published["id"]), 409) == ["state"]


def test_the_person_lists_intentions_newest_first_and_filters_by_state(frozen_clock, client, ada):
    ids = []
    for n in range(3):
        frozen_clock[0] += timedelta(minutes=1)
        ids.append(publish(client, ada, title=f"Bike {n}")["id"])
    withdraw(client, ada, ids[1])
    everything = client.get("/personal/v1/intentions", headers=ada.auth).json
    assert [i["id"] for i in everything["data"]] == list(reversed(ids))
    withdrawn = client.get(
        "/personal/v1/intentions", headers=ada.auth, query_string={"state": "withdrawn"}
    ).json
    assert [i["id"] for i in withdrawn["data"]] == [ids[1]]
    bogus = client.get(
        "/personal/v1/intentions", headers=ada.auth, query_string={"state": "sleeping"}
    )
    assert error_fields(bogus) == ["state"]
