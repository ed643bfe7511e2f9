"""The vendor's side of terms, consents and the consented profile read."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from vendor_api.auth import idempotency_caller, require_oauth, scope_doc, token
from vrm.consents.schemas import (
    ConsentRequestSchema,
    ConsentSchema,
    PurposeQuerySchema,
    ReceiptSchema,
    SharedProfileSchema,
)
from vrm.errors import NotFound
from vrm.idempotency.http import HEADER_DOC as IDEMPOTENCY_HEADER
from vrm.idempotency.http import about, idempotent
from vrm.pagination import Page
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import consent_service, terms_service, vendor_service
from vrm.terms.roster import ROSTER
from vrm.terms.schemas import AgreementSchema, VendorTermsInSchema, VendorTermsSchema
from vrm.vendors.models import Vendor

blp = Blueprint("vendor_consents", __name__, description="Terms, consents and profile reads")


def caller() -> Vendor:
    vendor = vendor_service().get_vendor(token().client.vendor_id)
    if vendor is None:
        raise NotFound("The vendor of this token no longer exists")
    return vendor


@blp.route("/terms", methods=["GET"])
@blp.doc(security=scope_doc("consents:request"))
@require_oauth("consents:request")
@blp.response(200, VendorTermsSchema)
def get_terms() -> dict[str, Any]:
    """The roster terms you accept in advance, and the whole roster."""
    return {"accepted": terms_service().of_vendor(caller().id), "roster": ROSTER}


@blp.route("/terms", methods=["PUT"])
@blp.doc(security=scope_doc("consents:request"))
@require_oauth("consents:request")
@blp.arguments(VendorTermsInSchema)
@blp.response(200, VendorTermsSchema)
def put_terms(body: dict[str, Any]) -> dict[str, Any]:
    """Record which roster terms you accept; people whose terms you accept can consent."""
    return {
        "accepted": terms_service().set_for_vendor(caller().id, body["accepted"]),
        "roster": ROSTER,
    }


@blp.route("/agreements", methods=["GET"])
@blp.doc(security=scope_doc("consents:request"))
@require_oauth("consents:request")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(AgreementSchema))
def list_agreements(args: dict[str, Any]) -> Page[Any]:
    """Every agreement record between you and a person, accepted or refused."""
    return terms_service().page(vendor_id=caller().id, **page_args(args))


@blp.route("/consent-requests", methods=["POST"])
@blp.doc(security=scope_doc("consents:request"), parameters=[IDEMPOTENCY_HEADER])
@require_oauth("consents:request")
@idempotent(idempotency_caller)
@blp.arguments(ConsentRequestSchema)
@blp.response(201, ConsentSchema)
@blp.alt_response(409, description="You have not accepted the person's terms")
def request_consent(body: dict[str, Any]) -> dict[str, Any]:
    """Ask a customer for consent to fields, for purposes, for a time, with a message."""
    service = consent_service()
    consent = service.request(
        caller(),
        body["customer_ref"],
        body["fields"],
        body["purposes"],
        body.get("duration_days"),
        body.get("message"),
    )
    about(consent.person_id)
    return service.describe(consent)


@blp.route("/consents", methods=["GET"])
@blp.doc(security=scope_doc("consents:request"))
@require_oauth("consents:request")
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(ConsentSchema))
def list_consents(args: dict[str, Any]) -> Page[Any]:
    """Your consents and requests, in every state, newest first."""
    service = consent_service()
    page = service.page(vendor_id=caller().id, **page_args(args))
    return Page([service.describe(c) for c in page.data], page.next_cursor)


@blp.route("/consents/<uuid:consent_id>", methods=["GET"])
@blp.doc(security=scope_doc("consents:request"))
@require_oauth("consents:request")
@blp.response(200, ConsentSchema)
def get_consent(consent_id: uuid.UUID) -> dict[str, Any]:
    """One of your consents."""
    service = consent_service()
    return service.describe(service.get_for_vendor(caller().id, consent_id))


@blp.route("/consents/<uuid:consent_id>/receipts", methods=["GET"])
@blp.doc(security=scope_doc("consents:request"))
@require_oauth("consents:request")
@blp.response(200, page_of(ReceiptSchema))
def consent_receipts(consent_id: uuid.UUID) -> Page[Any]:
    """The same signed receipts the person holds."""
    service = consent_service()
    consent = service.get_for_vendor(caller().id, consent_id)
    return Page(service.events(consent), None)


@blp.route("/consents/<uuid:consent_id>/revoke", methods=["POST"])
@blp.doc(security=scope_doc("consents:request"))
@require_oauth("consents:request")
@blp.response(200, ConsentSchema)
def revoke_consent(consent_id: uuid.UUID) -> dict[str, Any]:
    """Give up a consent or drop a request you made."""
    service = consent_service()
    return service.describe(service.revoke_by_vendor(caller().id, consent_id))


@blp.route("/customers/<string:customer_ref>/profile", methods=["GET"])
@blp.doc(security=scope_doc("profile:read"))
@require_oauth("profile:read")
@blp.arguments(PurposeQuerySchema, location="query")
@blp.response(200, SharedProfileSchema)
@blp.alt_response(403, description="No live consent for this purpose")
def customer_profile(args: dict[str, Any], customer_ref: str) -> dict[str, Any]:
    """The customer's profile fields under a given, unexpired consent for ``purpose``;
    every other field is absent. Each read is in the person's access log."""
    current = token()
    return consent_service().read_profile(
        caller(), customer_ref, args["purpose"], token_person_id=current.person_id
    )
