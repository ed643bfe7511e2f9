"""Sign-up, the account itself, export and erasure."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from vrm.accounts.schemas import ConfirmPasswordSchema, PersonSchema, SignUpSchema
from vrm.idempotency.http import HEADER_DOC as IDEMPOTENCY_HEADER
from vrm.idempotency.http import about, idempotent
from vrm.limits import limiter, signup_limit
from vrm.personal_api.auth import SECURITY, current_person, require_person
from vrm.runtime import accounts, privacy

blp = Blueprint("personal_accounts", __name__, description="Sign-up, export and erasure")


@blp.route("/accounts", methods=["POST"])
@blp.doc(parameters=[IDEMPOTENCY_HEADER], security=[])  # public: signing up
@limiter.limit(signup_limit)
@idempotent(lambda: f"anonymous:{request.remote_addr}")
@blp.arguments(SignUpSchema)
@blp.response(201, PersonSchema)
@blp.alt_response(409, description="An account with this email exists")
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def sign_up(body: dict[str, Any]) -> dict[str, Any]:
    """Create an account; then create a token with ``POST /tokens``."""
    service = accounts()
    person = service.sign_up(body["email"], body["password"])
    about(person.id)
    return {"id": person.id, "email": service.email_of(person), "created_at": person.created_at}


@blp.route("/export", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200)
def export() -> dict[str, Any]:
    """Everything held about you, as one JSON document (GDPR Art. 15 and 20)."""
    return privacy().export(current_person())


@blp.route("/account", methods=["DELETE"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(ConfirmPasswordSchema)
@blp.response(204)
def erase(body: dict[str, Any]) -> None:
    """Erase the account and every personal value; the password must be confirmed."""
    privacy().erase(current_person(), body["password"])
