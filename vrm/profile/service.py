"""Reading and changing the profile; every change is a numbered, timed revision."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from vrm import clock
from vrm.accounts.models import Person
from vrm.audit.service import AuditLog
from vrm.consents.models import Consent
from vrm.crypto import Keyring, aad_for
from vrm.db import write_transaction
from vrm.errors import PreconditionFailed
from vrm.events.outbox import Outbox
from vrm.i18n import gettext
from vrm.pagination import Page, newest_first
from vrm.profile.models import ProfileAttribute, ProfileRevision
from vrm.vendors.models import Vendor


@dataclass
class Profile:
    values: dict[str, Any]
    version: int
    updated_at: datetime | None


@dataclass
class Revision:
    number: int
    created_at: datetime
    changes: dict[str, Any]


# Built once: every profile read runs it.
_ATTRIBUTES_OF = select(ProfileAttribute).where(
    ProfileAttribute.person_id == bindparam("person_id")
)


class ProfileService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    def _value(self, attribute: ProfileAttribute) -> Any:
        aad = aad_for("profile_attributes", "value", attribute.id)
        return self.keyring.decrypt_json(attribute.value, aad)

    def _attributes(self, person_id: uuid.UUID) -> dict[str, ProfileAttribute]:
        rows = self.session.scalars(_ATTRIBUTES_OF, {"person_id": person_id})
        return {row.field: row for row in rows}

    def _version(self, person_id: uuid.UUID) -> int:
        latest = select(func.max(ProfileRevision.number)).where(
            ProfileRevision.person_id == person_id
        )
        return self.session.scalar(latest) or 0

    def locale_of(self, person_id: uuid.UUID) -> str | None:
        """The person's ``locale`` alone: the pages pick their language from it."""
        row = self.session.scalar(
            select(ProfileAttribute).where(
                ProfileAttribute.person_id == person_id, ProfileAttribute.field == "locale"
            )
        )
        return self._value(row) if row is not None else None

    def values(self, person_id: uuid.UUID) -> dict[str, Any]:
        """The decrypted values alone (a vendor's read needs no version or date)."""
        return {name: self._value(row) for name, row in self._attributes(person_id).items()}

    def get(self, person_id: uuid.UUID) -> Profile:
        attributes = self._attributes(person_id)
        values = {name: self._value(row) for name, row in attributes.items()}
        updated = max((row.updated_at for row in attributes.values()), default=None)
        return Profile(values, self._version(person_id), updated)

    def update(
        self, person_id: uuid.UUID, changes: dict[str, Any], expected_version: int | None = None
    ) -> Profile:
        """Apply validated changes; a change that alters nothing writes no revision."""
        now = clock.now()
        with write_transaction(self.session):
            # Serialise concurrent edits of one profile (a no-op lock on SQLite, which
            # already holds the write lock from BEGIN IMMEDIATE).
            self.session.execute(select(Person.id).where(Person.id == person_id).with_for_update())
            version = self._version(person_id)
            if expected_version is not None and expected_version != version:
                raise PreconditionFailed(
                    gettext(
                        "The profile is at version %(version)s, not %(expected)s; read it again",
                        version=version,
                        expected=expected_version,
                    )
                )
            attributes = self._attributes(person_id)
            applied: dict[str, Any] = {}
            for name, new in changes.items():
                row = attributes.get(name)
                old = self._value(row) if row else None
                if name == "custom" and new is not None:
                    merged = dict(old or {})
                    for key, value in new.items():
                        if value is None:
                            merged.pop(key, None)
                        else:
                            merged[key] = value
                    new = merged or None
                if new == old:
                    continue
                applied[name] = new
                if new is None:
                    if row is not None:
                        self.session.delete(row)
                    continue
                if row is None:
                    row = ProfileAttribute(id=uuid.uuid4(), person_id=person_id, field=name)
                    self.session.add(row)
                row.value = self.keyring.encrypt_json(
                    new, aad_for("profile_attributes", "value", row.id)
                )
                row.updated_at = now
            if applied:
                revision = ProfileRevision(
                    id=uuid.uuid4(), person_id=person_id, number=version + 1, created_at=now
                )
                revision.changes = self.keyring.encrypt_json(
                    applied, aad_for("profile_revisions", "changes", revision.id)
                )
                self.session.add(revision)
                self._tell_vendors(person_id, applied, now)
        return self.get(person_id)

    def _tell_vendors(self, person_id: uuid.UUID, changed: dict[str, Any], now: datetime) -> None:
        """``profile.updated`` to each vendor a live consent lets read a changed field,
        with those fields only (a removed one as null), whatever the consent's purpose."""
        live = self.session.execute(
            select(Consent.vendor_id, Consent.id, Consent.fields)
            .where(
                Consent.person_id == person_id,
                Consent.state == "given",
                Consent.expires_at > now,
            )
            .order_by(Consent.vendor_id, Consent.created_at, Consent.id)
        ).all()
        covering: dict[uuid.UUID, list[uuid.UUID]] = {}
        shown: dict[uuid.UUID, set[str]] = {}
        for vendor_id, consent_id, fields in live:
            covered = changed.keys() & set(fields)
            if covered:
                covering.setdefault(vendor_id, []).append(consent_id)
                shown.setdefault(vendor_id, set()).update(covered)
        outbox = Outbox(self.session, self.keyring)
        audit = AuditLog(self.session)
        vendors = {
            v.id: v for v in self.session.scalars(select(Vendor).where(Vendor.id.in_(covering)))
        }
        for vendor_id, consent_ids in covering.items():
            # A value pushed is a value disclosed: the person sees it in their access log.
            audit.append(
                person_id,
                "profile.pushed",
                vendor=vendors[vendor_id],
                fields=sorted(shown[vendor_id]),
                detail={"consent_ids": [str(c) for c in consent_ids]},
            )
            outbox.emit(
                vendor_id,
                "profile.updated",
                {
                    "customer_ref": self.keyring.pseudonym(vendor_id, person_id),
                    "consent_ids": consent_ids,
                    "changed": {name: changed[name] for name in sorted(shown[vendor_id])},
                },
                person_id=person_id,
            )

    def history(self, person_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[Revision]:
        stmt = select(ProfileRevision).where(ProfileRevision.person_id == person_id)
        page = newest_first(
            self.session,
            stmt,
            ProfileRevision.created_at,
            ProfileRevision.id,
            limit=limit,
            cursor=cursor,
        )
        return Page([self._revision(row) for row in page.data], page.next_cursor)

    def _revision(self, row: ProfileRevision) -> Revision:
        aad = aad_for("profile_revisions", "changes", row.id)
        return Revision(row.number, row.created_at, self.keyring.decrypt_json(row.changes, aad))

    def all_revisions(self, person_id: uuid.UUID) -> list[Revision]:
        rows = self.session.scalars(
            select(ProfileRevision)
            .where(ProfileRevision.person_id == person_id)
            .order_by(ProfileRevision.number)
        )
        return [self._revision(row) for row in rows]
