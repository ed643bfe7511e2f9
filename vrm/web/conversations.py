"""The person's conversations with vendors, as web pages: the inbox, a thread with its reply
form, closing a conversation and blocking its vendor.

Thin views: the conversation service decides every rule (who may write, when, how often)
and the web only turns forms into calls and refusals into messages by their inputs.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from vrm import clock
from vrm.conversations.service import TEXT_MAX, ConversationService, check_text
from vrm.errors import DomainError, ValidationFailed
from vrm.i18n import gettext, lazy_gettext, lazy_pgettext
from vrm.limits import limit_person_messages
from vrm.runtime import (
    block_service,
    consent_service,
    conversation_service,
    runtime,
    vendor_service,
)
from vrm.web import _errors, blp, login_required

PAGE_SIZE = 50
MESSAGES_PAGE_SIZE = 50


# Words for display only; the models decide which states exist.
CONVERSATION_STATES = {
    "open": lazy_pgettext("conversation state", "Open"),
    "closed": lazy_pgettext("conversation state", "Closed"),
}


OPENED_BY = {
    "person": lazy_gettext("You wrote first"),
    "offer": lazy_gettext("Started when you accepted its offer"),
    "request": lazy_gettext("Started when you approved its request"),
}
# The start form's inputs; an error the service names elsewhere goes to the top.
START_INPUTS = {"vendor_id", "text"}


@blp.app_context_processor
def _conversation_words() -> dict[str, Any]:
    return {
        "conversation_state": lambda code: CONVERSATION_STATES.get(code, code),
        "opened_by_words": lambda code: OPENED_BY.get(code, code),
        "inbox_unread": _unread,
    }


def _unread() -> int:
    """Vendor messages the logged-in person has not read (for the navigation). Read in a
    session of its own: an error page must still render after the request's failed."""
    person = g.get("person")
    if person is None:
        return 0
    rt = runtime()
    with rt.sessions() as session:
        return ConversationService(session, rt.keyring).unread_total(person.id)


# The inbox


def _vendor_choice(raw: str | None) -> uuid.UUID:
    try:
        return uuid.UUID((raw or "").strip())
    except ValueError:
        raise ValidationFailed(gettext("Choose a vendor to write to"), field="vendor_id") from None


def _start_errors(error: DomainError) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, message in _errors(error).items():
        found.setdefault(name if name in START_INPUTS else "form", message)
    return found


def _inbox(form: MultiDict[str, str], errors: dict[str, str], status: int) -> Any:
    page = conversation_service().person_page(
        g.person.id, limit=PAGE_SIZE, cursor=request.args.get("before")
    )
    return render_template(
        "inbox.html",
        conversations=page.data,
        next_cursor=page.next_cursor,
        vendors=vendor_service().vendors_of(g.person.id).data,
        form=form,
        errors=errors,
        text_max=TEXT_MAX,
    ), status


@blp.route("/inbox", methods=["GET", "POST"])
@login_required
@limit_person_messages
def inbox() -> Any:
    """Your conversations, newest first; POST writes first to a vendor you deal with."""
    if request.method == "GET":
        return _inbox(MultiDict(), {}, 200)
    # The form's own refusals are reported together; the service then checks the rest.
    errors: dict[str, str] = {}
    vendor_id = None
    try:
        vendor_id = _vendor_choice(request.form.get("vendor_id"))
    except ValidationFailed as error:
        errors.update(_start_errors(error))
    try:
        check_text(request.form.get("text", ""))
    except ValidationFailed as error:
        errors.update(_start_errors(error))
    if errors or vendor_id is None:
        return _inbox(request.form, errors, 422)
    try:
        conversation = conversation_service().open_by_person(
            g.person.id, vendor_id, request.form.get("text", "")
        )
    except DomainError as error:
        # A vendor the person does not deal with is a wrong choice in the form, not a page.
        return _inbox(
            request.form, _start_errors(error), 422 if error.status == 404 else error.status
        )
    return redirect(url_for("web.conversation", conversation_id=conversation.id, started=1))


# One conversation


def _thread(
    conversation_id: uuid.UUID,
    *,
    form: MultiDict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status: int = 200,
) -> Any:
    """The thread, oldest message first; seeing it marks what it shows as read (the
    messages new until now keep their mark on this page)."""
    service = conversation_service()
    conversation = service.get_for_person(g.person.id, conversation_id)  # theirs, or 404
    shown_at = clock.now()
    page = service.person_messages(
        g.person.id, conversation_id, limit=MESSAGES_PAGE_SIZE, cursor=request.args.get("before")
    )
    if not request.args.get("before"):
        # Read is what this page showed: a message arriving meanwhile stays unread.
        service.mark_read(g.person.id, conversation_id, up_to=shown_at)
    consent = None
    if conversation["consent_id"] is not None:
        consents = consent_service()
        consent = consents.describe(
            consents.get_for_person(g.person.id, conversation["consent_id"])
        )
    return render_template(
        "conversation.html",
        c=conversation,
        messages=sorted(page.data, key=lambda m: m["seq"]),  # oldest first
        next_cursor=page.next_cursor,
        consent=consent,
        blocked=block_service().is_blocked(g.person.id, conversation["vendor_id"]),
        form=form or MultiDict(),
        errors=errors or {},
        problem=problem,
        text_max=TEXT_MAX,
    ), status


@blp.route("/inbox/<uuid:conversation_id>", methods=["GET", "POST"])
@login_required
@limit_person_messages
def conversation(conversation_id: uuid.UUID) -> Any:
    """The thread; POST sends the person's reply. Another person's is not found."""
    if request.method == "GET":
        return _thread(conversation_id)
    try:
        message = conversation_service().post_by_person(
            g.person.id, conversation_id, request.form.get("text", "")
        )
    except ValidationFailed as error:
        return _thread(conversation_id, form=request.form, errors=_errors(error), status=422)
    except DomainError as error:
        if error.status == 404:
            raise
        return _thread(
            conversation_id, form=request.form, problem=error.detail, status=error.status
        )
    return redirect(
        url_for(
            "web.conversation", conversation_id=conversation_id, sent=1, _anchor=f"m-{message.id}"
        )
    )


@blp.route("/inbox/<uuid:conversation_id>/close", methods=["GET", "POST"])
@login_required
def close_conversation(conversation_id: uuid.UUID) -> Any:
    """GET asks to confirm; POST closes. Another person's conversation is not found."""
    service = conversation_service()
    error = None
    if request.method == "POST":
        try:
            service.close(g.person.id, conversation_id)
        except DomainError as exc:
            if exc.status == 404:
                raise
            error = exc
        else:
            return redirect(url_for("web.conversation", conversation_id=conversation_id, closed=1))
    view = service.get_for_person(g.person.id, conversation_id)
    return render_template(
        "conversation_close.html", c=view, error=error and error.detail
    ), error.status if error else 200


@blp.route("/inbox/<uuid:conversation_id>/block", methods=["GET", "POST"])
@login_required
def block_from_conversation(conversation_id: uuid.UUID) -> Any:
    """Block the vendor of a conversation: GET asks to confirm, POST blocks (which closes
    every open conversation with it). The block itself is the one the offers page makes."""
    view = conversation_service().get_for_person(g.person.id, conversation_id)
    if request.method == "POST":
        block_service().block(g.person.id, view["vendor_id"])
        return redirect(url_for("web.conversation", conversation_id=conversation_id, blocked=1))
    return render_template(
        "block_confirm.html",
        name=view["vendor_name"] or gettext("A vendor that no longer exists"),
        back=url_for("web.conversation", conversation_id=conversation_id),
        blocked=block_service().is_blocked(g.person.id, view["vendor_id"]),
    )
