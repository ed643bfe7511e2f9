"""The OAuth consent screen at ``/oauth/authorize``: a logged-in person sees which vendor
asks for what, in plain words, and approves or denies."""

from __future__ import annotations

from typing import Any

from authlib.oauth2 import OAuth2Error
from flask import g, redirect, render_template, request, url_for

from vrm.vendors.scopes import SCOPES


def authorize() -> Any:
    from vendor_api.oauth import server, vendors

    if g.person is None:
        return redirect(url_for("web.login", next=request.full_path))
    try:
        grant = server.get_consent_grant(end_user=g.person)
    except OAuth2Error as error:
        if getattr(error, "redirect_uri", None):
            # The client and its redirect URI are known good: tell the client.
            return server.handle_error_response(request, error)
        # An unknown client or redirect URI: never redirect there, tell the person.
        detail = error.description or error.error
        return render_template(
            "error.html", status=400, title="This authorization request is not valid", detail=detail
        ), 400
    client = grant.client
    if request.method == "POST":
        approved = request.form.get("decision") == "approve"
        if approved:
            vendors().relate(client.vendor_id, g.person.id)
        return server.create_authorization_response(
            grant_user=g.person if approved else None, grant=grant
        )
    vendor = vendors().get_vendor(client.vendor_id)
    asked = [(scope, SCOPES[scope]) for scope in grant.request.scope.split() if scope in SCOPES]
    return render_template("authorize.html", vendor=vendor, client=client, scopes=asked)
