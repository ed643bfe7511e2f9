"""Conversations: the person writes to vendors they deal with; a vendor writes only where
the person let it, under the person's rules, all enforced here so both APIs and the web
pages obey the same ones:

- not in a closed conversation, not once the consent behind it has ended, not once the
  person blocked the vendor;
- at most ``max_unanswered`` messages in a row without a reply from the person;
- in the person's quiet hours a message is accepted but held, and shown when they end.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from vrm import clock
from vrm.audit.service import AuditLog
from vrm.consents.models import Consent
from vrm.conversations.models import Conversation, Message
from vrm.conversations.quiet import held_until
from vrm.crypto import Keyring, aad_for
from vrm.db import write_transaction
from vrm.errors import Conflict, Forbidden, NotFound, ValidationFailed
from vrm.events.outbox import Outbox
from vrm.i18n import N_, gettext
from vrm.intentions.models import Intention, IntentionReach, Offer
from vrm.pagination import Page, newest_first
from vrm.terms.service import TermsService
from vrm.vendors.models import Relationship, Vendor, VendorBlock

TEXT_MAX = 4000
CONTACT_PURPOSES = ("CustomerCare", "DirectMarketing")


class ConversationClosed(Conflict):
    code = "conversation-closed"
    title = N_("The conversation is closed")


class AwaitingReply(Conflict):
    code = "awaiting-reply"
    title = "The person has not replied yet"


class ConsentEnded(Forbidden):
    code = "consent-ended"
    title = "The consent for this conversation has ended"


class VendorBlocked(Forbidden):
    code = "blocked"
    title = "The person blocked you"


def check_text(text: Any) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed(gettext("Write something"), field="text")
    if len(text) > TEXT_MAX:
        raise ValidationFailed(gettext("At most %(most)s characters", most=TEXT_MAX), field="text")
    return text


def _unread_by_person(now: datetime) -> Any:
    """A vendor message the person can see and has not read (joined to its conversation)."""
    return and_(
        Message.sender == "vendor",
        Message.visible_at <= now,
        or_(
            Conversation.person_read_at.is_(None), Message.visible_at > Conversation.person_read_at
        ),
    )


class ConversationService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring
        self.audit = AuditLog(session)
        self.outbox = Outbox(session, keyring)

    # Opening

    def open_by_person(self, person_id: uuid.UUID, vendor_id: uuid.UUID, text: str) -> Conversation:
        """The person writes first, to a vendor they have a relationship with. Writing is
        itself consent to an answer: a ``CustomerCare`` consent (no profile fields) for
        the person's default consent duration, ended when the person withdraws it."""
        from vrm.consents.service import ConsentService

        text = check_text(text)
        with write_transaction(self.session):
            vendor = self.session.get(Vendor, vendor_id)
            related = self.session.scalar(
                select(Relationship.id).where(
                    Relationship.vendor_id == vendor_id, Relationship.person_id == person_id
                )
            )
            if vendor is None or related is None:
                raise NotFound(
                    gettext("You have no relationship with this vendor"), field="vendor_id"
                )
            if self._blocked(person_id, vendor_id):
                raise Conflict(
                    gettext("You blocked this vendor; unblock it first"), field="vendor_id"
                )
            terms = TermsService(self.session, self.keyring).of_person(person_id)
            consent = ConsentService(self.session, self.keyring).open_within(
                person_id,
                vendor,
                [],
                origin="conversation",
                purposes=["CustomerCare"],
                terms=terms.terms,
                expires_at=clock.now() + timedelta(days=terms.consent_default_days),
            )
            conversation = self.open_within(person_id, vendor_id, consent.id, "person")
            self._post(conversation, "person", text, None, None)
        return conversation

    def open_within(
        self,
        person_id: uuid.UUID,
        vendor_id: uuid.UUID,
        consent_id: uuid.UUID,
        opened_by: str,
        offer_id: uuid.UUID | None = None,
    ) -> Conversation:
        """A new open conversation, inside the caller's write transaction (accepting an
        offer, approving a contact request)."""
        now = clock.now()
        conversation = Conversation(
            id=uuid.uuid4(),
            person_id=person_id,
            vendor_id=vendor_id,
            consent_id=consent_id,
            offer_id=offer_id,
            state="open",
            opened_by=opened_by,
            last_seq=0,
            vendor_streak=0,
            created_at=now,
            updated_at=now,
            active_at=now,
        )
        self.session.add(conversation)
        return conversation

    # Writing

    def post_by_person(
        self,
        person_id: uuid.UUID,
        conversation_id: uuid.UUID,
        text: str,
        offer_id: uuid.UUID | None = None,
        intention_id: uuid.UUID | None = None,
    ) -> Message:
        text = check_text(text)
        with write_transaction(self.session):
            conversation = self._locked(Conversation.person_id == person_id, conversation_id)
            if conversation.state != "open":
                raise ConversationClosed(gettext("This conversation is closed"), field="state")
            self._check_refs(conversation, offer_id, intention_id)
            message = self._post(conversation, "person", text, offer_id, intention_id)
        return message

    def post_by_vendor(
        self,
        vendor: Vendor,
        conversation_id: uuid.UUID,
        text: str,
        offer_id: uuid.UUID | None = None,
        intention_id: uuid.UUID | None = None,
        token_person_id: uuid.UUID | None = None,
    ) -> Message:
        """A vendor's message, if the person's rules allow it; each refusal says why."""
        text = check_text(text)
        with write_transaction(self.session):
            conversation = self._locked(
                self._vendor_scope(vendor.id, token_person_id), conversation_id
            )
            # Blocked first: blocking also closes, and the vendor should learn the cause.
            if self._blocked(conversation.person_id, vendor.id):
                raise VendorBlocked("The person blocked you; you cannot write to them")
            if conversation.state != "open":
                raise ConversationClosed("The person closed this conversation", field="state")
            if not self._consent_live(conversation):
                raise ConsentEnded(
                    "The consent for this conversation was withdrawn or has expired",
                    extra={"consent_id": str(conversation.consent_id)},
                )
            rules = TermsService(self.session, self.keyring).of_person(conversation.person_id)
            if conversation.vendor_streak >= rules.max_unanswered:
                raise AwaitingReply(
                    f"You sent {conversation.vendor_streak} messages in a row; the person "
                    f"allows {rules.max_unanswered} before they reply",
                    extra={"max_unanswered": rules.max_unanswered},
                )
            self._check_refs(conversation, offer_id, intention_id)
            now = clock.now()
            hold = held_until(now, rules.quiet_start, rules.quiet_end, rules.time_zone)
            message = self._post(
                conversation, "vendor", text, offer_id, intention_id, visible_at=hold
            )
            self.audit.append(
                conversation.person_id,
                "message.received",
                vendor=vendor,
                detail={"conversation_id": str(conversation.id), "message_id": str(message.id)},
            )
        return message

    def close(self, person_id: uuid.UUID, conversation_id: uuid.UUID) -> Conversation:
        with write_transaction(self.session):
            conversation = self._locked(Conversation.person_id == person_id, conversation_id)
            if conversation.state != "open":
                raise ConversationClosed(
                    gettext("This conversation is already closed"), field="state"
                )
            self.close_within([conversation])
        return conversation

    def close_within(self, conversations: list[Conversation]) -> None:
        """Close open conversations inside the caller's transaction (the person closed
        it, or blocked the vendor), telling each vendor."""
        now = clock.now()
        for conversation in conversations:
            if conversation.state != "open":
                continue
            conversation.state, conversation.closed_at = "closed", now
            conversation.updated_at = now
            self.outbox.emit(
                conversation.vendor_id,
                "conversation.closed",
                {
                    "conversation_id": conversation.id,
                    "customer_ref": self._ref(conversation),
                    "closed_at": now,
                },
                person_id=conversation.person_id,
            )

    def close_with_vendor_within(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> None:
        self.close_within(
            list(
                self.session.scalars(
                    select(Conversation)
                    .where(
                        Conversation.person_id == person_id,
                        Conversation.vendor_id == vendor_id,
                        Conversation.state == "open",
                    )
                    .with_for_update()
                )
            )
        )

    def mark_read(
        self, person_id: uuid.UUID, conversation_id: uuid.UUID, up_to: datetime | None = None
    ) -> Conversation:
        """What the person can see in the conversation now counts as read; with ``up_to``
        (when the newest message a page showed became visible), only what that page
        showed, so a message arriving while the page was drawn stays unread. The marker
        never moves back."""
        with write_transaction(self.session):
            conversation = self._locked(Conversation.person_id == person_id, conversation_id)
            now = clock.now()
            marker = min(up_to, now) if up_to is not None else now
            if conversation.person_read_at is None or marker > conversation.person_read_at:
                conversation.person_read_at = marker
        return conversation

    # Reading

    def person_page(
        self,
        person_id: uuid.UUID,
        *,
        state: str | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[dict[str, Any]]:
        stmt = select(Conversation).where(Conversation.person_id == person_id)
        if state:
            stmt = stmt.where(Conversation.state == state)
        page = newest_first(
            self.session, stmt, Conversation.active_at, Conversation.id, limit=limit, cursor=cursor
        )
        return Page(self.describe(page.data, for_person=True), page.next_cursor)

    def vendor_page(
        self,
        vendor_id: uuid.UUID,
        *,
        person_id: uuid.UUID | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[dict[str, Any]]:
        stmt = select(Conversation).where(self._vendor_scope(vendor_id, person_id))
        page = newest_first(
            self.session, stmt, Conversation.created_at, Conversation.id, limit=limit, cursor=cursor
        )
        return Page(self.describe(page.data, for_person=False), page.next_cursor)

    def get_for_person(self, person_id: uuid.UUID, conversation_id: uuid.UUID) -> dict[str, Any]:
        return self.describe(
            [self._own(Conversation.person_id == person_id, conversation_id)], True
        )[0]

    def get_for_vendor(
        self, vendor_id: uuid.UUID, conversation_id: uuid.UUID, person_id: uuid.UUID | None
    ) -> dict[str, Any]:
        conversation = self._own(self._vendor_scope(vendor_id, person_id), conversation_id)
        return self.describe([conversation], False)[0]

    def person_messages(
        self,
        person_id: uuid.UUID,
        conversation_id: uuid.UUID,
        *,
        limit: int,
        cursor: str | None,
        include_held: bool = False,
    ) -> Page[dict[str, Any]]:
        """Newest first; a held vendor message appears once the quiet hours are over (the
        export, ``include_held``, shows it already, with ``held_until``)."""
        conversation = self._own(Conversation.person_id == person_id, conversation_id)
        stmt = select(Message).where(Message.conversation_id == conversation.id)
        if not include_held:
            stmt = stmt.where(Message.visible_at <= clock.now())
        return self._message_page(conversation, stmt, limit, cursor)

    def vendor_messages(
        self,
        vendor_id: uuid.UUID,
        conversation_id: uuid.UUID,
        *,
        person_id: uuid.UUID | None,
        limit: int,
        cursor: str | None,
    ) -> Page[dict[str, Any]]:
        """Newest first, the vendor's held messages included (with when they show)."""
        conversation = self._own(self._vendor_scope(vendor_id, person_id), conversation_id)
        stmt = select(Message).where(Message.conversation_id == conversation.id)
        return self._message_page(conversation, stmt, limit, cursor)

    def unread_total(self, person_id: uuid.UUID) -> int:
        return int(
            self.session.scalar(
                select(func.count())
                .select_from(Message)
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Conversation.person_id == person_id,
                    _unread_by_person(clock.now()),
                )
            )
            or 0
        )

    def describe(self, conversations: list[Conversation], for_person: bool) -> list[dict[str, Any]]:
        if not conversations:
            return []
        ids = [c.id for c in conversations]
        now = clock.now()
        unread = dict(
            self.session.execute(
                select(Message.conversation_id, func.count())
                .join(Conversation, Conversation.id == Message.conversation_id)
                .where(
                    Message.conversation_id.in_(ids),
                    _unread_by_person(now),
                )
                .group_by(Message.conversation_id)
            ).all()
        )
        # What the person sees leaves out messages still held in their quiet hours.
        shown = {
            conversation_id: (count, latest)
            for conversation_id, count, latest in self.session.execute(
                select(Message.conversation_id, func.count(), func.max(Message.visible_at))
                .where(Message.conversation_id.in_(ids), Message.visible_at <= now)
                .group_by(Message.conversation_id)
            )
        }
        vendors = dict(
            self.session.execute(
                select(Vendor.id, Vendor.name).where(
                    Vendor.id.in_({c.vendor_id for c in conversations})
                )
            ).all()
        )
        live = set() if for_person else self._live_consents(conversations)
        views = []
        for c in conversations:
            view: dict[str, Any] = {
                "id": c.id,
                "vendor_id": c.vendor_id,
                "vendor_name": vendors.get(c.vendor_id),
                "customer_ref": self._ref(c),
                "consent_id": c.consent_id,
                "offer_id": c.offer_id,
                "state": c.state,
                "opened_by": c.opened_by,
                "message_count": c.last_seq,
                "last_message_at": c.last_message_at,
                "created_at": c.created_at,
                "closed_at": c.closed_at,
            }
            if for_person:
                view["message_count"], view["last_message_at"] = shown.get(c.id, (0, None))
                view["unread"] = unread.get(c.id, 0)
                del view["customer_ref"]
            else:
                view["unanswered"] = c.vendor_streak
                view["can_write"] = c.state == "open" and c.consent_id in live
            views.append(view)
        return views

    # Internals

    def _post(
        self,
        conversation: Conversation,
        sender: str,
        text: str,
        offer_id: uuid.UUID | None,
        intention_id: uuid.UUID | None,
        visible_at: datetime | None = None,
    ) -> Message:
        now = clock.now()
        conversation.last_seq += 1
        conversation.vendor_streak = conversation.vendor_streak + 1 if sender == "vendor" else 0
        if sender == "person":
            # Writing means having read what was visible (never what is still held).
            conversation.person_read_at = now
        conversation.last_message_at = conversation.updated_at = now
        # The person's inbox puts it on top once the message shows to them.
        conversation.active_at = max(conversation.active_at, visible_at or now)
        message = Message(
            id=uuid.uuid4(),
            conversation_id=conversation.id,
            seq=conversation.last_seq,
            sender=sender,
            offer_id=offer_id,
            intention_id=intention_id,
            created_at=now,
            visible_at=visible_at or now,
        )
        message.body = self.keyring.encrypt(text, aad_for("messages", "body", message.id))
        self.session.add(message)
        self.outbox.emit(
            conversation.vendor_id,
            "message.created",
            {
                "conversation_id": conversation.id,
                "message_id": message.id,
                "customer_ref": self._ref(conversation),
                "sender": sender,
                "text": text,
                "offer_id": offer_id,
                "intention_id": intention_id,
                "created_at": now,
                "visible_at": message.visible_at,
            },
            person_id=conversation.person_id,
        )
        return message

    def _message_page(
        self, conversation: Conversation, stmt: Any, limit: int, cursor: str | None
    ) -> Page[dict[str, Any]]:
        page = newest_first(
            self.session, stmt, Message.created_at, Message.id, limit=limit, cursor=cursor
        )
        return Page(self._views(conversation, page.data), page.next_cursor)

    def message_view(self, message: Message) -> dict[str, Any]:
        conversation = self.session.get(Conversation, message.conversation_id)
        assert conversation is not None
        return self._views(conversation, [message])[0]

    def person_of(self, message: Message) -> uuid.UUID:
        conversation = self.session.get(Conversation, message.conversation_id)
        assert conversation is not None
        return conversation.person_id

    def _views(self, conversation: Conversation, messages: list[Message]) -> list[dict[str, Any]]:
        now = clock.now()
        return [
            {
                "id": m.id,
                "conversation_id": m.conversation_id,
                "seq": m.seq,
                "sender": m.sender,
                "text": self.keyring.decrypt(m.body, aad_for("messages", "body", m.id)),
                "offer_id": m.offer_id,
                "intention_id": m.intention_id,
                "created_at": m.created_at,
                "held_until": m.visible_at if m.visible_at > now else None,
                "read": m.sender == "person"
                or (
                    conversation.person_read_at is not None
                    and m.visible_at <= conversation.person_read_at
                ),
            }
            for m in messages
        ]

    def _check_refs(
        self,
        conversation: Conversation,
        offer_id: uuid.UUID | None,
        intention_id: uuid.UUID | None,
    ) -> None:
        """A message may point at an offer or intention both sides already share."""
        if offer_id is not None:
            shared = self.session.scalar(
                select(Offer.id).where(
                    Offer.id == offer_id,
                    Offer.person_id == conversation.person_id,
                    Offer.vendor_id == conversation.vendor_id,
                )
            )
            if shared is None:
                raise ValidationFailed(
                    gettext("No offer between you two with this id"), field="offer_id"
                )
        if intention_id is not None:
            shared = self.session.scalar(
                select(Intention.id)
                .join(IntentionReach, IntentionReach.intention_id == Intention.id)
                .where(
                    Intention.id == intention_id,
                    Intention.person_id == conversation.person_id,
                    IntentionReach.vendor_id == conversation.vendor_id,
                )
            )
            if shared is None:
                raise ValidationFailed(
                    gettext("No intention that reached this vendor has this id"),
                    field="intention_id",
                )

    def _consent_live(self, conversation: Conversation) -> bool:
        return conversation.consent_id in self._live_consents([conversation])

    def _live_consents(self, conversations: list[Conversation]) -> set[uuid.UUID]:
        """Which of the conversations' consents are given and unexpired, in one query."""
        ids = {c.consent_id for c in conversations if c.consent_id is not None}
        if not ids:
            return set()
        return set(
            self.session.scalars(
                select(Consent.id).where(
                    Consent.id.in_(ids), Consent.state == "given", Consent.expires_at > clock.now()
                )
            )
        )

    def _blocked(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> bool:
        return self.session.get(VendorBlock, (person_id, vendor_id)) is not None

    def _ref(self, conversation: Conversation) -> str:
        return self.keyring.pseudonym(conversation.vendor_id, conversation.person_id)

    @staticmethod
    def _vendor_scope(vendor_id: uuid.UUID, person_id: uuid.UUID | None) -> Any:
        """A vendor's conversations; a token one person issued reaches only theirs."""
        scope = Conversation.vendor_id == vendor_id
        if person_id is not None:
            scope = and_(scope, Conversation.person_id == person_id)
        return scope

    def _own(self, scope: Any, conversation_id: uuid.UUID) -> Conversation:
        found = self.session.scalar(
            select(Conversation).where(scope, Conversation.id == conversation_id)
        )
        if found is None:
            raise NotFound(gettext("No such conversation"))
        return found

    def _locked(self, scope: Any, conversation_id: uuid.UUID) -> Conversation:
        found = self.session.scalar(
            select(Conversation).where(scope, Conversation.id == conversation_id).with_for_update()
        )
        if found is None:
            raise NotFound(gettext("No such conversation"))
        return found
