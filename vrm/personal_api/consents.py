"""Terms, agreements, consents, consent requests and the access log: the person's side."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from vrm.audit.schemas import AuditEventSchema, ChainReportSchema
from vrm.audit.service import AuditLog
from vrm.consents.schemas import (
    ApproveSchema,
    ConsentGrantSchema,
    ConsentSchema,
    ReceiptSchema,
)
from vrm.idempotency.http import HEADER_DOC as IDEMPOTENCY_HEADER
from vrm.idempotency.http import about, idempotent
from vrm.pagination import Page
from vrm.personal_api.auth import SECURITY, current_person, require_person
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import consent_service, db_session, terms_service
from vrm.terms.roster import ROSTER
from vrm.terms.schemas import AgreementSchema, PersonTermsInSchema, PersonTermsSchema

blp = Blueprint("personal_consents", __name__, description="Your terms, consents and access log")


# Request members -> conversation rules the terms service takes.
RULES = {
    "max_unanswered_messages": "max_unanswered",
    "quiet_hours": "quiet_hours",
    "time_zone": "time_zone",
}


def _terms_view(terms: Any) -> dict[str, Any]:
    return {
        "terms": terms.terms,
        "consent_default_days": terms.consent_default_days,
        "consent_max_days": terms.consent_max_days,
        "max_unanswered_messages": terms.max_unanswered,
        "quiet_hours": {"start": terms.quiet_start, "end": terms.quiet_end}
        if terms.quiet_start
        else None,
        "time_zone": terms.time_zone,
        "roster": ROSTER,
    }


@blp.route("/terms", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, PersonTermsSchema)
def get_terms() -> dict[str, Any]:
    """The terms you proffer to every vendor, your consent durations, and the roster."""
    return _terms_view(terms_service().of_person(current_person().id))


@blp.route("/terms", methods=["PUT"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PersonTermsInSchema)
@blp.response(200, PersonTermsSchema)
def put_terms(body: dict[str, Any]) -> dict[str, Any]:
    """Choose the terms you proffer, how long consents last by default and at most, and
    your rules for conversations (left out, a rule keeps its value)."""
    rules = {name: body[key] for key, name in RULES.items() if key in body}
    terms = terms_service().set_for_person(
        current_person().id,
        body["terms"],
        body["consent_default_days"],
        body["consent_max_days"],
        rules,
    )
    return _terms_view(terms)


@blp.route("/agreements", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(AgreementSchema))
def list_agreements(args: dict[str, Any]) -> Page[Any]:
    """Every agreement record between you and a vendor, accepted or refused."""
    return terms_service().page(person_id=current_person().id, **page_args(args))


@blp.route("/agreements/<uuid:agreement_id>", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, AgreementSchema)
def get_agreement(agreement_id: uuid.UUID) -> Any:
    """One agreement, with its signed record."""
    return terms_service().get_for_person(current_person().id, agreement_id)


@blp.route("/consents", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(ConsentSchema))
def list_consents(args: dict[str, Any]) -> Page[Any]:
    """Your consents to every vendor, in every state, newest first."""
    service = consent_service()
    page = service.page(person_id=current_person().id, **page_args(args))
    return Page([service.describe(c) for c in page.data], page.next_cursor)


@blp.route("/consents", methods=["POST"])
@blp.doc(security=SECURITY, parameters=[IDEMPOTENCY_HEADER])
@require_person
@idempotent(lambda: f"person:{current_person().id}")
@blp.arguments(ConsentGrantSchema)
@blp.response(201, ConsentSchema)
@blp.alt_response(409, description="The vendor has not accepted your terms")
def grant_consent(body: dict[str, Any]) -> dict[str, Any]:
    """Give a vendor consent to these fields, for these purposes, for this long."""
    service = consent_service()
    about(current_person().id)
    consent = service.grant(
        current_person().id,
        body["vendor_id"],
        body["fields"],
        body["purposes"],
        body.get("duration_days"),
    )
    return service.describe(consent)


@blp.route("/consents/<uuid:consent_id>", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, ConsentSchema)
def get_consent(consent_id: uuid.UUID) -> dict[str, Any]:
    """One of your consents."""
    service = consent_service()
    return service.describe(service.get_for_person(current_person().id, consent_id))


@blp.route("/consents/<uuid:consent_id>/withdraw", methods=["POST"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, ConsentSchema)
def withdraw_consent(consent_id: uuid.UUID) -> dict[str, Any]:
    """Withdraw a consent: the vendor's very next request no longer sees these fields."""
    service = consent_service()
    return service.describe(service.withdraw(current_person().id, consent_id))


@blp.route("/consents/<uuid:consent_id>/receipts", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, page_of(ReceiptSchema))
def consent_receipts(consent_id: uuid.UUID) -> Page[Any]:
    """Every event of the consent with its signed receipt, oldest first."""
    service = consent_service()
    consent = service.get_for_person(current_person().id, consent_id)
    return Page(service.events(consent), None)


@blp.route("/consent-requests", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(ConsentSchema))
def list_requests(args: dict[str, Any]) -> Page[Any]:
    """Vendors' requests for consent waiting for your answer."""
    service = consent_service()
    pending = service.page(person_id=current_person().id, states=("requested",), **page_args(args))
    return Page([service.describe(c) for c in pending.data], pending.next_cursor)


@blp.route("/consent-requests/<uuid:consent_id>/approve", methods=["POST"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(ApproveSchema)
@blp.response(200, ConsentSchema)
def approve_request(body: dict[str, Any], consent_id: uuid.UUID) -> dict[str, Any]:
    """Approve a request as asked, or narrowed (fewer fields or purposes, shorter)."""
    service = consent_service()
    consent = service.approve(
        current_person().id,
        consent_id,
        body.get("fields"),
        body.get("purposes"),
        body.get("duration_days"),
    )
    return service.describe(consent)


@blp.route("/consent-requests/<uuid:consent_id>/deny", methods=["POST"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, ConsentSchema)
def deny_request(consent_id: uuid.UUID) -> dict[str, Any]:
    """Deny a request; the refusal is recorded and receipted too."""
    service = consent_service()
    return service.describe(service.deny(current_person().id, consent_id))


@blp.route("/access-log", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(AuditEventSchema))
def access_log(args: dict[str, Any]) -> Page[Any]:
    """Who read what, for which purpose, and every consent and agreement: newest first."""
    return AuditLog(db_session()).page(current_person().id, **page_args(args))


@blp.route("/access-log/verify", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, ChainReportSchema)
def verify_access_log() -> Any:
    """Recompute the hash chain and report the first entry that does not hold."""
    return AuditLog(db_session()).verify(current_person().id)
