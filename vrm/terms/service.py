"""The person's terms, the vendor's acceptance, and agreements between them."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vrm import clock
from vrm.audit.service import AuditLog
from vrm.crypto import Keyring
from vrm.db import write_transaction
from vrm.errors import NotFound, ValidationFailed
from vrm.i18n import gettext
from vrm.pagination import Page, newest_first
from vrm.terms.models import Agreement, PersonTerms, VendorTerms
from vrm.terms.roster import BY_CODE, DEFAULT_TERMS
from vrm.vendors.models import Vendor

DEFAULT_CONSENT_DAYS = 90
DEFAULT_MAX_UNANSWERED = 3
MAX_UNANSWERED_CEILING = 20
MAX_CONSENT_DAYS = 365
CEILING_DAYS = 3650
AGREEMENT_TYP = "vrm-agreement+jws"


def term_refs(codes: Iterable[str], *, field: str = "terms") -> list[dict[str, Any]]:
    """Roster references for codes, each at its current version; unknown codes refused."""
    refs: dict[str, dict[str, Any]] = {}
    for position, code in enumerate(codes):
        term = BY_CODE.get(code)
        if term is None:
            raise ValidationFailed(
                gettext("%(code)s is not a term on the roster", code=repr(code)),
                field=f"{field}.{position}",
            )
        refs.setdefault(code, term.ref)
    return list(refs.values())


def _clock_time(value: Any, field: str) -> str:
    try:
        return time.fromisoformat(value).strftime("%H:%M")
    except (TypeError, ValueError):
        raise ValidationFailed(gettext("Give a time as HH:MM"), field=field) from None


def conversation_rules(rules: dict[str, Any]) -> dict[str, Any]:
    """The PersonTerms columns for the rules given, each checked."""
    values: dict[str, Any] = {}
    if "max_unanswered" in rules:
        count = rules["max_unanswered"]
        if not isinstance(count, int) or not 1 <= count <= MAX_UNANSWERED_CEILING:
            raise ValidationFailed(
                gettext("Choose between 1 and %(most)s", most=MAX_UNANSWERED_CEILING),
                field="max_unanswered_messages",
            )
        values["max_unanswered"] = count
    if "quiet_hours" in rules:
        quiet = rules["quiet_hours"]
        if quiet is None:
            values["quiet_start"] = values["quiet_end"] = None
        else:
            start = _clock_time(quiet.get("start"), "quiet_hours.start")
            end = _clock_time(quiet.get("end"), "quiet_hours.end")
            if start == end:
                raise ValidationFailed(
                    gettext("Quiet hours need an end after their start"), field="quiet_hours.end"
                )
            values["quiet_start"], values["quiet_end"] = start, end
    if "time_zone" in rules:
        try:
            ZoneInfo(rules["time_zone"])
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            raise ValidationFailed(
                gettext("Give an IANA time zone such as Europe/Paris"), field="time_zone"
            ) from None
        values["time_zone"] = rules["time_zone"]
    return values


class TermsService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    # The person's terms

    def of_person(self, person_id: uuid.UUID) -> PersonTerms:
        stored = self.session.get(PersonTerms, person_id)
        if stored is not None:
            return stored
        return PersonTerms(
            person_id=person_id,
            terms=term_refs(DEFAULT_TERMS),
            consent_default_days=DEFAULT_CONSENT_DAYS,
            consent_max_days=MAX_CONSENT_DAYS,
            max_unanswered=DEFAULT_MAX_UNANSWERED,
            quiet_start=None,
            quiet_end=None,
            time_zone="UTC",
            updated_at=None,
        )

    def set_for_person(
        self,
        person_id: uuid.UUID,
        codes: list[str],
        default_days: int,
        max_days: int,
        rules: dict[str, Any] | None = None,
    ) -> PersonTerms:
        """Set the terms and consent durations, and any conversation rules in ``rules``
        (``max_unanswered``, ``quiet_hours`` as {start, end} or None, ``time_zone``);
        rules not named keep their value."""
        refs = term_refs(codes)
        if not refs:
            raise ValidationFailed(gettext("Proffer at least one term"), field="terms")
        if not 1 <= max_days <= CEILING_DAYS:
            raise ValidationFailed(
                gettext("Choose between 1 and %(most)s days", most=CEILING_DAYS),
                field="consent_max_days",
            )
        if not 1 <= default_days <= max_days:
            raise ValidationFailed(
                gettext("The default cannot be longer than the maximum"),
                field="consent_default_days",
            )
        values: dict[str, Any] = {
            "terms": refs,
            "consent_default_days": default_days,
            "consent_max_days": max_days,
            **conversation_rules(rules or {}),
        }
        return self._upsert(PersonTerms, {"person_id": person_id}, values)

    # The vendor's acceptance

    def of_vendor(self, vendor_id: uuid.UUID) -> list[dict[str, Any]]:
        stored = self.session.get(VendorTerms, vendor_id)
        return list(stored.accepted) if stored else []

    def set_for_vendor(self, vendor_id: uuid.UUID, codes: list[str]) -> list[dict[str, Any]]:
        refs = term_refs(codes, field="accepted")
        self._upsert(VendorTerms, {"vendor_id": vendor_id}, {"accepted": refs})
        return refs

    def _upsert(self, model: Any, key: dict[str, Any], values: dict[str, Any]) -> Any:
        """Insert or update one row; a first write racing another becomes an update."""
        for attempt in (1, 2):
            try:
                with write_transaction(self.session):
                    stored = self.session.get(model, tuple(key.values()))
                    if stored is None:
                        stored = model(**key)
                        self.session.add(stored)
                    for name, value in {**values, "updated_at": clock.now()}.items():
                        setattr(stored, name, value)
                return stored
            except IntegrityError:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    # Agreements

    def proffer(
        self,
        person_id: uuid.UUID,
        vendor: Vendor,
        customer_ref: str,
        *,
        terms: list[dict[str, Any]] | None = None,
        also_accepted: list[dict[str, Any]] | None = None,
    ) -> Agreement:
        """Proffer the person's terms (or ``terms``, those an intention is published
        under) to the vendor and record its answer: its standing acceptance plus
        ``also_accepted`` (what it accepts in an offer). Call inside a write transaction:
        the record commits with what needs it."""
        terms = list(self.of_person(person_id).terms if terms is None else terms)
        accepted = {
            (t["code"], t["version"]) for t in [*self.of_vendor(vendor.id), *(also_accepted or [])]
        }
        missing = [t["code"] for t in terms if (t["code"], t["version"]) not in accepted]
        status = "refused" if missing else "accepted"
        latest = self.latest(person_id, vendor.id)
        if (
            latest is not None
            and latest.terms == terms
            and latest.status == status
            and latest.missing == missing
        ):
            return latest
        now = clock.now()
        agreement = Agreement(
            id=uuid.uuid4(),
            person_id=person_id,
            vendor_id=vendor.id,
            terms=terms,
            status=status,
            missing=missing,
            created_at=now,
            updated_at=now,
            record="",
        )
        agreement.record = self.keyring.sign_jws(
            {
                "schema_version": "vrm-agreement/1",
                "agreement_id": str(agreement.id),
                "principal": {"customer_ref": customer_ref},
                "vendor": {"id": str(vendor.id), "name": vendor.name},
                "terms": terms,
                "status": status,
                "missing": missing,
                "time": now.isoformat(),
            },
            AGREEMENT_TYP,
        )
        self.session.add(agreement)
        self.session.flush()
        AuditLog(self.session).append(
            person_id,
            f"agreement.{status}",
            vendor=vendor,
            detail={
                "agreement_id": str(agreement.id),
                "terms": [t["code"] for t in terms],
                "missing": missing,
            },
        )
        return agreement

    def latest(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> Agreement | None:
        return self.session.scalar(
            select(Agreement)
            .where(Agreement.person_id == person_id, Agreement.vendor_id == vendor_id)
            .order_by(Agreement.created_at.desc())
            .limit(1)
        )

    def for_person(self, person_id: uuid.UUID) -> list[Agreement]:
        return list(
            self.session.scalars(
                select(Agreement)
                .where(Agreement.person_id == person_id)
                .order_by(Agreement.created_at.desc())
            )
        )

    def page(
        self,
        *,
        person_id: uuid.UUID | None = None,
        vendor_id: uuid.UUID | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[Agreement]:
        """One page of a person's or a vendor's agreements, newest first."""
        stmt = select(Agreement)
        if person_id is not None:
            stmt = stmt.where(Agreement.person_id == person_id)
        if vendor_id is not None:
            stmt = stmt.where(Agreement.vendor_id == vendor_id)
        return newest_first(
            self.session, stmt, Agreement.created_at, Agreement.id, limit=limit, cursor=cursor
        )

    def get_for_person(self, person_id: uuid.UUID, agreement_id: uuid.UUID) -> Agreement:
        found = self.session.get(Agreement, agreement_id)
        if found is None or found.person_id != person_id:
            raise NotFound(gettext("No such agreement"))
        return found
