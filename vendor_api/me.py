"""``GET /vendor/v1/me``: who the caller is."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from vendor_api.auth import require_oauth, scope_doc, token
from vendor_api.schemas import MeSchema
from vrm.runtime import db_session, runtime
from vrm.vendors.service import VendorService

blp = Blueprint("vendor_me", __name__, description="The calling vendor")


@blp.route("/me", methods=["GET"])
@blp.doc(security=scope_doc(None))
@require_oauth()
@blp.response(200, MeSchema)
def me() -> dict[str, Any]:
    """The vendor, its client, and the token in use (any valid token may ask)."""
    current = token()
    client = current.client
    service = VendorService(db_session(), runtime().keyring)
    vendor = service.get_vendor(client.vendor_id)
    ref = service.customer_ref(vendor.id, current.person_id) if current.person_id else None
    return {
        "vendor": vendor,
        "client": client,
        "token": {
            "scope": current.scope,
            "expires_at": current.access_expires_at,
            "customer_ref": ref,
        },
    }
