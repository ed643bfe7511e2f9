"""Consents: how they start (the person, a vendor's request, the OAuth consent screen),
how they change, and the one place that decides what a vendor may read.

Every change appends a consent event with a signed receipt and an access-log entry, in the
same transaction as the change."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from vrm import clock
from vrm.audit.service import AuditLog
from vrm.consents.models import Consent, ConsentEvent
from vrm.consents.purposes import PURPOSES
from vrm.conversations.service import CONTACT_PURPOSES, ConversationService
from vrm.crypto import Keyring
from vrm.db import write_transaction
from vrm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from vrm.events.outbox import Outbox, redact_profile_values
from vrm.i18n import N_, gettext
from vrm.pagination import Page, newest_first
from vrm.profile.schemas import PROFILE_FIELDS
from vrm.profile.service import ProfileService
from vrm.terms.models import Agreement
from vrm.terms.service import TermsService
from vrm.vendors.models import Relationship, Vendor
from vrm.vendors.service import VendorService

RECEIPT_TYP = "vrm-consent-receipt+jws"
RECEIPT_SCHEMA = "vrm-consent-receipt/1 (ISO/IEC TS 27560, W3C DPV)"
# What each change tells the vendor; a request or a revocation is the vendor's own act.
VENDOR_EVENTS = {
    "given": "consent.given",
    "refused": "consent_request.denied",
    "withdrawn": "consent.withdrawn",
    "expired": "consent.expired",
    "modified": "consent.modified",
}
MESSAGE_MAX = 1000

# "This request is already <state>" and "This consent is already <state>", a whole sentence
# for each state (in French the participle agrees with the noun); a state not listed is
# named as it is stored.
REQUEST_IS_ALREADY = {
    "given": N_("This request is already given"),
    "refused": N_("This request is already refused"),
    "withdrawn": N_("This request is already withdrawn"),
    "expired": N_("This request is already expired"),
    "revoked": N_("This request is already revoked"),
}
CONSENT_IS_ALREADY = {
    "requested": N_("This consent is already requested"),
    "given": N_("This consent is already given"),
    "refused": N_("This consent is already refused"),
    "withdrawn": N_("This consent is already withdrawn"),
    "expired": N_("This consent is already expired"),
    "revoked": N_("This consent is already revoked"),
}


def request_is_already(state: str) -> str:
    sentence = REQUEST_IS_ALREADY.get(state)
    if sentence is None:
        return gettext("This request is already %(state)s", state=state)
    return gettext(sentence)


def consent_is_already(state: str) -> str:
    sentence = CONSENT_IS_ALREADY.get(state)
    if sentence is None:
        return gettext("This consent is already %(state)s", state=state)
    return gettext(sentence)


class TermsNotAccepted(Conflict):
    code = "terms-not-accepted"
    title = N_("The vendor has not accepted the person's terms")


def check_fields(fields: list[str], *, field: str = "fields") -> list[str]:
    unknown = [f for f in fields if f not in PROFILE_FIELDS]
    if unknown:
        raise ValidationFailed(
            gettext("%(name)s is not a profile field", name=repr(unknown[0])), field=field
        )
    if not fields:
        raise ValidationFailed(gettext("Name at least one profile field"), field=field)
    return sorted(set(fields))


def check_purposes(purposes: list[str], *, field: str = "purposes") -> list[str]:
    unknown = [p for p in purposes if p not in PURPOSES]
    if unknown:
        raise ValidationFailed(
            gettext("%(purpose)s is not a purpose we know", purpose=repr(unknown[0])), field=field
        )
    if not purposes:
        raise ValidationFailed(gettext("Name at least one purpose"), field=field)
    return sorted(set(purposes))


# Built once: every profile read runs it. The expiry is checked in Python, not in SQL:
# with a range on it SQLite (without statistics) prefers the (state, expires_at) index
# over every live consent to the (vendor, person, state) one.
_CUSTOMER_CONSENTS = (
    select(Relationship.person_id, Consent.fields, Consent.purposes, Consent.expires_at)
    .outerjoin(
        Consent,
        (Consent.vendor_id == Relationship.vendor_id)
        & (Consent.person_id == Relationship.person_id)
        & (Consent.state == "given"),
    )
    .where(
        Relationship.vendor_id == bindparam("vendor_id"),
        Relationship.customer_ref == bindparam("ref"),
    )
)


class ConsentService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring
        self.terms = TermsService(session, keyring)
        self.vendors = VendorService(session, keyring)
        self.audit = AuditLog(session)

    # How a consent starts

    def grant(
        self,
        person_id: uuid.UUID,
        vendor_id: uuid.UUID,
        fields: list[str],
        purposes: list[str],
        days: int | None = None,
        origin: str = "person",
        requested_days: int | None = None,
    ) -> Consent:
        """The person gives consent directly, or on the OAuth consent screen answering a
        vendor that asked for ``requested_days`` (the person may shorten, never lengthen)."""
        vendor = self._vendor(vendor_id)
        fields, purposes = check_fields(fields), check_purposes(purposes)
        self._not_longer(days, requested_days)
        days = self._days(person_id, days if days is not None else requested_days)
        relationship = self.vendors.relate(vendor.id, person_id)
        with write_transaction(self.session):
            agreement = self._agreement(person_id, vendor, relationship.customer_ref)
            consent = self._open(
                person_id,
                vendor,
                agreement,
                fields,
                purposes,
                "given",
                origin,
                days=days,
                requested_days=requested_days,
            )
        return consent

    def request(
        self,
        vendor: Vendor,
        customer_ref: str,
        fields: list[str],
        purposes: list[str],
        days: int | None,
        message: str | None,
    ) -> Consent:
        """A vendor asks a person it knows for consent; the person decides later."""
        person_id = self.vendors.person_for_ref(vendor.id, customer_ref)
        if person_id is None:
            raise NotFound("No customer with this customer_ref", field="customer_ref")
        fields, purposes = check_fields(fields), check_purposes(purposes)
        if days is not None and not 1 <= days <= 3650:
            raise ValidationFailed("Ask for 1 to 3650 days", field="duration_days")
        if message is not None and len(message) > MESSAGE_MAX:
            raise ValidationFailed(f"At most {MESSAGE_MAX} characters", field="message")
        with write_transaction(self.session):
            # A vendor that has not accepted the person's terms cannot even ask.
            agreement = self._agreement(person_id, vendor, customer_ref)
            consent = self._open(
                person_id,
                vendor,
                agreement,
                fields,
                purposes,
                "requested",
                "vendor",
                requested_days=days,
                message=message,
            )
        return consent

    def open_within(
        self,
        person_id: uuid.UUID,
        vendor: Vendor,
        fields: list[str],
        *,
        origin: str,
        terms: list[dict[str, Any]],
        expires_at: datetime,
        agreement: Agreement | None = None,
        purposes: list[str] | None = None,
    ) -> Consent:
        """A consent the person gives by an act of their own: disclosing fields in an
        intention (to each vendor it reaches), accepting an offer (both for
        ``ServiceProvision``), or writing first to a vendor (``CustomerCare``). Runs
        inside the caller's write transaction; ``fields`` may be empty (a vendor the
        person deals with, but reads nothing of)."""
        self.vendors.relate_within(vendor.id, person_id)
        return self._open(
            person_id,
            vendor,
            agreement,
            sorted(set(fields)),
            purposes or ["ServiceProvision"],
            "given",
            origin,
            expires_at=expires_at,
            terms=terms,
        )

    def end_within(self, consent_ids: list[uuid.UUID], state: str = "withdrawn") -> None:
        """End the still-given ones among ``consent_ids`` (inside the caller's write
        transaction): the intention they came with has closed."""
        for consent in self._given_locked(consent_ids):
            if consent.state == "given":
                self._set_state(consent, state)

    def extend_within(self, consent_ids: list[uuid.UUID], expires_at: datetime) -> None:
        """Move the end of still-given consents (the intention's expiry changed), never
        beyond the longest the person lets a consent last."""
        for consent in self._given_locked(consent_ids):
            longest = self.terms.of_person(consent.person_id).consent_max_days
            assert consent.given_at is not None
            until = min(expires_at, consent.given_at + timedelta(days=longest))
            if consent.state == "given" and consent.expires_at != until:
                consent.expires_at = until
                consent.updated_at = clock.now()
                self._record(consent, self._vendor(consent.vendor_id), "modified")

    def _given_locked(self, consent_ids: list[uuid.UUID]) -> list[Consent]:
        """The still-given ones among ``consent_ids``, locked, any expiry recorded first."""
        if not consent_ids:
            return []
        found = list(
            self.session.scalars(
                select(Consent)
                .where(Consent.id.in_(consent_ids), Consent.state == "given")
                .with_for_update()
            )
        )
        for consent in found:
            self._expire_if_due(consent)
        return found

    # The person decides

    def approve(
        self,
        person_id: uuid.UUID,
        consent_id: uuid.UUID,
        fields: list[str] | None = None,
        purposes: list[str] | None = None,
        days: int | None = None,
    ) -> Consent:
        """Approve a request, possibly narrowed: fewer fields, fewer purposes, shorter."""
        with write_transaction(self.session):
            consent = self._own(person_id, consent_id, lock=True)
            if consent.state != "requested":
                raise Conflict(request_is_already(consent.state))
            narrowed_fields = (
                self._narrow(check_fields(fields), consent.fields, "fields")
                if fields is not None
                else consent.fields
            )
            narrowed_purposes = (
                self._narrow(check_purposes(purposes), consent.purposes, "purposes")
                if purposes is not None
                else consent.purposes
            )
            self._not_longer(days, consent.requested_days)
            days = self._days(
                person_id,
                days if days is not None else consent.requested_days,
                field="duration_days",
            )
            vendor = self._vendor(consent.vendor_id)
            # Terms may have changed since the request: check them again, before the
            # consent changes at all (a refusal commits its record and nothing else).
            agreement = self._agreement(
                person_id, vendor, self.vendors.customer_ref(vendor.id, person_id)
            )
            consent.fields, consent.purposes = narrowed_fields, narrowed_purposes
            now = clock.now()
            consent.agreement_id, consent.terms = agreement.id, agreement.terms
            consent.state, consent.given_at = "given", now
            consent.expires_at = now + timedelta(days=days)
            consent.updated_at = now
            self._record(consent, vendor, "given", approved=True)
            if set(consent.purposes) & set(CONTACT_PURPOSES):
                # A contact request approved: the vendor may now write to the person.
                ConversationService(self.session, self.keyring).open_within(
                    person_id, vendor.id, consent.id, "request"
                )
        return consent

    @staticmethod
    def _not_longer(days: int | None, requested_days: int | None) -> None:
        if days is not None and requested_days and days > requested_days:
            raise ValidationFailed(
                gettext("%(days)s days were asked for; approve that or fewer", days=requested_days),
                field="duration_days",
            )

    @staticmethod
    def _narrow(chosen: list[str], asked: list[str], field: str) -> list[str]:
        wider = sorted(set(chosen) - set(asked))
        if wider:
            raise ValidationFailed(
                gettext("%(name)s was not asked for", name=repr(wider[0])), field=field
            )
        return chosen

    def deny(self, person_id: uuid.UUID, consent_id: uuid.UUID) -> Consent:
        return self._transition(person_id, consent_id, {"requested"}, "refused")

    def withdraw(self, person_id: uuid.UUID, consent_id: uuid.UUID) -> Consent:
        """Withdrawal takes effect on the vendor's very next request."""
        return self._transition(person_id, consent_id, {"given"}, "withdrawn")

    def revoke_by_vendor(self, vendor_id: uuid.UUID, consent_id: uuid.UUID) -> Consent:
        """The vendor gives up a consent (or drops its own request)."""
        with write_transaction(self.session):
            consent = self._vendors_own(vendor_id, consent_id, lock=True)
            self._expire_if_due(consent)
            if consent.state not in {"given", "requested"}:
                raise Conflict(consent_is_already(consent.state))
            self._set_state(consent, "revoked")
        return consent

    def expire_due(self) -> int:
        """Mark every given consent past its expiry as expired (the worker's job)."""
        now = clock.now()
        ids = list(
            self.session.scalars(
                select(Consent.id).where(Consent.state == "given", Consent.expires_at <= now)
            )
        )
        for consent_id in ids:
            with write_transaction(self.session):
                consent = self.session.scalar(
                    select(Consent)
                    .where(Consent.id == consent_id, Consent.state == "given")
                    .with_for_update()
                )
                if consent is not None:
                    self._set_state(consent, "expired")
        return len(ids)

    # Reading

    def for_person(
        self, person_id: uuid.UUID, states: tuple[str, ...] | None = None
    ) -> list[Consent]:
        stmt = select(Consent).where(Consent.person_id == person_id)
        if states:
            stmt = stmt.where(Consent.state.in_(states))
        return [
            self._fresh(c) for c in self.session.scalars(stmt.order_by(Consent.created_at.desc()))
        ]

    def page(
        self,
        *,
        person_id: uuid.UUID | None = None,
        vendor_id: uuid.UUID | None = None,
        states: tuple[str, ...] | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[Consent]:
        """One page of a person's or a vendor's consents, newest first."""
        stmt = select(Consent)
        if person_id is not None:
            stmt = stmt.where(Consent.person_id == person_id)
        if vendor_id is not None:
            stmt = stmt.where(Consent.vendor_id == vendor_id)
        if states:
            stmt = stmt.where(Consent.state.in_(states))
        found = newest_first(
            self.session, stmt, Consent.created_at, Consent.id, limit=limit, cursor=cursor
        )
        return Page([self._fresh(c) for c in found.data], found.next_cursor)

    def get_for_person(self, person_id: uuid.UUID, consent_id: uuid.UUID) -> Consent:
        return self._fresh(self._own(person_id, consent_id))

    def get_for_vendor(self, vendor_id: uuid.UUID, consent_id: uuid.UUID) -> Consent:
        return self._fresh(self._vendors_own(vendor_id, consent_id))

    def describe(self, consent: Consent) -> dict[str, Any]:
        """The consent with its vendor's name and the person's ref there, for display."""
        vendor = self._vendor(consent.vendor_id)
        view = {column.key: getattr(consent, column.key) for column in Consent.__table__.columns}
        view["vendor_name"] = vendor.name
        view["customer_ref"] = self.vendors.customer_ref(vendor.id, consent.person_id)
        return view

    def events(self, consent: Consent) -> list[ConsentEvent]:
        return list(
            self.session.scalars(
                select(ConsentEvent)
                .where(ConsentEvent.consent_id == consent.id)
                .order_by(ConsentEvent.seq)
            )
        )

    def read_profile(
        self,
        vendor: Vendor,
        customer_ref: str,
        purpose: str,
        token_person_id: uuid.UUID | None = None,
    ) -> dict[str, Any]:
        """The only way a vendor reads personal data: the fields under a consent that is
        given, unexpired and names this purpose. The read is logged for the person."""
        if purpose not in PURPOSES:
            raise ValidationFailed(f"{purpose!r} is not a purpose we know", field="purpose")
        now = clock.now()
        with write_transaction(self.session):
            # The customer and their consents in one round trip: no row is an unknown ref,
            # a row without a consent a customer who gave none.
            found = self.session.execute(
                _CUSTOMER_CONSENTS, {"vendor_id": vendor.id, "ref": customer_ref}
            ).all()
            person_id = found[0].person_id if found else None
            if person_id is None or (token_person_id not in (None, person_id)):
                raise NotFound("No customer with this customer_ref")
            live = [c for c in found if c.expires_at is not None and c.expires_at > now]
            allowed = {f for c in live if purpose in c.purposes for f in c.fields}
            if not allowed:
                raise Forbidden(f"No consent given for {purpose}", field="purpose")
            values = ProfileService(self.session, self.keyring).values(person_id)
            shared = {name: values[name] for name in sorted(allowed) if name in values}
            self.audit.append(
                person_id, "profile.read", vendor=vendor, fields=sorted(shared), purpose=purpose
            )
        return {"customer_ref": customer_ref, "purpose": purpose, "profile": shared}

    # Internals

    def _vendor(self, vendor_id: uuid.UUID) -> Vendor:
        vendor = self.vendors.get_vendor(vendor_id)
        if vendor is None:
            raise NotFound(gettext("No such vendor"), field="vendor_id")
        return vendor

    def _days(self, person_id: uuid.UUID, days: int | None, *, field: str = "duration_days") -> int:
        terms = self.terms.of_person(person_id)
        if days is None:
            return terms.consent_default_days
        if not 1 <= days <= terms.consent_max_days:
            raise ValidationFailed(
                gettext(
                    "Choose between 1 and %(most)s days (your maximum)",
                    most=terms.consent_max_days,
                ),
                field=field,
            )
        return days

    def _agreement(self, person_id: uuid.UUID, vendor: Vendor, customer_ref: str) -> Any:
        agreement = self.terms.proffer(person_id, vendor, customer_ref)
        if agreement.status != "accepted":
            # The refusal is recorded before the error leaves: commit it, then refuse.
            self.session.commit()
            raise TermsNotAccepted(
                gettext(
                    "%(vendor)s has not accepted the term %(term)s",
                    vendor=vendor.name,
                    term=repr(agreement.missing[0]),
                ),
                field="terms",
                extra={"missing_terms": agreement.missing},
            )
        return agreement

    def _open(
        self,
        person_id: uuid.UUID,
        vendor: Vendor,
        agreement: Any,
        fields: list[str],
        purposes: list[str],
        state: str,
        origin: str,
        *,
        days: int | None = None,
        expires_at: datetime | None = None,
        requested_days: int | None = None,
        message: str | None = None,
        terms: list[dict[str, Any]] | None = None,
    ) -> Consent:
        """Create a consent, given or requested, with its first event and receipt."""
        now = clock.now()
        given = state == "given"
        if given and expires_at is None and days:
            expires_at = now + timedelta(days=days)
        consent = Consent(
            id=uuid.uuid4(),
            person_id=person_id,
            vendor_id=vendor.id,
            agreement_id=agreement.id if agreement else None,
            fields=fields,
            purposes=purposes,
            terms=terms if terms is not None else agreement.terms,
            state=state,
            origin=origin,
            requested_days=requested_days,
            message=message,
            given_at=now if given else None,
            expires_at=expires_at if given else None,
            created_at=now,
            updated_at=now,
        )
        self.session.add(consent)
        self._record(consent, vendor, state)
        return consent

    def _own(self, person_id: uuid.UUID, consent_id: uuid.UUID, lock: bool = False) -> Consent:
        stmt = select(Consent).where(Consent.id == consent_id, Consent.person_id == person_id)
        consent = self.session.scalar(stmt.with_for_update() if lock else stmt)
        if consent is None:
            raise NotFound(gettext("No such consent"))
        return consent

    def _vendors_own(
        self, vendor_id: uuid.UUID, consent_id: uuid.UUID, lock: bool = False
    ) -> Consent:
        stmt = select(Consent).where(Consent.id == consent_id, Consent.vendor_id == vendor_id)
        consent = self.session.scalar(stmt.with_for_update() if lock else stmt)
        if consent is None:
            raise NotFound(gettext("No such consent"))
        return consent

    def _fresh(self, consent: Consent) -> Consent:
        """Show a consent past its expiry as expired even before the worker records it."""
        if consent.state == "given" and consent.expires_at and consent.expires_at <= clock.now():
            self.session.expunge(consent)
            consent.state = "expired"
        return consent

    def _transition(
        self, person_id: uuid.UUID, consent_id: uuid.UUID, allowed: set[str], to: str
    ) -> Consent:
        with write_transaction(self.session):
            consent = self._own(person_id, consent_id, lock=True)
            self._expire_if_due(consent)
            if consent.state not in allowed:
                raise Conflict(consent_is_already(consent.state))
            self._set_state(consent, to)
        return consent

    def _expire_if_due(self, consent: Consent) -> None:
        """Record an expiry the worker has not reached yet, before any other change."""
        if consent.state == "given" and consent.expires_at and consent.expires_at <= clock.now():
            self._set_state(consent, "expired")

    def _set_state(self, consent: Consent, state: str) -> None:
        if consent.state == "given" and state != "given":
            self._unpush(consent)
        consent.state = state
        consent.updated_at = clock.now()
        self._record(consent, self._vendor(consent.vendor_id), state)

    def _unpush(self, consent: Consent) -> None:
        """The consent ends: values it let us push to the vendor leave its stored events,
        unless another live consent still covers them."""
        still = self.session.scalars(
            select(Consent.fields).where(
                Consent.vendor_id == consent.vendor_id,
                Consent.person_id == consent.person_id,
                Consent.state == "given",
                Consent.expires_at > clock.now(),
                Consent.id != consent.id,
            )
        )
        covered = {name for fields in still for name in fields}
        redact_profile_values(
            self.session, self.keyring, consent.vendor_id, consent.person_id, covered
        )

    def _record(
        self, consent: Consent, vendor: Vendor, event_type: str, *, approved: bool = False
    ) -> ConsentEvent:
        """Append the event with its signed receipt and the access-log entry, and tell the
        vendor (``approved``: the given consent answers its request)."""
        self.session.flush()
        seq = (
            self.session.scalar(
                select(func.max(ConsentEvent.seq)).where(ConsentEvent.consent_id == consent.id)
            )
            or 0
        ) + 1
        now = clock.now()
        event = ConsentEvent(
            id=uuid.uuid4(), consent_id=consent.id, seq=seq, type=event_type, at=now, receipt=""
        )
        event.receipt = self.keyring.sign_jws(self._receipt(consent, vendor, event), RECEIPT_TYP)
        self.session.add(event)
        self.audit.append(
            consent.person_id,
            f"consent.{event_type}",
            vendor=vendor,
            fields=consent.fields,
            purpose=",".join(consent.purposes),
            detail={"consent_id": str(consent.id), "event_id": str(event.id)},
        )
        self._emit(consent, vendor, event, approved)
        return event

    def _emit(self, consent: Consent, vendor: Vendor, event: ConsentEvent, approved: bool) -> None:
        """The vendor's event for a consent change, committed with it."""
        event_type = VENDOR_EVENTS.get(event.type)
        if event_type is None:
            return
        data = {
            "consent_id": consent.id,
            "customer_ref": self.vendors.customer_ref(vendor.id, consent.person_id),
            "state": consent.state,
            "origin": consent.origin,
            "fields": consent.fields,
            "purposes": consent.purposes,
            "expires_at": consent.expires_at,
            "receipt": event.receipt,
        }
        outbox = Outbox(self.session, self.keyring)
        if approved:
            outbox.emit(vendor.id, "consent_request.approved", data, person_id=consent.person_id)
        outbox.emit(vendor.id, event_type, data, person_id=consent.person_id)

    def _receipt(self, consent: Consent, vendor: Vendor, event: ConsentEvent) -> dict[str, Any]:
        def iso(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "schema_version": RECEIPT_SCHEMA,
            "record_id": str(consent.id),
            "event": {
                "id": str(event.id),
                "seq": event.seq,
                "type": event.type,
                "time": event.at.isoformat(),
            },
            "principal": {"customer_ref": self.vendors.customer_ref(vendor.id, consent.person_id)},
            "controller": {
                "id": str(vendor.id),
                "name": vendor.name,
                "privacy_policy_url": vendor.privacy_policy_url,
            },
            "purposes": consent.purposes,
            "data_categories": consent.fields,
            "terms": consent.terms,
            "state": consent.state,
            "origin": consent.origin,
            "validity": {"from": iso(consent.given_at), "until": iso(consent.expires_at)},
            "iat": int(event.at.timestamp()),
        }
