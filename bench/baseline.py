"""The two baselines every figure is a ratio against, served by the same gunicorn
settings as the app:

- ``bare()``: a Flask route returning a small JSON object;
- ``minimal()``: a hand-written Flask + SQLAlchemy route doing the feed's database work,
  a token digest lookup and then a 50-row indexed page of the vendor's matches with
  their intentions, and nothing else (no schemas, no decryption, no OAuth library)."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime
from typing import Any

from flask import Flask, abort, jsonify, request
from sqlalchemy import select

from vrm.db import make_engine, make_sessionmaker
from vrm.intentions.models import Intention, IntentionMatch
from vrm.vendors.models import OAuthClient, OAuthToken


def bare() -> Flask:
    app = Flask(__name__)

    @app.get("/bare")
    def hello() -> Any:
        return jsonify(status="ok", service="bench", version=1)

    return app


def minimal() -> Flask:
    app = Flask(__name__)
    sessions = make_sessionmaker(make_engine(os.environ["VRM_DATABASE_URL"]))

    @app.get("/minimal/feed")
    def feed() -> Any:
        scheme, _, secret = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            abort(401)
        digest = hashlib.sha256(secret.encode()).hexdigest()
        now = datetime.now(UTC)
        limit = min(int(request.args.get("limit", 50)), 100)
        with sessions() as session:
            found = session.execute(
                select(OAuthClient.vendor_id, OAuthToken.access_expires_at, OAuthToken.revoked_at)
                .join(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
                .where(OAuthToken.access_digest == digest)
            ).first()
            if found is None or found.revoked_at or found.access_expires_at <= now:
                abort(401)
            matches = session.execute(
                select(
                    IntentionMatch.intention_id, IntentionMatch.person_id, IntentionMatch.created_at
                )
                .where(IntentionMatch.vendor_id == found.vendor_id, IntentionMatch.expires_at > now)
                .order_by(IntentionMatch.created_at.desc(), IntentionMatch.intention_id.desc())
                .limit(limit + 1)
            ).all()
            rows = {
                i.id: i
                for i in session.execute(
                    select(
                        Intention.id,
                        Intention.category,
                        Intention.content,
                        Intention.currency,
                        Intention.price_min,
                        Intention.price_max,
                        Intention.country,
                        Intention.region,
                        Intention.published_at,
                        Intention.expires_at,
                        Intention.state,
                    ).where(Intention.id.in_([m.intention_id for m in matches[:limit]]))
                )
                # By primary key only (a state condition would send SQLite down the
                # state index over every open intention), then checked.
                if i.state == "open" and i.expires_at > now
            }
        data = [
            {
                "id": str(m.intention_id),
                "category": rows[m.intention_id].category,
                "content": rows[m.intention_id].content,
                "country": rows[m.intention_id].country,
                "matched_at": m.created_at.isoformat(),
            }
            for m in matches[:limit]
            if m.intention_id in rows
        ]
        return jsonify(data=data, next_cursor="more" if len(matches) > limit else None)

    return app
