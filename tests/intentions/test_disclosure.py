"""Fields an intention discloses: a consent (origin ``intention``) to every vendor it
reaches, with a signed receipt; shown in the feed, each showing in the person's access log;
ended when the intention ends."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.consents.conftest import access_log, fill_profile, person_receipts, verify
from tests.intentions.conftest import (
    TERMS,
    accept,
    edit,
    error_fields,
    feed,
    offer,
    publish,
    publish_response,
    subscribe,
    vendor_consents,
    withdraw,
)
from vrm.worker import run_once


def subscribed(vendor, **body) -> dict:
    """A vendor that accepts the person's terms in advance (disclosures go only to those),
    then subscribes."""
    vendor.accept(TERMS)
    return subscribe(vendor, **body)


def intention_consent(vendor) -> dict:
    consents = [c for c in vendor_consents(vendor) if c["origin"] == "intention"]
    assert len(consents) == 1, consents
    return consents[0]


def test_disclosed_fields_give_each_matched_vendor_a_signed_consent_and_show_in_its_feed(
    client, ada, acme, globex, initech
):
    fill_profile(client, ada)
    subscribed(acme, categories=["sports"])
    subscribed(globex, categories=["sports/cycling"])
    subscribed(initech, categories=["electronics"])
    published = publish(client, ada, disclose=["given_name"])
    assert published["disclose"] == ["given_name"]

    refs = set()
    for vendor in (acme, globex):
        (item,) = feed(vendor)["data"]
        assert item["disclosed"] == {"given_name": "Ada"}
        consent = intention_consent(vendor)
        assert consent["customer_ref"] == item["customer_ref"]
        assert consent["fields"] == ["given_name"]
        assert consent["purposes"] == ["ServiceProvision"]
        assert consent["state"] == "given"
        assert consent["expires_at"] == published["expires_at"]
        assert consent["terms"] == published["terms"]
        (receipt,) = person_receipts(client, ada, consent["id"])
        held = vendor.get(f"/vendor/v1/consents/{consent['id']}/receipts").json["data"]
        assert [r["receipt"] for r in held] == [receipt["receipt"]]
        payload = verify(receipt["receipt"], client)
        assert payload["record_id"] == consent["id"]
        assert payload["origin"] == "intention"
        assert payload["principal"] == {"customer_ref": item["customer_ref"]}
        assert payload["controller"]["id"] == str(vendor.id)
        assert payload["data_categories"] == ["given_name"]
        assert payload["state"] == "given"
        refs.add(item["customer_ref"])
        # The disclosure is a consent like any other: the profile read names the same field.
        read = vendor.read(item["customer_ref"])
        assert read.status_code == 200, read.json
        assert read.json["profile"] == {"given_name": "Ada"}
    assert len(refs) == 2
    assert vendor_consents(initech) == []
    mine = client.get("/personal/v1/consents", headers=ada.auth).json["data"]
    assert sorted((c["vendor_id"], c["origin"]) for c in mine) == sorted(
        [(str(acme.id), "intention"), (str(globex.id), "intention")]
    )


def test_an_intention_that_discloses_nothing_shows_disclosed_null_and_gives_no_consent(
    client, ada, acme
):
    fill_profile(client, ada)
    subscribed(acme)
    published = publish(client, ada)
    (item,) = feed(acme)["data"]
    assert item["id"] == published["id"]
    assert item["disclosed"] is None
    assert acme.get(f"/vendor/v1/intentions/{published['id']}").json["disclosed"] is None
    assert vendor_consents(acme) == []
    assert acme.read(item["customer_ref"]).status_code in (403, 404)
    assert [e for e in access_log(client, ada)["data"] if e["action"] == "profile.read"] == []


def test_a_vendor_reached_by_backfill_gets_the_disclosure_consent_too(client, ada, acme):
    fill_profile(client, ada)
    published = publish(client, ada, disclose=["given_name", "phone"])
    subscribed(acme)
    (item,) = feed(acme)["data"]
    assert item["id"] == published["id"]
    assert item["disclosed"] == {"given_name": "Ada", "phone": "+447911123456"}
    consent = intention_consent(acme)
    assert consent["fields"] == ["given_name", "phone"]
    (receipt,) = person_receipts(client, ada, consent["id"])
    assert verify(receipt["receipt"], client)["origin"] == "intention"


def test_withdrawing_the_intention_withdraws_its_disclosure_consents(client, ada, acme, globex):
    fill_profile(client, ada)
    subscribed(acme)
    subscribed(globex)
    publish(client, ada, disclose=["given_name"])
    refs = {v.name: feed(v)["data"][0]["customer_ref"] for v in (acme, globex)}
    published_id = feed(acme)["data"][0]["id"]
    assert withdraw(client, ada, published_id).status_code == 200
    for vendor in (acme, globex):
        consent = intention_consent(vendor)
        assert consent["state"] == "withdrawn"
        receipts = person_receipts(client, ada, consent["id"])
        assert [r["type"] for r in receipts] == ["given", "withdrawn"]
        last = verify(receipts[-1]["receipt"], client)
        assert (last["state"], last["event"]["type"]) == ("withdrawn", "withdrawn")
        assert vendor.read(refs[vendor.name]).status_code == 403


def test_an_edit_that_drops_a_vendor_withdraws_its_disclosure_consent(client, ada, acme, initech):
    fill_profile(client, ada)
    subscribed(acme, categories=["sports"])
    subscribed(initech, categories=["electronics"])
    published = publish(client, ada, disclose=["given_name"])
    assert edit(client, ada, published["id"], category="electronics/tv").status_code == 200
    assert intention_consent(acme)["state"] == "withdrawn"
    moved_to = intention_consent(initech)
    assert moved_to["state"] == "given"
    assert feed(initech)["data"][0]["disclosed"] == {"given_name": "Ada"}


def test_the_disclosure_consents_end_as_expired_when_the_intention_expires(
    frozen_clock, app, client, ada, acme
):
    fill_profile(client, ada)
    subscribed(acme)
    publish(client, ada, disclose=["given_name"], expires_at="2026-11-24T12:00:00Z")
    ref = feed(acme)["data"][0]["customer_ref"]
    frozen_clock[0] += timedelta(days=1, minutes=1)
    acme.new_token()
    assert acme.read(ref).status_code == 403  # refused at once, before the worker
    run_once(app)
    consent = intention_consent(acme)
    assert consent["state"] == "expired"
    assert [r["type"] for r in person_receipts(client, ada, consent["id"])] == [
        "given",
        "expired",
    ]


def test_after_fulfilment_the_vendor_reads_only_what_the_accepted_offer_names(
    client, ada, acme, globex
):
    fill_profile(client, ada)
    subscribed(acme)
    subscribed(globex)
    published = publish(client, ada, disclose=["given_name"])
    ref = feed(acme)["data"][0]["customer_ref"]
    globex_ref = feed(globex)["data"][0]["customer_ref"]
    made = offer(acme, published["id"])
    assert accept(client, ada, made["id"], fields=["phone"]).status_code == 200
    assert acme.read(ref).json["profile"] == {"phone": "+447911123456"}
    assert globex.read(globex_ref).status_code == 403
    assert intention_consent(globex)["state"] == "withdrawn"


def test_every_disclosure_in_the_feed_is_in_the_persons_access_log(client, ada, bob, acme):
    fill_profile(client, ada)
    subscribed(acme)
    published = publish(client, ada, disclose=["given_name"])
    publish(client, bob, title="Bob's bike")  # discloses nothing: no read of bob's profile
    feed(acme)
    feed(acme)
    acme.get(f"/vendor/v1/intentions/{published['id']}")
    reads = [e for e in access_log(client, ada, limit=100)["data"] if e["action"] == "profile.read"]
    assert len(reads) == 3
    for entry in reads:
        assert entry["vendor_id"] == str(acme.id)
        assert entry["vendor_name"] == acme.name
        assert entry["fields"] == ["given_name"]
        assert entry["purpose"] == "ServiceProvision"
        assert entry["detail"]["intention_id"] == published["id"]
    bob_reads = [
        e for e in access_log(client, bob, limit=100)["data"] if e["action"] == "profile.read"
    ]
    assert bob_reads == []
    verified = client.get("/personal/v1/access-log/verify", headers=ada.auth).json
    assert verified["valid"] is True


def test_withdrawing_a_disclosure_consent_hides_the_fields_but_keeps_the_intention_listed(
    client, ada, acme
):
    fill_profile(client, ada)
    subscribed(acme)
    published = publish(client, ada, disclose=["given_name"])
    consent = intention_consent(acme)
    withdrawn = client.post(f"/personal/v1/consents/{consent['id']}/withdraw", headers=ada.auth)
    assert withdrawn.status_code == 200, withdrawn.json
    (item,) = feed(acme)["data"]
    assert (item["id"], item["disclosed"]) == (published["id"], None)
    reads = [e for e in access_log(client, ada, limit=100)["data"] if e["action"] == "profile.read"]
    assert reads == []


def test_a_disclosure_consent_lasts_no_longer_than_the_persons_longest_consent(
    frozen_clock, client, ada, acme
):
    terms = client.put(
        "/personal/v1/terms",
        json={"terms": TERMS, "consent_default_days": 10, "consent_max_days": 30},
        headers=ada.auth,
    )
    assert terms.status_code == 200, terms.json
    acme.new_token()
    subscribed(acme)
    # "No consent you give lasts longer than this": an intention lasting 200 days may
    # either be refused, or disclose for at most 30 of them.
    response = publish_response(
        client, ada, disclose=["given_name"], expires_at="2027-06-11T12:00:00Z"
    )
    if response.status_code == 201:
        ends = datetime.fromisoformat(intention_consent(acme)["expires_at"])
        assert ends <= frozen_clock[0] + timedelta(days=30)
    else:
        assert set(error_fields(response)) & {"expires_at", "disclose"}


def test_the_contract_names_every_origin_a_consent_can_have(app):
    with app.app_context():
        spec = app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()
    origins = spec["components"]["schemas"]["Consent"]["properties"]["origin"]["enum"]
    assert {"intention", "offer"} <= set(origins)


def test_a_vendor_that_does_not_accept_the_intentions_terms_sees_it_without_the_fields(
    client, ada, acme, globex
):
    fill_profile(client, ada)
    subscribed(acme)
    subscribe(globex)  # accepts no terms
    published = publish(client, ada, disclose=["given_name"])
    assert feed(acme)["data"][0]["disclosed"] == {"given_name": "Ada"}
    (item,) = feed(globex)["data"]
    assert (item["id"], item["disclosed"]) == (published["id"], None)
    assert vendor_consents(globex) == []
    assert globex.read(item["customer_ref"]).status_code in (403, 404)
    reads = [e for e in access_log(client, ada, limit=100)["data"] if e["action"] == "profile.read"]
    assert {e["vendor_id"] for e in reads} == {str(acme.id)}
    # Accepting the terms later does not disclose what was published before.
    globex.accept(TERMS)
    assert feed(globex)["data"][0]["disclosed"] is None
