"""Property: any valid profile (every catalogued field, values drawn from what the schema
accepts, any Unicode the database can hold) comes back exactly, after encryption at rest,
from the profile read, the API's rendering and the account export."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from typing import Any

import phonenumbers
import pycountry
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from vrm.accounts.service import AccountService
from vrm.privacy.service import PrivacyService
from vrm.profile.schemas import PROFILE_FIELDS, ProfileSchema
from vrm.profile.service import ProfileService

PASSWORD = "correct horse battery staple"

# Any text a column can hold: no NUL, no lone surrogate.
storable = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")


def text(max_size: int, min_size: int = 1) -> st.SearchStrategy[str]:
    return st.text(storable, min_size=min_size, max_size=max_size)


REGIONS = sorted(phonenumbers.SUPPORTED_REGIONS)
phones = (
    st.sampled_from(REGIONS)
    .map(phonenumbers.example_number)
    .filter(bool)
    .map(lambda n: phonenumbers.format_number(n, phonenumbers.PhoneNumberFormat.E164))
)
emails = st.builds(
    "{}@{}.{}".format,
    st.from_regex(r"[a-z0-9](?:[a-z0-9._+-]{0,30}[a-z0-9])?", fullmatch=True).filter(
        lambda local: ".." not in local
    ),
    st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True),
    st.sampled_from(["org", "net", "example", "fr", "co.uk"]),
)
countries = st.sampled_from(sorted(c.alpha_2 for c in pycountry.countries))
birth_dates = st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2025, 12, 31)).map(
    dt.date.isoformat
)
locales = st.sampled_from(["en", "en-GB", "fr", "fr-CA", "de-DE", "pt-BR", "zh-Hans-CN", "sw"])
custom_keys = st.from_regex(r"[a-z][a-z0-9_]{0,63}", fullmatch=True)

addresses = st.fixed_dictionaries(
    {"country": countries},
    optional={
        "street_lines": st.lists(text(200), min_size=1, max_size=4),
        "locality": text(100),
        "region": text(100),
        "postal_code": text(20),
    },
)
preferences = st.fixed_dictionaries(
    {},
    optional={
        "sizes": st.dictionaries(custom_keys, text(20), max_size=20),
        "interests": st.lists(text(60), max_size=50),
    },
)
profiles = st.fixed_dictionaries(
    {},
    optional={
        "given_name": text(100),
        "family_name": text(100),
        "display_name": text(100),
        "contact_email": emails,
        "phone": phones,
        "birth_date": birth_dates,
        "postal_address": addresses,
        "locale": locales,
        "preferences": preferences,
        "custom": st.dictionaries(custom_keys, text(500, min_size=0), max_size=50),
    },
)


def test_the_strategies_cover_every_catalogued_field() -> None:
    assert set(profiles.wrapped_strategy.optional) == set(PROFILE_FIELDS)  # type: ignore[attr-defined]


@given(raw=profiles)
def test_a_profile_round_trips_through_encryption_the_api_and_the_export(
    app: Flask, raw: dict[str, Any]
) -> None:
    values = ProfileSchema(partial=True).load(raw)  # valid, and in its normal form
    rt = app.extensions["vrm"]
    with app.test_request_context(), rt.sessions() as session:
        accounts = AccountService(session, rt.keyring, rt.passwords)
        person = accounts.sign_up(f"p-{uuid.uuid4().hex}@example.org", PASSWORD)
        profiles_service = ProfileService(session, rt.keyring)
        profiles_service.update(person.id, values)
    # Each read on a session of its own, as separate requests would.
    with app.test_request_context(), rt.sessions() as session:
        stored = ProfileService(session, rt.keyring).get(person.id).values
        person = AccountService(session, rt.keyring, rt.passwords).get(person.id)
        exported = PrivacyService(
            session, rt.keyring, AccountService(session, rt.keyring, rt.passwords)
        ).export(person)
    # Exactly what was set; an empty ``custom`` merges into nothing (it only adds keys).
    expected = {k: v for k, v in values.items() if v is not None and (k != "custom" or v)}
    assert stored == expected
    # As the API renders it, and as the export holds it once written out as JSON.
    assert ProfileSchema().dump(stored) == ProfileSchema().dump(expected)
    current = json.loads(json.dumps(exported["profile"]["current"]))
    assert {k: v for k, v in current.items() if k not in ("version", "updated_at")} == (
        json.loads(json.dumps(ProfileSchema().dump(expected)))
    )
    # The first revision records exactly what was set.
    history = exported["profile"]["history"]
    assert len(history) == (1 if expected else 0)
    if expected:
        assert json.loads(json.dumps(history[0]["changes"])) == json.loads(json.dumps(expected))
