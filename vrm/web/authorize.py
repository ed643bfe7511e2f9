"""The OAuth consent screen at ``/oauth/authorize``: a logged-in person sees which vendor
asks for what, in plain words, picks the profile fields to share (unticking any), the
duration, and approves or denies. Approval with fields records a consent with a receipt."""

from __future__ import annotations

from typing import Any

from authlib.common.urls import add_params_to_uri
from authlib.oauth2 import OAuth2Error
from flask import g, redirect, render_template, request, url_for

from vrm.consents.purposes import PURPOSES
from vrm.consents.service import TermsNotAccepted
from vrm.errors import ValidationFailed
from vrm.http import CONTENT_SECURITY_POLICY
from vrm.i18n import gettext
from vrm.parsing import whole_number
from vrm.profile.schemas import PROFILE_FIELDS
from vrm.runtime import consent_service, terms_service
from vrm.terms.roster import BY_CODE
from vrm.vendors.scopes import SCOPES
from vrm.vendors.service import origin_of


def _refusal(error: OAuth2Error) -> str:
    """Why the request is refused, in the person's words (Authlib's are for developers)."""
    if error.error == "invalid_client":
        return gettext("The app that sent you here is not known to VRM.")
    if "redirect" in (error.description or "").lower():
        return gettext("The app asked to send you back to an address it has not registered.")
    return gettext("The app that sent you here made a request VRM cannot accept.")


def authorize() -> Any:
    from vendor_api.oauth import issuer, server, vendors

    if g.person is None:
        return redirect(url_for("web.login", next=request.full_path))
    try:
        grant = server.get_consent_grant(end_user=g.person)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            # The client and its redirect URI are known good: tell the client.
            return server.handle_error_response(request, error)
        # An unknown client or redirect URI: never redirect there, tell the person.
        return render_template(
            "error.html",
            status=400,
            title=gettext("This authorization request is not valid"),
            detail=_refusal(error),
        ), 400
    client = grant.client
    vendor = vendors().get_vendor(client.vendor_id)
    asked = grant.request.scope.split()
    details = grant.request.vrm_consent
    wants_profile = "profile:read" in asked
    terms = terms_service().of_person(g.person.id)
    offered = details["fields"] if details else list(PROFILE_FIELDS)
    purposes = details["purposes"] if details else ["ServiceProvision"]
    days = min(
        (details or {}).get("duration_days") or terms.consent_default_days, terms.consent_max_days
    )
    errors: dict[str, str] = {}

    if request.method == "POST":
        if request.form.get("decision") != "approve":
            return server.create_authorization_response(grant_user=None, grant=grant)
        chosen = [f for f in request.form.getlist("fields") if f in offered]
        vendors().relate(vendor.id, g.person.id)
        if wants_profile and chosen:
            try:
                chosen_days = whole_number(request.form.get("duration_days"), "duration_days")
                consent_service().grant(
                    g.person.id,
                    vendor.id,
                    chosen,
                    purposes,
                    chosen_days if chosen_days is not None else days,
                    origin="oauth",
                    requested_days=(details or {}).get("duration_days"),
                )
            except TermsNotAccepted as error:
                return redirect(
                    add_params_to_uri(
                        grant.redirect_uri,
                        [
                            ("error", "access_denied"),
                            ("error_description", error.detail),
                            *(
                                [("state", grant.request.payload.state)]
                                if grant.request.payload.state
                                else []
                            ),
                            ("iss", issuer()),
                        ],
                    ),
                )
            except ValidationFailed as error:
                errors = {"duration_days": error.detail}
        if not errors:
            return server.create_authorization_response(grant_user=g.person, grant=grant)

    accepted = {t["code"] for t in terms_service().of_vendor(vendor.id)}
    page = render_template(
        "authorize.html",
        vendor=vendor,
        client=client,
        scopes=[(scope, SCOPES[scope]) for scope in asked if scope in SCOPES],
        wants_profile=wants_profile,
        offered=offered,
        preticked=bool(details),
        purposes=[(p, PURPOSES[p]) for p in purposes],
        days=days,
        max_days=terms.consent_max_days,
        errors=errors,
        terms=[(BY_CODE[t["code"]], t["code"] in accepted) for t in terms.terms],
    )
    # The form's answer is a redirect to the client: CSP form-action must allow its origin,
    # or the browser stops the person's approval on its way to the vendor.
    policy = CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {origin_of(grant.redirect_uri)}"
    )
    return page, 422 if errors else 200, {"Content-Security-Policy": policy}
