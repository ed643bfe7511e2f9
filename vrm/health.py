"""``GET /healthz``: the process is up and its database answers."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask_smorest import Blueprint
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from vrm.errors import Unavailable
from vrm.http import DATABASE_RETRY_AFTER_S
from vrm.runtime import db_session

blp = Blueprint("health", __name__, description="Liveness and readiness")


class HealthSchema(ma.Schema):
    status = ma.fields.String(metadata={"example": "ok"})
    database = ma.fields.String(metadata={"example": "ok"})


@blp.route("/healthz", methods=["GET"])
@blp.doc(security=[])  # public: load balancers and monitors call it
@blp.response(200, HealthSchema)
@blp.alt_response(503, description="The database does not answer")
def healthz() -> dict[str, Any]:
    """Report that the service and its database answer."""
    try:
        db_session().execute(text("SELECT 1"))
    except OperationalError:
        raise Unavailable(
            "The database does not answer", headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)}
        ) from None
    return {"status": "ok", "database": "ok"}
