from __future__ import annotations

from datetime import timedelta

import pytest


def patch(client, account, body, **headers):
    return client.patch("/personal/v1/profile", json=body, headers={**account.auth, **headers})


def test_a_new_profile_is_empty(client, ada):
    response = client.get("/personal/v1/profile", headers=ada.auth)
    assert response.json == {"version": 0, "updated_at": None}
    assert response.headers["ETag"] == '"0"'


def test_every_catalogue_field_round_trips_in_normal_form(client, ada):
    body = {
        "given_name": "Ada",
        "family_name": "Lovelace",
        "display_name": "ada",
        "contact_email": "Ada@Example.ORG",
        "phone": "+447911123456",
        "birth_date": "1815-12-10",
        "postal_address": {
            "street_lines": ["12 St James's Square"],
            "locality": "London",
            "postal_code": "SW1Y 4JH",
            "country": "gb",
        },
        "locale": "en-gb",
        "preferences": {"sizes": {"shoe_eu": "38"}, "interests": ["mathematics", "poetry"]},
        "custom": {"favourite_engine": "analytical"},
    }
    response = patch(client, ada, body)
    # 1815 is before 1900: refused as implausible, with the field named.
    assert response.status_code == 422
    assert [e["field"] for e in response.json["errors"]] == ["birth_date"]

    body["birth_date"] = "1985-12-10"
    saved = patch(client, ada, body).json
    assert saved["contact_email"] == "Ada@example.org"
    assert saved["postal_address"]["country"] == "GB"
    assert saved["locale"] == "en-GB"
    assert saved["version"] == 1
    assert client.get("/personal/v1/profile", headers=ada.auth).json == saved


def test_null_clears_a_field_and_custom_merges_key_by_key(client, ada):
    patch(client, ada, {"given_name": "Ada", "custom": {"a": "1", "b": "2"}})
    result = patch(client, ada, {"given_name": None, "custom": {"a": None, "c": "3"}}).json
    assert "given_name" not in result
    assert result["custom"] == {"b": "2", "c": "3"}


def test_every_change_is_a_numbered_timed_revision(client, ada, frozen_clock):
    patch(client, ada, {"given_name": "Ada"})
    frozen_clock[0] += timedelta(hours=1)
    patch(client, ada, {"family_name": "Lovelace"})
    patch(client, ada, {"family_name": "Lovelace"})  # changes nothing, so no revision
    history = client.get("/personal/v1/profile/history", headers=ada.auth).json["data"]
    assert [(r["number"], r["changes"]) for r in history] == [
        (2, {"family_name": "Lovelace"}),
        (1, {"given_name": "Ada"}),
    ]
    assert history[0]["created_at"] == frozen_clock[0].isoformat()
    assert client.get("/personal/v1/profile", headers=ada.auth).json["version"] == 2


def test_if_match_protects_against_lost_updates(client, ada):
    etag = patch(client, ada, {"given_name": "Ada"}).headers["ETag"]
    assert patch(client, ada, {"given_name": "Augusta"}, **{"If-Match": etag}).status_code == 200
    stale = patch(client, ada, {"given_name": "Lost"}, **{"If-Match": etag})
    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    assert client.get("/personal/v1/profile", headers=ada.auth).json["given_name"] == "Augusta"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"given_name": 42}, "given_name"),
        ({"given_name": ""}, "given_name"),
        ({"given_name": "x" * 101}, "given_name"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"phone": "06 12 34 56 78"}, "phone"),
        ({"phone": "+999123456789"}, "phone"),
        ({"birth_date": "2999-01-01"}, "birth_date"),
        ({"birth_date": "10/12/1985"}, "birth_date"),
        ({"postal_address": {"locality": "Paris"}}, "postal_address.country"),
        ({"postal_address": {"country": "FRA"}}, "postal_address.country"),
        ({"postal_address": {"country": "XX"}}, "postal_address.country"),
        ({"postal_address": "Paris"}, "postal_address"),
        ({"postal_address": {"country": "FR", "planet": "Earth"}}, "postal_address.planet"),
        ({"locale": "not a tag"}, "locale"),
        ({"preferences": {"interests": "cycling"}}, "preferences.interests"),
        ({"custom": {"Bad Key": "x"}}, "custom"),
        ({"custom": {"ok": "x" * 501}}, "custom"),
        ({"custom": {f"k{n}": "v" for n in range(51)}}, "custom"),
        ({"nickname": "ada"}, "nickname"),
        ({"version": 7}, "version"),
        ([{"given_name": "Ada"}], "body"),
    ],
)
def test_bad_fields_are_named_and_nothing_is_stored(client, ada, body, field):
    patch(client, ada, {"given_name": "Before"})
    response = patch(client, ada, body)
    assert response.status_code == 422, response.json
    assert response.mimetype == "application/problem+json"
    fields = [e["field"] for e in response.json["errors"]]
    assert any(f == field or f.startswith(field + ".") for f in fields), fields
    after = client.get("/personal/v1/profile", headers=ada.auth).json
    assert after["given_name"] == "Before"
    assert after["version"] == 1


def test_a_bad_field_beside_good_ones_stores_none_of_them(client, ada):
    response = patch(client, ada, {"given_name": "Ada", "phone": "nope"})
    assert response.status_code == 422
    assert client.get("/personal/v1/profile", headers=ada.auth).json["version"] == 0


def test_each_person_reads_and_changes_only_their_own_profile(client, ada, bob):
    patch(client, ada, {"given_name": "Ada"})
    patch(client, bob, {"given_name": "Bob"})
    assert client.get("/personal/v1/profile", headers=ada.auth).json["given_name"] == "Ada"
    assert client.get("/personal/v1/profile", headers=bob.auth).json["given_name"] == "Bob"
    history = client.get("/personal/v1/profile/history", headers=bob.auth).json["data"]
    assert [r["changes"] for r in history] == [{"given_name": "Bob"}]
