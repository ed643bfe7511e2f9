"""The person's terms, consents, vendors' consent requests and the access log, as web pages.

Thin views: every rule (which terms, how many days, what may be narrowed, who owns what)
is the services'; these only turn forms into calls and errors into messages by each input.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response, g, redirect, render_template, request, url_for
from markupsafe import Markup
from werkzeug.exceptions import NotFound as HTTPNotFound

from vrm.audit.service import AuditLog
from vrm.consents.purposes import PURPOSES
from vrm.errors import DomainError, ValidationFailed
from vrm.i18n import gettext, lazy_gettext, lazy_pgettext, translate
from vrm.parsing import whole_number
from vrm.runtime import consent_service, db_session, terms_service
from vrm.terms.models import PersonTerms
from vrm.terms.roster import ROSTER
from vrm.terms.service import MAX_UNANSWERED_CEILING
from vrm.web import _errors, blp, login_required

LOG_PAGE_SIZE = 50

# Words for display only; the profile schema and the services decide what exists.
FIELD_LABELS = {
    "given_name": lazy_gettext("Given name"),
    "family_name": lazy_gettext("Family name"),
    "display_name": lazy_gettext("Display name"),
    "contact_email": lazy_gettext("Contact email"),
    "phone": lazy_gettext("Phone"),
    "birth_date": lazy_gettext("Birth date"),
    "postal_address": lazy_gettext("Postal address"),
    "locale": lazy_gettext("Language"),
    "preferences": lazy_gettext("Preferences"),
    "custom": lazy_gettext("Other details"),
}
ACTIONS = {
    "profile.read": lazy_gettext("Read your profile"),
    "consent.requested": lazy_gettext("Asked for consent"),
    "consent.given": lazy_gettext("Consent given"),
    "consent.refused": lazy_gettext("Consent request denied"),
    "consent.withdrawn": lazy_gettext("Consent withdrawn"),
    "consent.expired": lazy_gettext("Consent expired"),
    "consent.revoked": lazy_gettext("Consent given up by the vendor"),
    "agreement.accepted": lazy_gettext("Accepted your terms"),
    "agreement.refused": lazy_gettext("Did not accept your terms"),
    "profile.pushed": lazy_gettext("Was sent your updated details"),
    "message.received": lazy_gettext("Wrote to you"),
    "vendor.blocked": lazy_gettext("Blocked by you"),
    "vendor.unblocked": lazy_gettext("Unblocked by you"),
    "intention.published": lazy_gettext("Intention published"),
    "intention.edited": lazy_gettext("Intention edited"),
    "intention.withdrawn": lazy_gettext("Intention withdrawn"),
    "intention.fulfilled": lazy_gettext("Intention fulfilled"),
    "intention.expired": lazy_gettext("Intention expired"),
    "offer.received": lazy_gettext("Made you an offer"),
    "offer.accepted": lazy_gettext("Offer accepted"),
    "offer.declined": lazy_gettext("Offer declined"),
    "offer.withdrawn": lazy_gettext("Offer withdrawn by the vendor"),
    "offer.expired": lazy_gettext("Offer expired"),
    "offer.closed": lazy_gettext("Offer closed"),
}
# A consent's states and the events of its receipts. In French a state agrees with the
# word it describes, so each table has its own context.
STATES = ("given", "refused", "withdrawn", "expired", "revoked")


STATE_WORDS = {
    "given": lazy_pgettext("consent state", "Given"),
    "refused": lazy_pgettext("consent state", "Denied"),
    "withdrawn": lazy_pgettext("consent state", "Withdrawn"),
    "expired": lazy_pgettext("consent state", "Expired"),
    "revoked": lazy_pgettext("consent state", "Given up by the vendor"),
}
# What a receipt records, as the end of "Receipt 2: given".
EVENT_WORDS = {
    "requested": lazy_pgettext("consent receipt", "requested"),
    "given": lazy_pgettext("consent receipt", "given"),
    "refused": lazy_pgettext("consent receipt", "denied"),
    "withdrawn": lazy_pgettext("consent receipt", "withdrawn"),
    "expired": lazy_pgettext("consent receipt", "expired"),
    "revoked": lazy_pgettext("consent receipt", "given up by the vendor"),
}


def _purpose_words(code: str) -> str:
    return translate(PURPOSES[code]) if code in PURPOSES else code


def _purpose_phrase(code: str) -> Markup:
    """The purpose in words, lower case for the middle of a sentence, its code beside."""
    return Markup("{} (<code>{}</code>)").format(_purpose_words(code).lower(), code)


@blp.app_context_processor
def _words() -> dict[str, Any]:
    return {
        "field_label": lambda name: FIELD_LABELS.get(name, name),
        # A field's name in the middle of a sentence.
        "field_words": lambda name: str(FIELD_LABELS.get(name, name)).lower(),
        "purpose_words": _purpose_words,
        "purpose_phrase": _purpose_phrase,
        "action_words": lambda code: ACTIONS.get(code, code),
        "state_words": lambda code: STATE_WORDS.get(code, code),
        "event_words": lambda code: EVENT_WORDS.get(code, code),
    }


def _days(name: str) -> int | None:
    """A whole number of days from the form, None when left empty."""
    return whole_number(request.form.get(name), name)


# Terms


def _rules(form: Any) -> dict[str, Any]:
    """The conversation rules the form sets, as the terms service takes them; a rule
    whose input the form lacks keeps its value. Both quiet-hour times empty: none."""
    rules: dict[str, Any] = {}
    if "max_unanswered_messages" in form:
        count = whole_number(form.get("max_unanswered_messages"), "max_unanswered_messages")
        if count is None:
            raise ValidationFailed(
                gettext("Give a number of messages"), field="max_unanswered_messages"
            )
        rules["max_unanswered"] = count
    if "quiet_hours.start" in form or "quiet_hours.end" in form:
        start = form.get("quiet_hours.start", "").strip()
        end = form.get("quiet_hours.end", "").strip()
        if start and end:
            rules["quiet_hours"] = {"start": start, "end": end}
        elif start or end:
            missing = "quiet_hours.end" if start else "quiet_hours.start"
            raise ValidationFailed(
                gettext("Give both times, or leave both empty for no quiet hours"), field=missing
            )
        else:
            rules["quiet_hours"] = None
    if "time_zone" in form:
        rules["time_zone"] = form.get("time_zone", "").strip()  # the service names a bad one
    return rules


def _terms_form(current: PersonTerms) -> dict[str, str]:
    """The stored settings as the form's inputs (named as the API's members)."""
    return {
        "consent_default_days": str(current.consent_default_days),
        "consent_max_days": str(current.consent_max_days),
        "max_unanswered_messages": str(current.max_unanswered),
        "quiet_hours.start": current.quiet_start or "",
        "quiet_hours.end": current.quiet_end or "",
        "time_zone": current.time_zone,
    }


@blp.route("/terms", methods=["GET", "POST"])
@login_required
def terms() -> Any:
    service = terms_service()
    errors: dict[str, str] = {}
    current = service.of_person(g.person.id)
    form = _terms_form(current)
    chosen = [ref["code"] for ref in current.terms]
    if request.method == "POST":
        chosen = request.form.getlist("terms")
        form = {name: request.form.get(name, value) for name, value in form.items()}
        try:
            max_days, default_days = _days("consent_max_days"), _days("consent_default_days")
            if max_days is None:
                raise ValidationFailed(gettext("Give a number of days"), field="consent_max_days")
            if default_days is None:
                raise ValidationFailed(
                    gettext("Give a number of days"), field="consent_default_days"
                )
            rules = _rules(request.form)
            service.set_for_person(g.person.id, chosen, default_days, max_days, rules)
        except ValidationFailed as error:
            errors = _errors(error)
        else:
            return redirect(url_for("web.terms", saved=1))
    return render_template(
        "terms.html",
        roster=ROSTER,
        chosen=set(chosen),
        form=form,
        errors=errors,
        max_unanswered_ceiling=MAX_UNANSWERED_CEILING,
    ), 422 if errors else 200


# Consents


@blp.get("/consents")
@login_required
def consents() -> Any:
    service = consent_service()
    vendors: dict[uuid.UUID, dict[str, Any]] = {}
    for consent in service.for_person(g.person.id, STATES):
        view = service.describe(consent)
        view["events"] = service.events(consent)
        group = vendors.setdefault(
            consent.vendor_id, {"id": consent.vendor_id, "name": view["vendor_name"], "items": []}
        )
        group["items"].append(view)
    pending = len(service.for_person(g.person.id, ("requested",)))
    return render_template("consents.html", vendors=list(vendors.values()), pending=pending)


@blp.route("/consents/<uuid:consent_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw_consent(consent_id: uuid.UUID) -> Any:
    """GET asks to confirm; POST withdraws. Another person's consent is not found."""
    service = consent_service()
    error = None
    if request.method == "POST":
        try:
            service.withdraw(g.person.id, consent_id)
        except DomainError as exc:
            if exc.status == 404:
                raise
            error = exc
        else:
            return redirect(url_for("web.consents", withdrawn=1))
    consent = service.describe(service.get_for_person(g.person.id, consent_id))
    return render_template(
        "consent_withdraw.html", consent=consent, error=error and error.detail
    ), error.status if error else 200


@blp.get("/consents/<uuid:consent_id>/receipts/<int:seq>.jws")
@login_required
def consent_receipt(consent_id: uuid.UUID, seq: int) -> Any:
    service = consent_service()
    consent = service.get_for_person(g.person.id, consent_id)
    event = next((e for e in service.events(consent) if e.seq == seq), None)
    if event is None:
        raise HTTPNotFound(gettext("No such receipt"))
    filename = f"vrm-consent-{consent.id}-{event.seq}-{event.type}.jws"
    return Response(
        event.receipt,
        mimetype="application/jose",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# Vendors' requests


def _requests_page(
    errors: dict[uuid.UUID, dict[str, str]] | None = None,
    answered: dict[str, Any] | None = None,
    problem: tuple[uuid.UUID, str] | None = None,
    status: int = 200,
) -> Any:
    """The pending requests; ``answered`` holds the form the person just sent, so a
    refused answer comes back with their choices and the reasons next to the inputs."""
    service = consent_service()
    settings = terms_service().of_person(g.person.id)
    pending = [service.describe(c) for c in service.for_person(g.person.id, ("requested",))]
    return render_template(
        "consent_requests.html",
        requests=pending,
        settings=settings,
        errors=errors or {},
        answered=answered or {},
        problem=problem,
    ), status


@blp.get("/consent-requests")
@login_required
def consent_requests() -> Any:
    return _requests_page()


@blp.post("/consent-requests/<uuid:consent_id>/approve")
@login_required
def approve_request(consent_id: uuid.UUID) -> Any:
    fields, purposes = request.form.getlist("fields"), request.form.getlist("purposes")
    try:
        consent_service().approve(g.person.id, consent_id, fields, purposes, _days("duration_days"))
    except DomainError as error:
        if error.status == 404:
            raise
        answered = {
            "id": consent_id,
            "fields": set(fields),
            "purposes": set(purposes),
            "duration_days": request.form.get("duration_days", ""),
        }
        problem = (consent_id, error.detail)
        return _requests_page({consent_id: _errors(error)}, answered, problem, error.status)
    return redirect(url_for("web.consents", approved=1))


@blp.post("/consent-requests/<uuid:consent_id>/deny")
@login_required
def deny_request(consent_id: uuid.UUID) -> Any:
    try:
        consent_service().deny(g.person.id, consent_id)
    except DomainError as error:
        if error.status == 404:
            raise
        problem = (consent_id, error.detail)
        return _requests_page({consent_id: _errors(error)}, None, problem, error.status)
    return redirect(url_for("web.consent_requests", denied=1))


# Access log


@blp.get("/access-log")
@login_required
def access_log() -> Any:
    log = AuditLog(db_session())
    page = log.page(g.person.id, limit=LOG_PAGE_SIZE, cursor=request.args.get("before"))
    return render_template(
        "access_log.html",
        entries=page.data,
        next_cursor=page.next_cursor,
        report=log.verify(g.person.id),
    )
