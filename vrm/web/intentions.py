"""The person's intentions, the offers they receive and the vendors they block, as web pages.

Thin views: a form becomes the body the API's schema loads (IntentionInSchema),
the services decide every rule, and their errors come back next to the inputs they name.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import marshmallow as ma
from flask import g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from vrm import clock
from vrm.errors import DomainError, ValidationFailed
from vrm.i18n import current_language, gettext, lazy_gettext, lazy_pgettext, translate
from vrm.intentions.schemas import IntentionInSchema
from vrm.intentions.service import DEFAULT_DAYS, MAX_DAYS
from vrm.intentions.taxonomy import CATEGORIES, lineage
from vrm.parsing import whole_number
from vrm.profile.schemas import PROFILE_FIELDS
from vrm.runtime import (
    block_service,
    consent_service,
    intention_service,
    offer_service,
    terms_service,
)
from vrm.terms.roster import BY_CODE, ROSTER
from vrm.web import _errors, blp, login_required

PAGE_SIZE = 50
OFFERS_PAGE_SIZE = 50


# Words for display only; the models decide which states exist. In French a state agrees
# with the word it describes, so each table has its own context.
INTENTION_STATES = {
    "open": lazy_pgettext("intention state", "Open"),
    "withdrawn": lazy_pgettext("intention state", "Withdrawn"),
    "fulfilled": lazy_pgettext("intention state", "Fulfilled"),
    "expired": lazy_pgettext("intention state", "Expired"),
}
OFFER_STATES = {
    "open": lazy_pgettext("offer state", "Waiting for your answer"),
    "accepted": lazy_pgettext("offer state", "Accepted"),
    "declined": lazy_pgettext("offer state", "Declined"),
    "withdrawn": lazy_pgettext("offer state", "Withdrawn by the vendor"),
    "expired": lazy_pgettext("offer state", "Expired"),
    "closed": lazy_pgettext("offer state", "Closed"),
}


# The publish form's inputs; a field error the services name elsewhere goes to the top.
INPUTS = {
    "title",
    "description",
    "category",
    "keywords",
    "quantity",
    "price.min",
    "price.max",
    "price.currency",
    "location.country",
    "location.region",
    "location.city",
    "location.postal_code",
    "wanted_by",
    "expires_in_days",
    "expires_on",
    "terms",
    "disclose",
}
# Marshmallow's word for an absent required value, said for the input it is about.
REQUIRED = {
    "title": lazy_gettext("Give the intention a title"),
    "category": lazy_gettext("Choose a category"),
    "price.currency": lazy_gettext("Give the currency of the prices, for example EUR"),
}


def _category_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The whole taxonomy for a ``<select>``, in the page's language: one group per top
    category, the top category itself first, deeper ones indented by level."""
    groups: list[tuple[str, list[tuple[str, str]]]] = []
    for path, label in CATEGORIES.items():  # parents before children
        depth, words = path.count("/"), translate(label)
        if depth == 0:
            groups.append((words, [(path, gettext("%(category)s (anything)", category=words))]))
        else:
            groups[-1][1].append((path, "\u00a0\u00a0\u00a0" * (depth - 1) + words))
    return groups


def _category_words(path: str) -> str:
    """Readable labels along the path, in the page's language: ``Sports and outdoors ›
    Cycling › Bicycles``."""
    if path not in CATEGORIES:
        return path
    return " › ".join(translate(CATEGORIES[p]) for p in lineage(path))


def _term_title(ref: Any) -> Any:
    return translate(BY_CODE[ref["code"]].title) if ref["code"] in BY_CODE else ref


@blp.app_context_processor
def _intention_words() -> dict[str, Any]:
    return {
        "category_words": _category_words,
        "term_title": _term_title,
        "intention_state": lambda code: INTENTION_STATES.get(code, code),
        "offer_state": lambda code: OFFER_STATES.get(code, code),
    }


# Your intentions


@blp.get("/intentions")
@login_required
def intentions() -> Any:
    service = intention_service()
    page = service.page(g.person.id, limit=PAGE_SIZE, cursor=request.args.get("before"))
    return render_template(
        "intentions.html", intentions=service.describe(page.data), next_cursor=page.next_cursor
    )


def _amount_as_typed(amount: str | None) -> str | None:
    """French writes 1 299,99 for 1299.99: on a French page, take the comma as the
    decimal mark and drop the spaces between thousands."""
    if not amount or current_language() != "fr":
        return amount
    return re.sub(r"[\s\u00a0\u202f]", "", amount).replace(",", ".")


def _text(form: MultiDict[str, str], name: str) -> str:
    return form.get(name, "").strip()


def _expiry_input(form: MultiDict[str, str]) -> str:
    """The input the expiry is set with: a date wins over a number of days."""
    return "expires_on" if _text(form, "expires_on") else "expires_in_days"


def _expiry(form: MultiDict[str, str]) -> str | None:
    """The expiry the form asks for, as the API's ``expires_at``: the end of the date's
    day (UTC), or so many days from now; None leaves the service's default."""
    if _expiry_input(form) == "expires_on":
        try:
            day = date.fromisoformat(_text(form, "expires_on"))
        except ValueError:
            raise ValidationFailed(
                gettext("Give a date such as 2026-12-31"), field="expires_on"
            ) from None
        return datetime.combine(day, time(23, 59, 59), UTC).isoformat()
    days = whole_number(form.get("expires_in_days"), "expires_in_days")
    if days is None:
        return None
    if not 1 <= days <= MAX_DAYS:
        raise ValidationFailed(
            gettext("Choose between 1 and %(max)d days", max=MAX_DAYS), field="expires_in_days"
        )
    return (clock.now() + timedelta(days=days)).isoformat()


def _intention_body(form: MultiDict[str, str], expires_at: str | None) -> dict[str, Any]:
    """The API body this submission means; inputs left empty are left out."""
    body: dict[str, Any] = {
        name: _text(form, name)
        for name in ("title", "description", "category", "wanted_by")
        if _text(form, name)
    }
    quantity = _text(form, "quantity")
    if quantity:
        # The schema takes a JSON number: typed digits become one, anything else is left
        # as typed for the schema to refuse in its own words.
        digits = quantity.isascii() and quantity.isdecimal() and len(quantity) <= 9
        body["quantity"] = int(quantity) if digits else quantity
    keywords = [word.strip() for word in form.get("keywords", "").split(",") if word.strip()]
    if keywords:
        body["keywords"] = keywords
    price = {k: _text(form, f"price.{k}") for k in ("min", "max", "currency")}
    for bound in ("min", "max"):
        price[bound] = _amount_as_typed(price[bound])
    if any(price.values()):
        body["price"] = {k: v for k, v in price.items() if v}
    location = {
        k: _text(form, f"location.{k}") for k in ("country", "region", "city", "postal_code")
    }
    if any(location.values()):
        body["location"] = {k: v for k, v in location.items() if v}
    if expires_at:
        body["expires_at"] = expires_at
    if form.getlist("terms"):
        body["terms"] = form.getlist("terms")
    body["disclose"] = form.getlist("disclose")
    return body


def _publish_errors(error: DomainError, expiry_input: str) -> dict[str, str]:
    """Errors keyed by the input they belong to; the expiry's goes to the one used."""
    found: dict[str, str] = {}
    for name, message in _errors(error).items():
        name = expiry_input if name == "expires_at" else name
        if name not in INPUTS:
            name = "form"
        found.setdefault(name, message)
    return found


def _load(schema: ma.Schema, body: dict[str, Any]) -> dict[str, Any]:
    """The body loaded by the API's schema; its refusals as a ValidationFailed, with
    marshmallow's word for a missing value replaced by one about the input."""
    try:
        return schema.load(body)  # type: ignore[no-any-return]
    except ma.ValidationError as exc:
        error = ValidationFailed.from_messages(exc.messages)
    missing = ma.fields.Field.default_error_messages["required"]
    for item in error.errors:
        if item["message"] == missing and item["field"] in REQUIRED:
            item["message"] = str(REQUIRED[item["field"]])
    raise error


def _new_form(form: MultiDict[str, str], errors: dict[str, str], status: int) -> Any:
    return render_template(
        "intention_new.html",
        form=form,
        errors=errors,
        groups=_category_groups(),
        roster=ROSTER,
        profile_fields=PROFILE_FIELDS,
        default_days=DEFAULT_DAYS,
        max_days=MAX_DAYS,
    ), status


@blp.route("/intentions/new", methods=["GET", "POST"])
@login_required
def new_intention() -> Any:
    if request.method == "GET":
        current = terms_service().of_person(g.person.id)
        defaults = MultiDict(
            [("expires_in_days", str(DEFAULT_DAYS)), ("quantity", "1")]
            + [("terms", ref["code"]) for ref in current.terms]
        )
        return _new_form(defaults, {}, 200)
    # What the form and the schema refuse is reported together; the service then checks
    # the rest, one refusal at a time.
    errors: dict[str, str] = {}
    expires_at, expiry_input = None, _expiry_input(request.form)
    try:
        expires_at = _expiry(request.form)
    except ValidationFailed as error:
        errors.update(_publish_errors(error, expiry_input))
    try:
        data = _load(IntentionInSchema(), _intention_body(request.form, expires_at))
    except ValidationFailed as error:
        errors = {**_publish_errors(error, expiry_input), **errors}
    if errors:
        return _new_form(request.form, errors, 422)
    # An absent ``terms`` means the person's terms on the API; here it means they
    # unticked every one, which the service refuses in its own words.
    data.setdefault("terms", [])
    try:
        intention = intention_service().publish(g.person.id, data)
    except ValidationFailed as error:
        return _new_form(request.form, _publish_errors(error, expiry_input), 422)
    return redirect(url_for("web.intention", intention_id=intention.id, published=1))


# One intention and its offers


def _intention_page(
    intention_id: uuid.UUID,
    *,
    errors: dict[uuid.UUID, dict[str, str]] | None = None,
    answered: dict[str, Any] | None = None,
    problem: tuple[uuid.UUID, str] | None = None,
    status: int = 200,
) -> Any:
    """The intention with its offers; ``answered`` holds the accept form just sent, so a
    refused answer comes back with the person's choices and the reasons by the inputs."""
    intentions_ = intention_service()
    view = intentions_.describe([intentions_.get(g.person.id, intention_id)])[0]
    offers_ = offer_service()
    page = offers_.person_page(
        g.person.id, intention_id, limit=OFFERS_PAGE_SIZE, cursor=request.args.get("before")
    )
    offers = offers_.describe(page.data)
    blocks, consents = block_service(), consent_service()
    blocked = {o["vendor_id"] for o in offers if blocks.is_blocked(g.person.id, o["vendor_id"])}
    shared = {
        o["consent_id"]: consents.describe(consents.get_for_person(g.person.id, o["consent_id"]))
        for o in offers
        if o["state"] == "accepted" and o["consent_id"]
    }
    return render_template(
        "intention.html",
        i=view,
        offers=offers,
        next_cursor=page.next_cursor,
        blocked=blocked,
        shared=shared,
        settings=terms_service().of_person(g.person.id),
        profile_fields=PROFILE_FIELDS,
        errors=errors or {},
        answered=answered or {},
        problem=problem,
    ), status


@blp.get("/intentions/<uuid:intention_id>")
@login_required
def intention(intention_id: uuid.UUID) -> Any:
    return _intention_page(intention_id)


@blp.route("/intentions/<uuid:intention_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw_intention(intention_id: uuid.UUID) -> Any:
    """GET asks to confirm; POST withdraws. Another person's intention is not found."""
    service = intention_service()
    error = None
    if request.method == "POST":
        try:
            service.withdraw(g.person.id, intention_id)
        except DomainError as exc:
            if exc.status == 404:
                raise
            error = exc
        else:
            return redirect(url_for("web.intention", intention_id=intention_id, withdrawn=1))
    view = service.describe([service.get(g.person.id, intention_id)])[0]
    return render_template(
        "intention_withdraw.html", i=view, error=error and error.detail
    ), error.status if error else 200


@blp.post("/offers/<uuid:offer_id>/accept")
@login_required
def accept_offer(offer_id: uuid.UUID) -> Any:
    service = offer_service()
    offer = service.person_get(g.person.id, offer_id)  # theirs, or 404
    fields, keep_open = request.form.getlist("fields"), bool(request.form.get("keep_open"))
    try:
        days = whole_number(request.form.get("duration_days"), "duration_days")
        service.accept(g.person.id, offer_id, fields=fields, days=days, keep_open=keep_open)
    except DomainError as error:
        if error.status == 404:
            raise
        answered = {
            "id": offer_id,
            "fields": set(fields),
            "keep_open": keep_open,
            "duration_days": request.form.get("duration_days", ""),
        }
        return _intention_page(
            offer.intention_id,
            errors={offer_id: _errors(error)},
            answered=answered,
            problem=(offer_id, error.detail),
            status=error.status,
        )
    return redirect(
        url_for(
            "web.intention",
            intention_id=offer.intention_id,
            accepted=offer_id,
            _anchor=f"o-{offer_id}",
        )
    )


@blp.route("/offers/<uuid:offer_id>/decline", methods=["GET", "POST"])
@login_required
def decline_offer(offer_id: uuid.UUID) -> Any:
    """Declining cannot be undone (that vendor cannot offer on the intention again), so
    the button leads to this confirmation first."""
    service = offer_service()
    offer = service.person_get(g.person.id, offer_id)
    if request.method == "GET":
        view = service.describe([offer])[0]
        intentions_ = intention_service()
        intention = intentions_.describe([intentions_.get(g.person.id, offer.intention_id)])[0]
        return render_template("offer_decline.html", o=view, intention=intention)
    try:
        service.decline(g.person.id, offer_id)
    except DomainError as error:
        if error.status == 404:
            raise
        return _intention_page(
            offer.intention_id,
            errors={offer_id: _errors(error)},
            problem=(offer_id, error.detail),
            status=error.status,
        )
    return redirect(url_for("web.intention", intention_id=offer.intention_id, declined=offer_id))


# Blocking vendors


@blp.route("/offers/<uuid:offer_id>/block", methods=["GET", "POST"])
@login_required
def block_vendor(offer_id: uuid.UUID) -> Any:
    """Block the vendor of an offer made to you: GET asks to confirm, POST blocks."""
    service = offer_service()
    offer = service.describe([service.person_get(g.person.id, offer_id)])[0]
    if request.method == "POST":
        block_service().block(g.person.id, offer["vendor_id"])
        return redirect(
            url_for("web.intention", intention_id=offer["intention_id"], blocked=offer["vendor_id"])
        )
    return render_template(
        "block_confirm.html",
        name=offer["vendor_name"],
        back=url_for("web.intention", intention_id=offer["intention_id"]),
        blocked=block_service().is_blocked(g.person.id, offer["vendor_id"]),
    )


@blp.get("/blocks")
@login_required
def blocks() -> Any:
    page = block_service().page(g.person.id, limit=PAGE_SIZE, cursor=request.args.get("before"))
    return render_template("blocks.html", blocks=page.data, next_cursor=page.next_cursor)


@blp.post("/blocks/<uuid:vendor_id>/unblock")
@login_required
def unblock_vendor(vendor_id: uuid.UUID) -> Any:
    block_service().unblock(g.person.id, vendor_id)
    return redirect(url_for("web.blocks", unblocked=1))
