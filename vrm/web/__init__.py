"""The person's web pages: server-rendered, usable without JavaScript, CSRF-protected.

Views call the same services as the personal API, so the same rules hold here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from flask import Blueprint, g, redirect, render_template, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from vrm import clock
from vrm.accounts.models import Person
from vrm.errors import DomainError, InvalidCredentials, ValidationFailed, flatten_messages
from vrm.i18n import gettext, language_from
from vrm.limits import limit_logins, limit_personal_tokens, limiter, signup_limit
from vrm.parsing import whole_number
from vrm.profile.schemas import ProfileSchema
from vrm.runtime import accounts, privacy, profiles, relationship_service, vendor_service
from vrm.web.authorize import authorize
from vrm.web.profile_form import error_field, from_form, to_form

csrf = CSRFProtect()
blp = Blueprint(
    "web", __name__, template_folder="templates", static_folder="static", static_url_path="/static"
)


@blp.before_request
def _protect_forms() -> None:
    if request.endpoint == "web.static":
        return  # the stylesheet needs neither the session nor the database
    csrf.protect()
    secret = session.get("sid")
    g.person = accounts().person_for_web_session(secret) if secret else None
    if secret and g.person is None:
        _clear_session()  # logged out elsewhere, expired, or the account was erased


@blp.app_context_processor
def _inject() -> dict[str, Any]:
    return {"person": g.get("person")}


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if g.get("person") is None:
            return redirect(url_for("web.login"))
        return view(*args, **kwargs)

    return wrapper


def _errors(error: DomainError) -> dict[str, str]:
    """Field errors keyed by input name, for display next to each input (an error about
    one item of a list, such as ``terms.1``, belongs to the list's input)."""
    found = {re.sub(r"(\.\d+)+$", "", e["field"]): e["message"] for e in error.errors}
    return found or {"form": error.detail}


def _clear_session() -> None:
    """Forget who is logged in, but not the language chosen in this browser."""
    language = session.get("lang")
    session.clear()
    if language:
        session["lang"] = language


def _start_session(person: Person) -> None:
    _clear_session()  # a fresh session on every log-in: no fixation
    session["sid"] = accounts().open_web_session(person)


def _safe_next(target: str | None) -> str | None:
    """A local path to return to after log-in; anything else is ignored (no open redirect).
    Browsers drop tabs and newlines and read backslashes as slashes, so none may appear."""
    if not target or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@blp.get("/")
def home() -> Any:
    """The welcome page; for a logged-in person, their start page (what waits for them)."""
    if g.person is not None:
        return _dashboard.overview()
    return render_template("home.html")


@blp.route("/signup", methods=["GET", "POST"])
@limiter.limit(signup_limit, methods=["POST"])
def signup() -> Any:
    errors: dict[str, str] = {}
    email = request.form.get("email", "")
    if request.method == "POST":
        try:
            person = accounts().sign_up(email, request.form.get("password", ""))
        except DomainError as error:
            errors = _errors(error)
        else:
            _start_session(person)
            return redirect(url_for("web.profile_edit", welcome=1))
    status = 422 if errors else 200
    return render_template("signup.html", errors=errors, email=email), status


@blp.route("/login", methods=["GET", "POST"])
@limit_logins
def login() -> Any:
    error = None
    email = request.form.get("email", "")
    if request.method == "POST":
        try:
            person = accounts().authenticate(email, request.form.get("password", ""))
        except InvalidCredentials as exc:
            error = exc.detail
        else:
            _start_session(person)
            return redirect(_safe_next(request.args.get("next")) or url_for("web.profile"))
    return render_template("login.html", error=error, email=email), 401 if error else 200


@blp.post("/language")
def choose_language() -> Any:
    """The switcher in the footer: remembered for this browser, ahead of the profile's
    locale and the browser's languages; a plain form, so it works without JavaScript."""
    language = language_from(request.form.get("lang"))
    if language:
        session["lang"] = language
    return redirect(_safe_next(request.form.get("next")) or url_for("web.home"))


@blp.post("/logout")
def logout() -> Any:
    if session.get("sid"):
        accounts().close_web_session(session["sid"])
    _clear_session()
    return redirect(url_for("web.home"))


@blp.get("/profile")
@login_required
def profile() -> Any:
    current = profiles().get(g.person.id)
    return render_template("profile.html", profile=current, email=accounts().email_of(g.person))


@blp.route("/profile/edit", methods=["GET", "POST"])
@login_required
def profile_edit() -> Any:
    service = profiles()
    current = service.get(g.person.id)
    if request.method == "GET":
        return render_template(
            "profile_edit.html",
            form=to_form(current.values),
            errors={},
            welcome=bool(request.args.get("welcome")),
        )
    errors: dict[str, str] = {}
    try:
        changes = ProfileSchema().load(from_form(request.form, current.values))
    except ma.ValidationError as exc:
        errors = {error_field(e["field"]): e["message"] for e in flatten_messages(exc.messages)}
    else:
        try:
            service.update(g.person.id, changes)
        except ValidationFailed as error:
            errors = _errors(error)
        else:
            return redirect(url_for("web.profile", saved=1))
    return render_template(
        "profile_edit.html", form=request.form, errors=errors, welcome=False
    ), 422


@blp.route("/tokens", methods=["GET", "POST"])
@login_required
@limit_personal_tokens
def tokens() -> Any:
    service = accounts()
    created = None
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            # As on the API, a new token needs the password, not only a session.
            service.confirm_password(g.person, request.form.get("password", ""))
            token, secret = service.issue_token(
                g.person,
                request.form.get("name", ""),
                whole_number(request.form.get("expires_in_days"), "expires_in_days"),
            )
        except ValidationFailed as error:
            errors = _errors(error)
        else:
            created = {**service.token_view(token), "token": secret}
    page = service.list_tokens(g.person, limit=100, cursor=None)
    rows = [service.token_view(token) for token in page.data]
    return render_template(
        "tokens.html",
        tokens=rows,
        created=created,
        errors=errors,
        form=request.form,
        now=clock.now(),
    ), 422 if errors else 200


@blp.route("/tokens/<uuid:token_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_token(token_id: uuid.UUID) -> Any:
    service = accounts()
    if request.method == "GET":
        name = service.token_view(service.get_token(g.person, token_id))["name"]
        return render_template(
            "confirm.html",
            question=gettext("Revoke the token “%(name)s”?", name=name),
            explanation=[
                gettext(
                    "Any script or app using it stops reaching your data at once. This cannot "
                    "be undone; you can create a new token."
                )
            ],
            confirm_label=gettext("Revoke “%(name)s”", name=name),
            back=url_for("web.tokens"),
        )
    service.revoke_token(g.person, token_id)
    return redirect(url_for("web.tokens"))


@blp.route("/account", methods=["GET", "POST"])
@login_required
def account() -> Any:
    """Download everything, or erase the account after confirming the password."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            privacy().erase(g.person, request.form.get("password", ""))
        except ValidationFailed as error:
            errors = _errors(error)
        else:
            _clear_session()
            return redirect(url_for("web.home", erased=1))
    return render_template("account.html", errors=errors), 422 if errors else 200


@blp.get("/account/export.json")
@login_required
def export() -> Any:
    document = privacy().export(g.person)
    return document, 200, {"Content-Disposition": 'attachment; filename="vrm-export.json"'}


@blp.get("/vendors")
@login_required
def vendors_page() -> Any:
    """Vendors you have a relationship with, and the apps you authorised."""
    return render_template("vendors.html", vendors=vendor_service().vendors_of(g.person.id).data)


@blp.route("/vendors/<uuid:vendor_id>/revoke", methods=["GET", "POST"])
@login_required
def revoke_vendor(vendor_id: uuid.UUID) -> Any:
    if request.method == "GET":
        vendor = relationship_service().vendor_of(g.person.id, vendor_id)  # theirs, or 404
        return render_template(
            "confirm.html",
            question=gettext("Revoke the access of %(vendor)s’s apps?", vendor=vendor.name),
            explanation=[
                gettext(
                    "Every app of %(vendor)s you authorised stops acting for you at once. Your "
                    "consents stay as they are; withdraw them on the vendor's page.",
                    vendor=vendor.name,
                ),
                gettext("To let an app in again, you authorise it again."),
            ],
            confirm_label=gettext("Revoke access of %(vendor)s", vendor=vendor.name),
            back=url_for("web.vendors_page"),
        )
    vendor_service().revoke_authorizations(g.person.id, vendor_id)
    return redirect(url_for("web.vendors_page", revoked=1))


blp.add_url_rule("/oauth/authorize", "authorize", authorize, methods=["GET", "POST"])

from vrm.web import consents as _consents  # noqa: E402,F401  (registers its routes on blp)
from vrm.web import conversations as _conversations  # noqa: E402,F401  (registers its routes on blp)
from vrm.web import dashboard as _dashboard  # noqa: E402  (registers its routes on blp)
from vrm.web import docs as _docs  # noqa: E402,F401  (registers its routes on blp)
from vrm.web import intentions as _intentions  # noqa: E402,F401  (registers its routes on blp)
