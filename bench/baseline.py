"""The two baselines every figure is a ratio against, served by the same gunicorn
settings as the app:

- ``bare()``: a Flask route returning a small JSON object;
- ``minimal()``: a hand-written Flask + SQLAlchemy route doing the feed's database work,
  a token digest lookup and then a 50-row indexed page of the vendor's matches with
  their intentions, and nothing else (no schemas, no decryption, no OAuth library);
- ``minimal_write()``: a hand-written Flask + SQLAlchemy route doing the token endpoint's
  database work, a client lookup and one INSERT committed, and nothing else. Every
  workload that must record something (a token, an intention, an access-log entry) does
  at least this much, so it shows how far below the bare route any such route stays."""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, abort, jsonify, request
from sqlalchemy import insert, select

from vrm.db import make_engine, make_sessionmaker, write_transaction
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


def minimal_write() -> Flask:
    app = Flask(__name__)
    sessions = make_sessionmaker(make_engine(os.environ["VRM_DATABASE_URL"]))
    tokens = OAuthToken.__table__

    @app.post("/minimal/token")
    def token() -> Any:
        scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            abort(401)
        client_id, _, secret = base64.b64decode(credentials).decode().partition(":")
        # write_transaction: on SQLite a write must take the lock up front (BEGIN IMMEDIATE).
        with sessions() as session, write_transaction(session):
            client = session.execute(
                select(OAuthClient.id, OAuthClient.secret_digest).where(
                    OAuthClient.client_id == client_id
                )
            ).first()
            if client is None or hashlib.sha256(secret.encode()).hexdigest() != (
                client.secret_digest
            ):
                abort(401)
            access = secrets.token_urlsafe(32)
            now = datetime.now(UTC)
            session.execute(
                insert(tokens).values(
                    id=uuid.uuid4(),
                    client_pk=client.id,
                    scope="",
                    grant_scope="",
                    access_digest=hashlib.sha256(access.encode()).hexdigest(),
                    family_id=uuid.uuid4(),
                    issued_at=now,
                    access_expires_at=now + timedelta(hours=1),
                )
            )
        return jsonify(access_token=access, token_type="Bearer", expires_in=3600)

    return app
