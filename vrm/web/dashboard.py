"""The person's start page (what waits for them) and one page per vendor they deal with:
the agreement, consents, what the vendor read, conversations and offers, with "withdraw
everything" and "block" after confirming.

Thin views over the relationship read model; every rule stays in the services.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask import g, redirect, render_template, request, url_for

from vrm.runtime import block_service, relationship_service
from vrm.web import blp, login_required


def overview() -> Any:
    """The start page of a logged-in person (``/``, see ``web.home``)."""
    return render_template("dashboard.html", o=relationship_service().overview(g.person.id))


@blp.get("/vendors/<uuid:vendor_id>")
@login_required
def relationship(vendor_id: uuid.UUID) -> Any:
    """Everything between the person and one vendor; a vendor they do not deal with is
    not found."""
    return render_template(
        "relationship.html", r=relationship_service().of_vendor(g.person.id, vendor_id)
    )


@blp.route("/vendors/<uuid:vendor_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw_everything(vendor_id: uuid.UUID) -> Any:
    """GET asks to confirm; POST withdraws every consent still given to the vendor."""
    service = relationship_service()
    if request.method == "POST":
        withdrawn = service.withdraw_all(g.person.id, vendor_id)
        return redirect(url_for("web.relationship", vendor_id=vendor_id, withdrawn=len(withdrawn)))
    current = service.of_vendor(g.person.id, vendor_id)
    return render_template("relationship_withdraw.html", r=current)


@blp.route("/vendors/<uuid:vendor_id>/block", methods=["GET", "POST"])
@login_required
def block_from_relationship(vendor_id: uuid.UUID) -> Any:
    """Block a vendor you deal with: GET asks to confirm, POST blocks (the same block the
    offer and conversation pages make)."""
    vendor = relationship_service().vendor_of(g.person.id, vendor_id)  # theirs, or 404
    blocks = block_service()
    if request.method == "POST":
        blocks.block(g.person.id, vendor_id)
        return redirect(url_for("web.relationship", vendor_id=vendor_id, blocked=1))
    return render_template(
        "block_confirm.html",
        name=vendor.name,
        back=url_for("web.relationship", vendor_id=vendor_id),
        blocked=blocks.is_blocked(g.person.id, vendor_id),
    )
