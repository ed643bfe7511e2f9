"""Demo data for a first look, made through the domain services as a real person and real
vendors would make it, and idempotent: each step looks for what it would create first.

What it makes: a person (``demo@vrm.example``) with a filled profile and chosen terms; two
vendors, each accepting the default terms and subscribed to cycling; the person's intention
(a gravel bike); an offer from each vendor; the first offer accepted (a consent for
ServiceProvision and a conversation, with a message each way), the second left open for the
newcomer to answer; and a consent given directly to the second vendor (Personalisation).

Client secrets are stored as digests only, so a run that finds a vendor already made cannot
show its secret again: it prints ``client_secret: null`` and a note, unless asked for new
secrets (``new_secrets``), which gives each demo vendor a new client.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vrm.accounts.models import Person
from vrm.accounts.passwords import Passwords
from vrm.accounts.service import AccountService
from vrm.consents.service import ConsentService
from vrm.conversations.service import ConversationService
from vrm.crypto import Keyring
from vrm.errors import Conflict, InvalidCredentials
from vrm.intentions.models import Intention, Offer
from vrm.intentions.offers import OfferService
from vrm.intentions.schemas import IntentionInSchema, OfferInSchema, SubscriptionInSchema
from vrm.intentions.service import IntentionService
from vrm.intentions.subscriptions import SubscriptionService
from vrm.profile.schemas import ProfileSchema
from vrm.profile.service import ProfileService
from vrm.runtime import Runtime
from vrm.terms.roster import DEFAULT_TERMS
from vrm.terms.service import TermsService
from vrm.vendors.models import OAuthClient, Vendor
from vrm.vendors.service import VendorService

EMAIL = "demo@vrm.example"
# Fixed and documented (README): this is demo data, never a real account.
PASSWORD = "vrm-demo-gravel-lantern-47"
# A loopback redirect, so a demo client may also try the authorization code flow locally.
REDIRECT_URI = "http://127.0.0.1:8765/callback"

PROFILE: dict[str, Any] = {
    "given_name": "Dana",
    "family_name": "Demo",
    "display_name": "Dana",
    "contact_email": "dana.demo@vrm.example",
    "phone": "+33612345678",
    "locale": "fr-FR",
    "postal_address": {
        "street_lines": ["12 rue des Cyclistes"],
        "locality": "Lyon",
        "postal_code": "69001",
        "country": "FR",
    },
    "preferences": {"sizes": {"frame_cm": "54"}, "interests": ["cycling", "commuting"]},
}

INTENTION: dict[str, Any] = {
    "title": "A gravel bike for commuting",
    "description": "Steel or aluminium, mudguard mounts, delivered to Lyon.",
    "category": "sports/cycling/bicycles",
    "keywords": ["gravel", "commuting"],
    "price": {"min": "500.00", "max": "900.00", "currency": "EUR"},
    "location": {"country": "FR"},
}


@dataclass(frozen=True)
class DemoVendor:
    name: str
    website: str
    subscription: dict[str, Any]
    offer: dict[str, Any]


VENDORS = (
    DemoVendor(
        name="Velo Verde",
        website="https://velo-verde.example",
        subscription={"categories": ["sports/cycling"], "regions": ["FR"]},
        offer={
            "price": "649.00",
            "currency": "EUR",
            "description": "Steel gravel bike with mudguards, delivered in Lyon within a week.",
        },
    ),
    DemoVendor(
        name="Gravel & Co",
        website="https://gravel-and-co.example",
        subscription={"categories": ["sports"], "keywords": ["gravel"]},
        offer={
            "price": "720.00",
            "currency": "EUR",
            "description": "Aluminium gravel bike, fitted in our shop, one free service.",
        },
    ),
)

# The conversation the accepted offer opens: (sender, text), in order.
MESSAGES = (
    ("vendor", "Thank you, Dana! Your bike can be ready on Saturday. Does that suit you?"),
    ("person", "Saturday is perfect. Could you fit a bell as well?"),
)
ACCEPT_FIELDS = ["given_name", "contact_email", "postal_address"]
DIRECT_CONSENT = {"fields": ["given_name", "preferences"], "purposes": ["Personalisation"]}

SECRET_NOTE = (
    "Client secrets are stored as digests and shown once, when made; run `vrm demo "
    "--new-secrets` to give each demo vendor a new client and print its secret."
)


def database_is_empty(rt: Runtime) -> bool:
    """True when no person has an account yet."""
    with rt.sessions() as session:
        return session.scalar(select(Person.id).limit(1)) is None


def run(rt: Runtime, *, base_url: str, new_secrets: bool = False) -> dict[str, Any]:
    """Make whatever of the demo is missing; return its credentials."""
    with rt.sessions() as session:
        return _Demo(session, rt.keyring, rt.passwords).run(base_url, new_secrets)


class DemoError(Exception):
    """The demo cannot be made as documented (its account was changed by hand)."""


class _Demo:
    def __init__(self, session: Session, keyring: Keyring, passwords: Passwords):
        self.session = session
        self.accounts = AccountService(session, keyring, passwords)
        self.profiles = ProfileService(session, keyring)
        self.terms = TermsService(session, keyring)
        self.vendors = VendorService(session, keyring)
        self.subscriptions = SubscriptionService(session, keyring)
        self.intentions = IntentionService(session, keyring)
        self.offers = OfferService(session, keyring)
        self.conversations = ConversationService(session, keyring)
        self.consents = ConsentService(session, keyring)

    def run(self, base_url: str, new_secrets: bool) -> dict[str, Any]:
        person = self._person()
        self._profile_and_terms(person)
        made = [self._vendor(spec, new_secrets) for spec in VENDORS]
        (first, *_), (second, *_) = made
        intention = self._intention(person)
        offer = self._offer(person, intention, first, VENDORS[0])
        self._offer(person, intention, second, VENDORS[1])
        conversation_id = self._accepted(person, offer)
        self._messages(person, first, conversation_id)
        self._direct_consent(person, second)
        vendors = [
            {
                "name": vendor.name,
                "vendor_id": str(vendor.id),
                "client_id": client.client_id,
                "client_secret": secret,
            }
            for vendor, client, secret in made
        ]
        result: dict[str, Any] = {
            "person": {
                "email": EMAIL,
                "password": PASSWORD,
                "login_url": base_url.rstrip("/") + "/login",
            },
            "vendors": vendors,
        }
        if any(v["client_secret"] is None for v in vendors):
            result["note"] = SECRET_NOTE
        return result

    # Each step finds what it would make, or makes it.

    def _person(self) -> Person:
        try:
            return self.accounts.authenticate(EMAIL, PASSWORD)
        except InvalidCredentials:
            pass
        try:
            person = self.accounts.sign_up(EMAIL, PASSWORD)
        except Conflict:
            raise DemoError(
                f"{EMAIL} exists with another password; erase that account to remake the demo"
            ) from None
        return person

    def _profile_and_terms(self, person: Person) -> None:
        if self.profiles.get(person.id).version == 0:
            self.profiles.update(person.id, ProfileSchema().load(PROFILE))
        if self.terms.of_person(person.id).updated_at is None:
            self.terms.set_for_person(person.id, list(DEFAULT_TERMS), 90, 365)

    def _vendor(
        self, spec: DemoVendor, new_secrets: bool
    ) -> tuple[Vendor, OAuthClient, str | None]:
        vendor = self.session.scalar(
            select(Vendor)
            .where(Vendor.name == spec.name, Vendor.website == spec.website)
            .order_by(Vendor.created_at, Vendor.id)
            .limit(1)
        )
        secret: str | None = None
        if vendor is None:
            vendor, client, secret = self.vendors.create_vendor(
                spec.name,
                redirect_uris=(REDIRECT_URI,),
                website=spec.website,
                contact_email=f"hello@{spec.website.removeprefix('https://')}",
            )
        elif new_secrets:
            client, secret = self.vendors.add_client(vendor, redirect_uris=(REDIRECT_URI,))
        else:
            client = self._newest_client(vendor.id)
        if not self.terms.of_vendor(vendor.id):
            self.terms.set_for_vendor(vendor.id, list(DEFAULT_TERMS))
        if not self.subscriptions.page(vendor.id, limit=1, cursor=None).data:
            self.subscriptions.subscribe(vendor, SubscriptionInSchema().load(spec.subscription))
        return vendor, client, secret

    def _newest_client(self, vendor_id: uuid.UUID) -> OAuthClient:
        client = self.session.scalar(
            select(OAuthClient)
            .where(OAuthClient.vendor_id == vendor_id)
            .order_by(OAuthClient.created_at.desc(), OAuthClient.id.desc())
            .limit(1)
        )
        if client is None:
            raise DemoError(f"The demo vendor {vendor_id} has no OAuth client")
        return client

    def _intention(self, person: Person) -> Intention:
        page = self.intentions.page(person.id, limit=100, cursor=None)
        for intention, view in zip(page.data, self.intentions.describe(page.data), strict=True):
            if view["title"] == INTENTION["title"]:
                return intention
        return self.intentions.publish(person.id, IntentionInSchema().load(INTENTION))

    def _offer(
        self, person: Person, intention: Intention, vendor: Vendor, spec: DemoVendor
    ) -> Offer:
        page = self.offers.person_page(person.id, intention.id, limit=100, cursor=None)
        for offer in page.data:
            if offer.vendor_id == vendor.id:
                return offer
        body = OfferInSchema().load({**spec.offer, "accepted_terms": list(DEFAULT_TERMS)})
        return self.offers.make(vendor, intention.id, body)

    def _accepted(self, person: Person, offer: Offer) -> uuid.UUID:
        """Accept the offer (keeping the intention open for the other one); the
        conversation it opened."""
        if offer.state == "open":
            offer = self.offers.accept(person.id, offer.id, fields=ACCEPT_FIELDS, keep_open=True)
        page = self.conversations.person_page(person.id, limit=100, cursor=None)
        for conversation in page.data:
            if conversation["offer_id"] == offer.id:
                return uuid.UUID(str(conversation["id"]))
        raise DemoError(f"The demo offer is {offer.state}, and opened no conversation")

    def _messages(self, person: Person, vendor: Vendor, conversation_id: uuid.UUID) -> None:
        sent = self.conversations.person_messages(
            person.id, conversation_id, limit=100, cursor=None, include_held=True
        ).data
        for sender, text in MESSAGES[len(sent) :]:
            if sender == "vendor":
                self.conversations.post_by_vendor(vendor, conversation_id, text)
            else:
                self.conversations.post_by_person(person.id, conversation_id, text)

    def _direct_consent(self, person: Person, vendor: Vendor) -> None:
        given = self.consents.page(
            person_id=person.id, vendor_id=vendor.id, limit=1, cursor=None
        ).data
        if not given:
            self.consents.grant(
                person.id,
                vendor.id,
                DIRECT_CONSENT["fields"],
                DIRECT_CONSENT["purposes"],
                days=90,
            )
