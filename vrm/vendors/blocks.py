"""A person blocks a vendor: it leaves their intentions' feeds, its open offers close (it
is told each intention was withdrawn), and it matches none of their intentions until
unblocked."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from vrm import clock
from vrm.audit.service import AuditLog
from vrm.conversations.service import ConversationService
from vrm.crypto import Keyring
from vrm.db import insert_missing, write_transaction
from vrm.errors import NotFound
from vrm.i18n import gettext
from vrm.intentions.matching import Matcher
from vrm.intentions.models import IntentionMatch, Offer
from vrm.intentions.service import IntentionService
from vrm.pagination import Page, newest_first
from vrm.vendors.models import Vendor, VendorBlock


class BlockService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    def block(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> VendorBlock:
        vendor = self.session.get(Vendor, vendor_id)
        if vendor is None:
            raise NotFound(gettext("No such vendor"), field="vendor_id")
        now = clock.now()
        with write_transaction(self.session):
            # Alone against publications and backfills, or one could match it just after.
            Matcher(self.session, self.keyring).guard(exclusive=True)
            insert_missing(
                self.session,
                VendorBlock,
                [{"person_id": person_id, "vendor_id": vendor_id, "created_at": now}],
            )
            matches = list(
                self.session.scalars(
                    select(IntentionMatch).where(
                        IntentionMatch.person_id == person_id,
                        IntentionMatch.vendor_id == vendor_id,
                    )
                )
            )
            intentions = IntentionService(self.session, self.keyring)
            gone = intentions.unmatch_within(matches)
            gone |= intentions.close_offers_within(
                Offer.person_id == person_id, Offer.vendor_id == vendor_id
            )
            # To the vendor, each is withdrawn (as it is; nothing says it was blocked).
            intentions.announce_gone_within(gone, "intention.withdrawn")
            ConversationService(self.session, self.keyring).close_with_vendor_within(
                person_id, vendor_id
            )
            AuditLog(self.session).append(person_id, "vendor.blocked", vendor=vendor)
        block = self.session.get(VendorBlock, (person_id, vendor_id))
        assert block is not None
        return block

    def unblock(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> None:
        """The vendor can match the person's intentions again: new ones, and open ones
        through a new subscription or an edit."""
        with write_transaction(self.session):
            gone = self.session.execute(
                delete(VendorBlock).where(
                    VendorBlock.person_id == person_id, VendorBlock.vendor_id == vendor_id
                )
            )
            if not gone.rowcount:
                raise NotFound(gettext("This vendor is not blocked"))
            AuditLog(self.session).append(
                person_id, "vendor.unblocked", vendor=self.session.get(Vendor, vendor_id)
            )

    def is_blocked(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> bool:
        return self.session.get(VendorBlock, (person_id, vendor_id)) is not None

    def page(self, person_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[Any]:
        found = newest_first(
            self.session,
            select(VendorBlock).where(VendorBlock.person_id == person_id),
            VendorBlock.created_at,
            VendorBlock.vendor_id,
            limit=limit,
            cursor=cursor,
        )
        return Page(self.describe(found.data), found.next_cursor)

    def describe(self, blocks: list[VendorBlock]) -> list[dict[str, Any]]:
        names = dict(
            self.session.execute(
                select(Vendor.id, Vendor.name).where(Vendor.id.in_([b.vendor_id for b in blocks]))
            ).all()
        )
        return [
            {
                "vendor_id": b.vendor_id,
                "vendor_name": names.get(b.vendor_id),
                "created_at": b.created_at,
            }
            for b in blocks
        ]
