"""The profile: read, change field by field, and its history."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_smorest import Blueprint

from vrm.errors import PreconditionFailed
from vrm.pagination import Page
from vrm.personal_api.auth import SECURITY, current_person, require_person
from vrm.personal_api.paging import PageQuerySchema, page_args, page_of
from vrm.profile.schemas import ProfileRevisionSchema, ProfileSchema
from vrm.profile.service import Profile
from vrm.runtime import profiles

blp = Blueprint("personal_profile", __name__, description="Your profile")


def _dump(profile: Profile) -> dict[str, Any]:
    return {**profile.values, "version": profile.version, "updated_at": profile.updated_at}


def _expected_version() -> int | None:
    """``If-Match: "<version>"`` makes the change conditional (ETag is the version)."""
    header = request.headers.get("If-Match")
    if header is None:
        return None
    try:
        return int(header.strip().strip('"'))
    except ValueError:
        raise PreconditionFailed("If-Match must be the ETag of the profile you read") from None


@blp.route("/profile", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.response(200, ProfileSchema)
def get_profile() -> tuple[dict[str, Any], int, dict[str, str]]:
    """Your profile: only the fields you have set."""
    profile = profiles().get(current_person().id)
    return _dump(profile), 200, {"ETag": f'"{profile.version}"'}


@blp.route("/profile", methods=["PATCH"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(ProfileSchema)
@blp.response(200, ProfileSchema)
@blp.alt_response(412, description="If-Match named an older version")
def patch_profile(changes: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
    """Change fields: a field sent replaces its value, ``null`` clears it."""
    profile = profiles().update(current_person().id, changes, _expected_version())
    return _dump(profile), 200, {"ETag": f'"{profile.version}"'}


@blp.route("/profile/history", methods=["GET"])
@blp.doc(security=SECURITY)
@require_person
@blp.arguments(PageQuerySchema, location="query")
@blp.response(200, page_of(ProfileRevisionSchema))
def profile_history(args: dict[str, Any]) -> Page[Any]:
    """Every change to your profile, newest first, with its time."""
    return profiles().history(current_person().id, **page_args(args))
