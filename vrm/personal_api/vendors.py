"""The vendors a person has a relationship with, and the apps they authorised."""

from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from vrm.pagination import Page
from vrm.personal_api.auth import SECURITY, current_person, require_person
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import vendor_service
from vrm.vendors.schemas import PersonVendorSchema

blp = Blueprint("personal_vendors", __name__, description="Your vendors")


@blp.route("/vendors", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(PersonVendorSchema))
def list_vendors(args: dict[str, Any]) -> Page[Any]:
    """Every vendor you have a relationship with, newest first, with the apps you
    authorised."""
    return vendor_service().vendors_of(current_person().id, **page_args(args))


@blp.route("/vendors/<uuid:vendor_id>/authorizations", methods=["DELETE"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(204)
def revoke_vendor(vendor_id: uuid.UUID) -> None:
    """Revoke every token you gave this vendor's apps; refused from their next request."""
    vendor_service().revoke_authorizations(current_person().id, vendor_id)
