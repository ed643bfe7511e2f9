"""Property: whatever a person and a vendor do (grant, request then approve narrowed,
withdraw, let time pass, the worker's expiry sweep) a vendor's read of the profile returns
exactly the fields under a consent that is given, unexpired and names the purpose at the
moment of the read, and nothing when there is none. The oracle is a plain model of what the
person agreed to, independent of the service's own bookkeeping."""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from hypothesis import given
from hypothesis import strategies as st

from vrm import clock
from vrm.accounts.service import AccountService
from vrm.consents.service import ConsentService
from vrm.errors import Conflict, DomainError, Forbidden
from vrm.profile.service import ProfileService
from vrm.terms.roster import DEFAULT_TERMS
from vrm.terms.service import TermsService
from vrm.vendors.service import VendorService

PASSWORD = "correct horse battery staple"
PROFILE = {
    "given_name": "Ada",
    "family_name": "Lovelace",
    "display_name": "Countess of Lovelace",
    "contact_email": "ada.contact@example.net",
    "phone": "+447911123456",
    "birth_date": "1815-12-10",
    "locale": "en-GB",
    "custom": {"loyalty": "L-1815"},
}
# Fields with and without a value: a consent may name a field the person left empty.
FIELDS = [*PROFILE, "postal_address", "preferences"]
PURPOSES = ["ServiceProvision", "Personalisation", "DirectMarketing"]

fields_st = st.lists(st.sampled_from(FIELDS), min_size=1, max_size=4, unique=True)
purposes_st = st.lists(st.sampled_from(PURPOSES), min_size=1, max_size=2, unique=True)
days_st = st.integers(min_value=1, max_value=20)
pick_st = st.integers(min_value=0, max_value=50)  # which consent, modulo how many exist

operations = st.lists(
    st.one_of(
        st.tuples(st.just("grant"), fields_st, purposes_st, days_st),
        st.tuples(st.just("request"), fields_st, purposes_st, days_st, st.randoms()),
        st.tuples(st.just("withdraw"), pick_st),
        st.tuples(st.just("wait"), st.integers(min_value=1, max_value=15 * 24)),  # hours
        st.tuples(st.just("sweep")),  # the worker's expiry job
        st.tuples(st.just("read"), st.sampled_from(PURPOSES)),
    ),
    min_size=1,
    max_size=14,
)


@dataclass
class Agreed:
    """What the person agreed to, as they would remember it."""

    id: uuid.UUID
    fields: set[str]
    purposes: set[str]
    expires_at: datetime
    withdrawn: bool = False

    def live(self, now: datetime) -> bool:
        return not self.withdrawn and now < self.expires_at


_starts = itertools.count()


@contextmanager
def moving_clock() -> Iterator[list[datetime]]:
    """A clock only the example moves; each example starts at its own moment."""
    moment = [datetime(2027, 1, 1, tzinfo=UTC) + timedelta(days=400 * next(_starts))]
    clock.set_source(lambda: moment[0])
    try:
        yield moment
    finally:
        clock.set_source(None)


class World:
    """One fresh person and one fresh vendor that accepts the default terms."""

    def __init__(self, app: Flask):
        self.rt = app.extensions["vrm"]
        with self.rt.sessions() as session:
            accounts = AccountService(session, self.rt.keyring, self.rt.passwords)
            person = accounts.sign_up(f"p-{uuid.uuid4().hex}@example.org", PASSWORD)
            self.person_id = person.id
            ProfileService(session, self.rt.keyring).update(person.id, PROFILE)
            vendors = VendorService(session, self.rt.keyring)
            vendor, _client, _secret = vendors.create_vendor(f"Shop {uuid.uuid4().hex[:8]}")
            self.vendor_id = vendor.id
            TermsService(session, self.rt.keyring).set_for_vendor(vendor.id, list(DEFAULT_TERMS))
            self.customer_ref = vendors.relate(vendor.id, person.id).customer_ref

    @contextmanager
    def consents(self) -> Iterator[tuple[ConsentService, Any]]:
        """A service and the vendor on a fresh session, as a request would have them."""
        with self.rt.sessions() as session:
            service = ConsentService(session, self.rt.keyring)
            yield service, service.vendors.get_vendor(self.vendor_id)


@given(ops=operations)
def test_a_read_returns_exactly_what_a_live_consent_covers(app: Flask, ops: list[Any]) -> None:
    with app.test_request_context(), moving_clock() as now:
        world = World(app)
        agreed: list[Agreed] = []
        for op in ops:
            kind = op[0]
            if kind == "grant":
                _, fields, purposes, days = op
                with world.consents() as (service, _vendor):
                    consent_id = service.grant(
                        world.person_id, world.vendor_id, fields, purposes, days
                    ).id
                agreed.append(
                    Agreed(consent_id, set(fields), set(purposes), now[0] + timedelta(days=days))
                )
            elif kind == "request":
                # The vendor asks; the person approves a narrower consent: fewer fields,
                # fewer purposes, fewer days.
                _, fields, purposes, days, rnd = op
                keep_fields = rnd.sample(fields, rnd.randint(1, len(fields)))
                keep_purposes = rnd.sample(purposes, rnd.randint(1, len(purposes)))
                keep_days = rnd.randint(1, days)
                with world.consents() as (service, vendor):
                    asked = service.request(
                        vendor, world.customer_ref, fields, purposes, days, None
                    ).id
                    assert_read(service, vendor, world, agreed, now[0], purposes[0])
                with world.consents() as (service, _vendor):
                    service.approve(world.person_id, asked, keep_fields, keep_purposes, keep_days)
                agreed.append(
                    Agreed(
                        asked,
                        set(keep_fields),
                        set(keep_purposes),
                        now[0] + timedelta(days=keep_days),
                    )
                )
            elif kind == "withdraw" and agreed:
                target = agreed[op[1] % len(agreed)]
                with world.consents() as (service, _vendor):
                    try:
                        service.withdraw(world.person_id, target.id)
                    except Conflict:
                        # Already withdrawn, or expired (which the service records now).
                        assert not target.live(now[0])
                    else:
                        assert target.live(now[0])
                target.withdrawn = True
            elif kind == "wait":
                now[0] += timedelta(hours=op[1])
            elif kind == "sweep":
                with world.consents() as (service, _vendor):
                    service.expire_due()
            elif kind == "read":
                with world.consents() as (service, vendor):
                    assert_read(service, vendor, world, agreed, now[0], op[1])
        for purpose in PURPOSES:  # and a last look at every purpose
            with world.consents() as (service, vendor):
                assert_read(service, vendor, world, agreed, now[0], purpose)


def assert_read(
    service: ConsentService,
    vendor: Any,
    world: World,
    agreed: list[Agreed],
    now: datetime,
    purpose: str,
) -> None:
    allowed = {f for a in agreed if a.live(now) and purpose in a.purposes for f in a.fields}
    try:
        shared = service.read_profile(vendor, world.customer_ref, purpose)["profile"]
    except Forbidden:
        assert not allowed, f"refused {purpose} though {allowed} are consented"
        return
    except DomainError as error:  # anything else is a bug in the enforcement
        raise AssertionError(f"read failed: {error!r}") from error
    assert allowed, f"read {sorted(shared)} for {purpose} with no live consent"
    assert set(shared) == allowed & set(PROFILE), (purpose, sorted(shared), sorted(allowed))
    assert shared == {name: PROFILE[name] for name in shared}
