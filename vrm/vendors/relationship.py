"""Everything between a person and the vendors they deal with, read in one place (the
person's start page and one page per vendor), and "withdraw everything" from a vendor.

A read model over the other domains' services: it adds no rule of its own. Withdrawing
goes through the consent service, so each consent ends exactly as a single withdrawal
does (signed receipt, access-log entry, event to the vendor, pushed values taken back).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vrm import clock
from vrm.audit.models import AuditEvent
from vrm.consents.models import Consent
from vrm.consents.service import ConsentService
from vrm.conversations.models import Conversation
from vrm.conversations.service import ConversationService
from vrm.crypto import Keyring
from vrm.db import write_transaction
from vrm.errors import NotFound
from vrm.i18n import gettext
from vrm.intentions.models import Intention, Offer
from vrm.intentions.offers import OfferService
from vrm.intentions.service import IntentionService
from vrm.terms.service import TermsService
from vrm.vendors.blocks import BlockService
from vrm.vendors.models import Relationship, Vendor

# What a vendor learnt of the person: the access-log actions that disclose something.
DISCLOSURES = ("profile.read", "profile.pushed", "message.received")
EXPIRING_WITHIN = timedelta(days=14)
RECENT = 5  # entries per section on the start page
LISTED = 100  # the most of any one kind one page shows


@dataclass
class Overview:
    """The person's start page: what waits for them, newest first."""

    intentions: list[dict[str, Any]]  # open, with offers waiting for an answer
    open_intentions: int
    conversations: list[dict[str, Any]]  # with unread vendor messages
    unread: int
    requests: list[dict[str, Any]]  # vendors' pending consent requests
    expiring: list[dict[str, Any]]  # given consents ending within EXPIRING_WITHIN
    accesses: list[AuditEvent]  # the latest disclosures
    expiring_days: int = EXPIRING_WITHIN.days


@dataclass
class VendorRelationship:
    """One vendor as the person sees it: agreement, consents, reads, talks and offers."""

    vendor: Vendor
    since: datetime
    customer_ref: str
    blocked: bool
    agreement: Any  # the latest Agreement, or None
    consents: list[dict[str, Any]]
    accesses: list[AuditEvent]
    conversations: list[dict[str, Any]]
    offers: list[dict[str, Any]]
    intentions: dict[uuid.UUID, str] = field(default_factory=dict)  # offers' intention titles

    @property
    def live(self) -> list[dict[str, Any]]:
        return [c for c in self.consents if c["state"] == "given"]


class RelationshipService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring
        self.consents = ConsentService(session, keyring)

    # The start page

    def overview(self, person_id: uuid.UUID) -> Overview:
        intentions = IntentionService(self.session, self.keyring)
        open_ = intentions.page(person_id, states=("open",), limit=LISTED, cursor=None).data
        described = intentions.describe(open_)
        talks = ConversationService(self.session, self.keyring)
        conversations = talks.person_page(person_id, limit=LISTED, cursor=None).data
        requests = self.consents.for_person(person_id, ("requested",))
        soon = clock.now() + EXPIRING_WITHIN
        expiring = [
            c
            for c in self.consents.for_person(person_id, ("given",))
            if c.state == "given" and c.expires_at is not None and c.expires_at <= soon
        ]
        expiring.sort(key=lambda c: c.expires_at or soon)
        return Overview(
            intentions=[i for i in described if i["offers"]["open"]],
            open_intentions=len(described),
            conversations=[c for c in conversations if c["unread"]],
            unread=talks.unread_total(person_id),
            requests=[self.consents.describe(c) for c in requests],
            expiring=[self.consents.describe(c) for c in expiring],
            accesses=self._disclosures(person_id, None, RECENT),
        )

    # One vendor

    def of_vendor(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> VendorRelationship:
        """Only a vendor the person has a relationship with; any other is not found."""
        relationship, vendor = self._relationship(person_id, vendor_id)
        consents = self.consents.page(
            person_id=person_id, vendor_id=vendor_id, limit=LISTED, cursor=None
        ).data
        consent_views = []
        for consent in consents:
            view = self.consents.describe(consent)
            view["events"] = self.consents.events(consent)
            consent_views.append(view)
        conversations = list(
            self.session.scalars(
                select(Conversation)
                .where(Conversation.person_id == person_id, Conversation.vendor_id == vendor_id)
                .order_by(Conversation.created_at.desc(), Conversation.id.desc())
                .limit(LISTED)
            )
        )
        offer_service = OfferService(self.session, self.keyring)
        offers = [
            offer_service.person_get(person_id, offer_id)  # shown as it reads: expired if due
            for offer_id in self.session.scalars(
                select(Offer.id)
                .where(Offer.person_id == person_id, Offer.vendor_id == vendor_id)
                .order_by(Offer.created_at.desc(), Offer.id.desc())
                .limit(LISTED)
            )
        ]
        return VendorRelationship(
            vendor=vendor,
            since=relationship.created_at,
            customer_ref=relationship.customer_ref,
            blocked=BlockService(self.session, self.keyring).is_blocked(person_id, vendor_id),
            agreement=TermsService(self.session, self.keyring).latest(person_id, vendor_id),
            consents=consent_views,
            accesses=self._disclosures(person_id, vendor_id, LISTED),
            conversations=ConversationService(self.session, self.keyring).describe(
                conversations, for_person=True
            ),
            offers=offer_service.describe(offers),
            intentions=self._titles(person_id, {o.intention_id for o in offers}),
        )

    def withdraw_all(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> list[uuid.UUID]:
        """Withdraw every consent the person still gives the vendor, in one transaction:
        all end together or none does. Returns the ids withdrawn (one already past its
        expiry is recorded as expired instead, as a single withdrawal would find it)."""
        self._relationship(person_id, vendor_id)
        with write_transaction(self.session):
            given = list(
                self.session.scalars(
                    select(Consent.id).where(
                        Consent.person_id == person_id,
                        Consent.vendor_id == vendor_id,
                        Consent.state == "given",
                    )
                )
            )
            self.consents.end_within(given, "withdrawn")
            withdrawn = list(
                self.session.scalars(
                    select(Consent.id).where(Consent.id.in_(given), Consent.state == "withdrawn")
                )
            )
        return withdrawn

    def vendor_of(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> Vendor:
        """The vendor, if the person has a relationship with it; else not found."""
        return self._relationship(person_id, vendor_id)[1]

    # Internals

    def _relationship(
        self, person_id: uuid.UUID, vendor_id: uuid.UUID
    ) -> tuple[Relationship, Vendor]:
        found = self.session.execute(
            select(Relationship, Vendor)
            .join(Vendor, Vendor.id == Relationship.vendor_id)
            .where(Relationship.person_id == person_id, Relationship.vendor_id == vendor_id)
        ).first()
        if found is None:
            raise NotFound(gettext("No such vendor among yours"))
        return found[0], found[1]

    def _disclosures(
        self, person_id: uuid.UUID, vendor_id: uuid.UUID | None, limit: int
    ) -> list[AuditEvent]:
        stmt = select(AuditEvent).where(
            AuditEvent.person_id == person_id, AuditEvent.action.in_(DISCLOSURES)
        )
        if vendor_id is not None:
            stmt = stmt.where(AuditEvent.vendor_id == vendor_id)
        return list(self.session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit)))

    def _titles(self, person_id: uuid.UUID, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
        if not ids:
            return {}
        intentions = IntentionService(self.session, self.keyring)
        found = list(
            self.session.scalars(
                select(Intention).where(Intention.id.in_(ids), Intention.person_id == person_id)
            )
        )
        return {i.id: intentions.public_view(i)["title"] for i in found}
