"""Personal access tokens: created with the password, then used as Bearer tokens."""

from __future__ import annotations

import uuid
from typing import Any

from flask import request
from flask_smorest import Blueprint

from vrm.accounts.schemas import PersonalTokenSchema, TokenCreatedSchema, TokenCreateSchema
from vrm.errors import Unauthenticated
from vrm.limits import limit_logins, limit_personal_tokens
from vrm.pagination import Page
from vrm.personal_api.auth import SECURITY, current_person, require_person
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.runtime import accounts

blp = Blueprint("personal_tokens", __name__, description="Personal access tokens")


@blp.route("/tokens", methods=["POST"])
@blp.doc(security=[{"personalBasic": []}])
@limit_logins
@limit_personal_tokens
@blp.arguments(TokenCreateSchema)
@blp.response(201, TokenCreatedSchema)
@blp.alt_response(429, response="TOO_MANY_REQUESTS")
def create_token(body: dict[str, Any]) -> dict[str, Any]:
    """Create a token with HTTP Basic email:password; the secret is shown once."""
    credentials = request.authorization
    if credentials is None or credentials.type != "basic" or not credentials.username:
        raise Unauthenticated(
            "Authenticate with HTTP Basic: your email and password",
            headers={"WWW-Authenticate": 'Basic realm="vrm-personal"'},
        )
    service = accounts()
    person = service.authenticate(credentials.username, credentials.password or "")
    token, secret = service.issue_token(person, body["name"], body.get("expires_in_days"))
    return {**service.token_view(token), "token": secret}


@blp.route("/tokens", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(PersonalTokenSchema))
def list_tokens(args: dict[str, Any]) -> Page[dict[str, Any]]:
    """Your tokens, newest first, without their secrets."""
    service = accounts()
    page = service.list_tokens(current_person(), **page_args(args))
    return Page([service.token_view(token) for token in page.data], page.next_cursor)


@blp.route("/tokens/<uuid:token_id>", methods=["DELETE"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(204)
def revoke_token(token_id: uuid.UUID) -> None:
    """Revoke a token; it is refused from the next request on."""
    accounts().revoke_token(current_person(), token_id)
