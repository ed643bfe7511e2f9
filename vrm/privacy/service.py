"""Export and erasure across every domain.

Each domain contributes one section to the export; a new domain adds its section to
``EXPORT_SECTIONS``. Erasure deletes the person row: every table holding personal data
references it with ON DELETE CASCADE, so nothing is left behind half-erased. The events
already queued about the person go too (they may carry personal values); each vendor
that knew the person is told, in the same transaction, with ``customer.erased``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import and_, delete, or_, select, union
from sqlalchemy.orm import Session

from vrm import clock
from vrm.accounts.models import Person
from vrm.accounts.schemas import PersonalTokenSchema
from vrm.accounts.service import AccountService
from vrm.audit.schemas import AuditEventSchema
from vrm.audit.service import AuditLog
from vrm.consents.models import Consent
from vrm.consents.schemas import ConsentSchema, ReceiptSchema
from vrm.consents.service import ConsentService
from vrm.conversations.schemas import MessageSchema, PersonConversationSchema
from vrm.conversations.service import ConversationService
from vrm.crypto import Keyring
from vrm.db import write_transaction
from vrm.events.models import OutboxEvent
from vrm.events.outbox import Outbox
from vrm.intentions.models import Intention, IntentionReach
from vrm.intentions.offers import OfferService
from vrm.intentions.schemas import BlockSchema, IntentionSchema, OfferSchema
from vrm.intentions.service import IntentionService
from vrm.profile.schemas import ProfileRevisionSchema, ProfileSchema
from vrm.profile.service import ProfileService
from vrm.terms.schemas import AgreementSchema
from vrm.terms.service import TermsService
from vrm.vendors.blocks import BlockService
from vrm.vendors.models import Relationship
from vrm.vendors.schemas import PersonVendorSchema
from vrm.vendors.service import VendorService

EXPORT_FORMAT = "vrm-export/1"

Section = Callable[[Session, Keyring, AccountService, Person], Any]


def _account(session: Session, keyring: Keyring, accounts: AccountService, person: Person) -> Any:
    return {
        "id": str(person.id),
        "email": accounts.email_of(person),
        "created_at": person.created_at.isoformat(),
    }


def _profile(session: Session, keyring: Keyring, accounts: AccountService, person: Person) -> Any:
    service = ProfileService(session, keyring)
    profile = service.get(person.id)
    return {
        "current": ProfileSchema().dump(
            {**profile.values, "version": profile.version, "updated_at": profile.updated_at}
        ),
        "history": ProfileRevisionSchema(many=True).dump(service.all_revisions(person.id)),
    }


def _tokens(session: Session, keyring: Keyring, accounts: AccountService, person: Person) -> Any:
    tokens = accounts.list_tokens(person, limit=10_000, cursor=None).data
    return PersonalTokenSchema(many=True).dump([accounts.token_view(token) for token in tokens])


def _vendors(session: Session, keyring: Keyring, accounts: AccountService, person: Person) -> Any:
    views = VendorService(session, keyring).vendors_of(person.id).data
    return PersonVendorSchema(many=True).dump(views)


def _agreements(
    session: Session, keyring: Keyring, accounts: AccountService, person: Person
) -> Any:
    return AgreementSchema(many=True).dump(TermsService(session, keyring).for_person(person.id))


def _consents(session: Session, keyring: Keyring, accounts: AccountService, person: Person) -> Any:
    service = ConsentService(session, keyring)
    exported = []
    for consent in service.for_person(person.id):
        item = ConsentSchema().dump(service.describe(consent))
        item["receipts"] = ReceiptSchema(many=True).dump(service.events(consent))
        exported.append(item)
    return exported


def _intentions(
    session: Session, keyring: Keyring, accounts: AccountService, person: Person
) -> Any:
    intentions, offers = IntentionService(session, keyring), OfferService(session, keyring)
    exported = []
    for view in intentions.describe(intentions.page(person.id, limit=1_000_000, cursor=None).data):
        item = IntentionSchema().dump(view)
        received = offers.person_page(person.id, view["id"], limit=1_000_000, cursor=None).data
        item["received_offers"] = OfferSchema(many=True).dump(offers.describe(received))
        exported.append(item)
    return exported


def _blocks(session: Session, keyring: Keyring, accounts: AccountService, person: Person) -> Any:
    blocks = BlockService(session, keyring).page(person.id, limit=1_000_000, cursor=None)
    return BlockSchema(many=True).dump(blocks.data)


def _conversations(
    session: Session, keyring: Keyring, accounts: AccountService, person: Person
) -> Any:
    service = ConversationService(session, keyring)
    exported = []
    for view in service.person_page(person.id, limit=1_000_000, cursor=None).data:
        item = PersonConversationSchema().dump(view)
        messages = service.person_messages(
            person.id, view["id"], limit=1_000_000, cursor=None, include_held=True
        )
        item["messages"] = MessageSchema(many=True).dump(messages.data)
        exported.append(item)
    return exported


def _access_log(
    session: Session, keyring: Keyring, accounts: AccountService, person: Person
) -> Any:
    return AuditEventSchema(many=True).dump(AuditLog(session).all(person.id))


EXPORT_SECTIONS: dict[str, Section] = {
    "account": _account,
    "profile": _profile,
    "personal_tokens": _tokens,
    "vendors": _vendors,
    "agreements": _agreements,
    "consents": _consents,
    "intentions": _intentions,
    "blocked_vendors": _blocks,
    "conversations": _conversations,
    "access_log": _access_log,
}


class PrivacyService:
    def __init__(self, session: Session, keyring: Keyring, accounts: AccountService):
        self.session = session
        self.keyring = keyring
        self.accounts = accounts

    def export(self, person: Person) -> dict[str, Any]:
        document: dict[str, Any] = {"format": EXPORT_FORMAT, "exported_at": clock.now().isoformat()}
        for name, section in EXPORT_SECTIONS.items():
            document[name] = section(self.session, self.keyring, self.accounts, person)
        return document

    def erase(self, person: Person, password: str) -> None:
        """Erase the account and all personal data, after the password is confirmed."""
        self.accounts.confirm_password(person, password)
        with write_transaction(self.session):
            self._tell_vendors(person)
            self.session.delete(person)

    def _tell_vendors(self, person: Person) -> None:
        """``customer.erased`` to every vendor that knows the person's customer_ref: a
        relationship, or an intention that reached it. It names the consents that end
        (given and unexpired, or requested) and is kept without the person's id, as the
        person's earlier events are deleted."""
        now = clock.now()
        vendor_ids = sorted(
            set(
                self.session.scalars(
                    union(
                        select(Relationship.vendor_id).where(Relationship.person_id == person.id),
                        select(IntentionReach.vendor_id)
                        .join(Intention, Intention.id == IntentionReach.intention_id)
                        .where(Intention.person_id == person.id),
                    )
                )
            )
        )
        ended: dict[uuid.UUID, list[uuid.UUID]] = {}
        for vendor_id, consent_id in self.session.execute(
            select(Consent.vendor_id, Consent.id)
            .where(
                Consent.person_id == person.id,
                or_(
                    Consent.state == "requested",
                    and_(Consent.state == "given", Consent.expires_at > now),
                ),
            )
            .order_by(Consent.created_at, Consent.id)
        ):
            ended.setdefault(vendor_id, []).append(consent_id)
        self.session.execute(delete(OutboxEvent).where(OutboxEvent.person_id == person.id))
        outbox = Outbox(self.session, self.keyring)
        for vendor_id in vendor_ids:
            outbox.emit(
                vendor_id,
                "customer.erased",
                {
                    "customer_ref": self.keyring.pseudonym(vendor_id, person.id),
                    "ended_consent_ids": ended.get(vendor_id, []),
                    "erased_at": now,
                },
            )
