"""Offers: a matched vendor answers an intention; the person accepts or declines.

Accepting gives the vendor a consent for ``ServiceProvision`` with the fields the person
chooses to reveal (its receipt signed like any other), under the agreement the vendor made
when it offered, and opens the conversation they will continue in."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vrm import clock
from vrm.audit.service import AuditLog
from vrm.consents.service import ConsentService
from vrm.conversations.models import Conversation
from vrm.conversations.service import ConversationService
from vrm.crypto import Keyring
from vrm.db import write_transaction
from vrm.errors import Conflict, NotFound, ValidationFailed
from vrm.events.outbox import Outbox
from vrm.i18n import N_, gettext
from vrm.intentions.models import Intention, IntentionMatch, Offer
from vrm.intentions.service import IntentionService, intention_is
from vrm.intentions.values import check_currency, from_minor, to_minor
from vrm.pagination import Page, newest_first
from vrm.profile.schemas import PROFILE_FIELDS
from vrm.terms.models import Agreement
from vrm.terms.service import TermsService, term_refs
from vrm.vendors.models import Vendor

OFFER_MAX_DAYS = 365

# "This offer is <state>", a whole sentence for each state (see intention_is).
OFFER_IS = {
    "open": N_("This offer is open"),
    "accepted": N_("This offer is accepted"),
    "declined": N_("This offer is declined"),
    "withdrawn": N_("This offer is withdrawn"),
    "expired": N_("This offer is expired"),
    "closed": N_("This offer is closed"),
}


def offer_is(state: str) -> str:
    sentence = OFFER_IS.get(state)
    if sentence is None:
        return gettext("This offer is %(state)s", state=state)
    return gettext(sentence)


class OfferService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring
        self.intentions = IntentionService(session, keyring)
        self.consents = ConsentService(session, keyring)
        self.terms = TermsService(session, keyring)
        self.audit = AuditLog(session)

    # The vendor's side

    def make(
        self,
        vendor: Vendor,
        intention_id: uuid.UUID,
        data: dict[str, Any],
        person_id: uuid.UUID | None = None,
    ) -> Offer:
        """Offer on an intention in this vendor's feed, accepting the terms it is
        published under (in the offer, or in advance)."""
        now = clock.now()
        with write_transaction(self.session):
            intention = self._matched(vendor.id, intention_id, person_id)
            currency = check_currency(data["currency"], field="currency")
            if intention.currency and currency != intention.currency:
                raise ValidationFailed(
                    f"The person asks for prices in {intention.currency}", field="currency"
                )
            price = to_minor(data["price"], currency, field="price")
            valid_until: datetime = data.get("valid_until") or intention.expires_at
            if valid_until <= now:
                raise ValidationFailed("The offer must be valid in the future", field="valid_until")
            if valid_until > now + timedelta(days=OFFER_MAX_DAYS):
                raise ValidationFailed(
                    f"An offer is valid for at most {OFFER_MAX_DAYS} days", field="valid_until"
                )
            accepted = term_refs(data.get("accepted_terms") or [], field="accepted_terms")
            customer_ref = self.keyring.pseudonym(vendor.id, intention.person_id)
            agreement = self.terms.proffer(
                intention.person_id,
                vendor,
                customer_ref,
                terms=intention.terms,
                also_accepted=accepted,
            )
            if agreement.status != "accepted":
                missing = agreement.missing
                # The refusal is a record the person keeps: commit it, then refuse.
                self.session.commit()
                raise ValidationFailed(
                    f"Accept the term {missing[0]!r} the intention is published under",
                    field="accepted_terms",
                    extra={"missing_terms": missing},
                )
            if self._offer_in(vendor.id, intention.id, "declined") is not None:
                raise Conflict(
                    "The person declined your offer on this intention", field="intention_id"
                )
            if self._offer_in(vendor.id, intention.id, "open") is not None:
                raise Conflict(
                    "You already have an open offer on this intention; withdraw it first",
                    field="intention_id",
                )
            offer = Offer(
                id=uuid.uuid4(),
                intention_id=intention.id,
                vendor_id=vendor.id,
                person_id=intention.person_id,
                agreement_id=agreement.id,
                consent_id=None,
                state="open",
                price=price,
                currency=currency,
                description=data["description"],
                url=data.get("url"),
                valid_until=valid_until,
                accepted_terms=[t for t in intention.terms if t not in agreement.missing],
                created_at=now,
                updated_at=now,
                answered_at=None,
            )
            self.session.add(offer)
            try:
                self.session.flush()
            except IntegrityError:
                raise Conflict(
                    "You already have an open offer on this intention; withdraw it first",
                    field="intention_id",
                ) from None
            self.audit.append(
                intention.person_id,
                "offer.received",
                vendor=vendor,
                detail={"intention_id": str(intention.id), "offer_id": str(offer.id)},
            )
        return offer

    def vendor_page(
        self,
        vendor_id: uuid.UUID,
        *,
        limit: int,
        cursor: str | None,
        person_id: uuid.UUID | None = None,
    ) -> Page[Offer]:
        """The vendor's offers (to one person only, for a token that person issued)."""
        stmt = select(Offer).where(Offer.vendor_id == vendor_id)
        if person_id is not None:
            stmt = stmt.where(Offer.person_id == person_id)
        found = newest_first(
            self.session, stmt, Offer.created_at, Offer.id, limit=limit, cursor=cursor
        )
        return Page([self._fresh(o) for o in found.data], found.next_cursor)

    def vendor_get(
        self, vendor_id: uuid.UUID, offer_id: uuid.UUID, person_id: uuid.UUID | None = None
    ) -> Offer:
        offer = self.session.get(Offer, offer_id)
        if (
            offer is None
            or offer.vendor_id != vendor_id
            or (person_id is not None and offer.person_id != person_id)
        ):
            raise NotFound(gettext("No such offer"))
        return self._fresh(offer)

    def withdraw(
        self, vendor_id: uuid.UUID, offer_id: uuid.UUID, person_id: uuid.UUID | None = None
    ) -> Offer:
        owner = Offer.vendor_id == vendor_id
        if person_id is not None:
            owner = owner & (Offer.person_id == person_id)
        with write_transaction(self.session):
            offer = self._locked(owner, offer_id)
            self._must_be_open(offer)
            self._answer(offer, "withdrawn")
        return offer

    def expire_due(self) -> int:
        """Record open offers past their validity as expired (the worker's job)."""
        now = clock.now()
        with write_transaction(self.session):
            result = self.session.execute(
                update(Offer)
                .where(Offer.state == "open", Offer.valid_until <= now)
                .values(state="expired", updated_at=now)
            )
        return result.rowcount

    # The person's side

    def person_page(
        self, person_id: uuid.UUID, intention_id: uuid.UUID, *, limit: int, cursor: str | None
    ) -> Page[Offer]:
        self.intentions.get(person_id, intention_id)  # theirs, or 404
        stmt = select(Offer).where(Offer.intention_id == intention_id)
        found = newest_first(
            self.session, stmt, Offer.created_at, Offer.id, limit=limit, cursor=cursor
        )
        return Page([self._fresh(o) for o in found.data], found.next_cursor)

    def person_get(self, person_id: uuid.UUID, offer_id: uuid.UUID) -> Offer:
        offer = self.session.get(Offer, offer_id)
        if offer is None or offer.person_id != person_id:
            raise NotFound(gettext("No such offer"))
        return self._fresh(offer)

    def accept(
        self,
        person_id: uuid.UUID,
        offer_id: uuid.UUID,
        *,
        fields: list[str],
        days: int | None = None,
        keep_open: bool = False,
    ) -> Offer:
        for position, name in enumerate(fields):
            if name not in PROFILE_FIELDS:
                raise ValidationFailed(
                    gettext("%(name)s is not a profile field", name=repr(name)),
                    field=f"fields.{position}",
                )
        person_terms = self.terms.of_person(person_id)
        days = person_terms.consent_default_days if days is None else days
        if not 1 <= days <= person_terms.consent_max_days:
            raise ValidationFailed(
                gettext(
                    "Choose between 1 and %(most)s days (your maximum)",
                    most=person_terms.consent_max_days,
                ),
                field="duration_days",
            )
        with write_transaction(self.session):
            # The intention first, then the offer: the order every writer takes them in.
            intention = self.session.scalar(
                select(Intention)
                .join(Offer, Offer.intention_id == Intention.id)
                .where(Offer.id == offer_id, Offer.person_id == person_id)
                .with_for_update(of=Intention)
            )
            if intention is None:
                raise NotFound(gettext("No such offer"))
            offer = self._locked(Offer.person_id == person_id, offer_id)
            self._must_be_open(offer)
            if intention.state != "open" or intention.expires_at <= clock.now():
                state = "expired" if intention.state == "open" else intention.state
                raise Conflict(intention_is(state), field="state")
            vendor = self.session.get(Vendor, offer.vendor_id)
            assert vendor is not None
            now = clock.now()
            consent = self.consents.open_within(
                person_id,
                vendor,
                fields,
                origin="offer",
                terms=intention.terms,
                expires_at=now + timedelta(days=days),
                agreement=self.session.get(Agreement, offer.agreement_id)
                if offer.agreement_id
                else None,
            )
            offer.consent_id = consent.id
            self._answer(offer, "accepted")
            conversation = ConversationService(self.session, self.keyring).open_within(
                person_id, vendor.id, consent.id, "offer", offer_id=offer.id
            )
            self._tell(
                offer,
                "offer.accepted",
                consent_id=consent.id,
                conversation_id=conversation.id,
                fields=consent.fields,
            )
            if not keep_open:
                self.intentions.close_within(intention, "fulfilled")
        return offer

    def decline(self, person_id: uuid.UUID, offer_id: uuid.UUID) -> Offer:
        with write_transaction(self.session):
            offer = self._locked(Offer.person_id == person_id, offer_id)
            self._must_be_open(offer)
            self._answer(offer, "declined")
            self._tell(offer, "offer.declined")
        return offer

    # Views

    def describe(self, offers: list[Offer]) -> list[dict[str, Any]]:
        vendors = {
            v.id: v
            for v in self.session.scalars(
                select(Vendor).where(Vendor.id.in_({o.vendor_id for o in offers}))
            )
        }
        conversations = dict(
            self.session.execute(
                select(Conversation.offer_id, Conversation.id).where(
                    Conversation.offer_id.in_([o.id for o in offers])
                )
            ).all()
        )
        return [
            {
                "id": o.id,
                "intention_id": o.intention_id,
                "vendor_id": o.vendor_id,
                "vendor_name": vendors[o.vendor_id].name,
                "customer_ref": self.keyring.pseudonym(o.vendor_id, o.person_id),
                "state": o.state,
                "price": from_minor(o.price, o.currency),
                "currency": o.currency,
                "description": o.description,
                "url": o.url,
                "valid_until": o.valid_until,
                "accepted_terms": o.accepted_terms,
                "agreement_id": o.agreement_id,
                "consent_id": o.consent_id,
                "conversation_id": conversations.get(o.id),
                "created_at": o.created_at,
                "updated_at": o.updated_at,
                "answered_at": o.answered_at,
            }
            for o in offers
        ]

    # Internals

    def _matched(
        self, vendor_id: uuid.UUID, intention_id: uuid.UUID, person_id: uuid.UUID | None
    ) -> Intention:
        match = self.session.get(IntentionMatch, (vendor_id, intention_id))
        # Locked: a withdrawal or an acceptance waits for the offer, or the offer for them.
        intention = (
            self.session.scalar(
                select(Intention).where(Intention.id == intention_id).with_for_update()
            )
            if match
            else None
        )
        now = clock.now()
        if (
            intention is None
            or intention.state != "open"
            or intention.expires_at <= now
            or (person_id is not None and intention.person_id != person_id)
        ):
            raise NotFound("No such intention in your feed")
        return intention

    def _offer_in(self, vendor_id: uuid.UUID, intention_id: uuid.UUID, state: str) -> Offer | None:
        return self.session.scalar(
            select(Offer)
            .where(
                Offer.vendor_id == vendor_id,
                Offer.intention_id == intention_id,
                Offer.state == state,
            )
            .limit(1)
        )

    def _locked(self, owner: Any, offer_id: uuid.UUID) -> Offer:
        offer = self.session.scalar(
            select(Offer).where(Offer.id == offer_id, owner).with_for_update()
        )
        if offer is None:
            raise NotFound(gettext("No such offer"))
        return offer

    def _must_be_open(self, offer: Offer) -> None:
        if offer.state == "open" and offer.valid_until <= clock.now():
            offer.state, offer.updated_at = "expired", clock.now()
            self.session.commit()  # the expiry is recorded though the change is refused
        if offer.state != "open":
            raise Conflict(offer_is(offer.state), field="state")

    def _answer(self, offer: Offer, state: str) -> None:
        now = clock.now()
        offer.state, offer.updated_at = state, now
        if state in {"accepted", "declined"}:
            offer.answered_at = now
        self.audit.append(
            offer.person_id,
            f"offer.{state}",
            vendor=self.session.get(Vendor, offer.vendor_id),
            detail={"intention_id": str(offer.intention_id), "offer_id": str(offer.id)},
        )

    def _tell(self, offer: Offer, event_type: str, **more: Any) -> None:
        """The person's answer, to the vendor that offered, committed with the answer."""
        Outbox(self.session, self.keyring).emit(
            offer.vendor_id,
            event_type,
            {
                "offer_id": offer.id,
                "intention_id": offer.intention_id,
                "customer_ref": self.keyring.pseudonym(offer.vendor_id, offer.person_id),
                **more,
            },
            person_id=offer.person_id,
        )

    def _fresh(self, offer: Offer) -> Offer:
        """Show an open offer past its validity as expired."""
        if offer.state == "open" and offer.valid_until <= clock.now():
            self.session.expunge(offer)
            offer.state = "expired"
        return offer
