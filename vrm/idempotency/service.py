"""Idempotency records: claim a key, store the response, replay it.

A key is scoped to its caller (a person, a vendor client, or an anonymous client address),
so two callers never see each other's responses. The request is fingerprinted with a keyed
HMAC (the body of a sign-up holds a password: a plain hash could be guessed offline)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vrm import clock
from vrm.crypto import Keyring, aad_for
from vrm.db import write_transaction
from vrm.errors import Conflict
from vrm.idempotency.models import IdempotencyRecord

LIFETIME = timedelta(hours=24)
KEY_MAX = 255


class KeyReused(Conflict):
    code = "idempotency-key-reused"
    title = "This Idempotency-Key was used for a different request"


class StillRunning(Conflict):
    code = "idempotency-key-in-progress"
    title = "A request with this Idempotency-Key is still running"


@dataclass
class Stored:
    status: int
    body: Any


class IdempotencyService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    def _digest(self, purpose: str, value: str) -> str:
        return self.keyring.blind_index(purpose, value)

    def claim(
        self, caller: str, key: str, fingerprint: str
    ) -> tuple[uuid.UUID | None, Stored | None]:
        """Claim the key for this request. Returns (record id, None) when the caller should
        run the request, or (None, stored response) when it already ran."""
        key_digest = self._digest("idempotency-key", key)
        request_digest = self._digest("idempotency-request", fingerprint)
        now = clock.now()
        try:
            with write_transaction(self.session):
                self.session.execute(
                    delete(IdempotencyRecord).where(
                        IdempotencyRecord.caller == caller,
                        IdempotencyRecord.key_digest == key_digest,
                        IdempotencyRecord.expires_at <= now,
                    )
                )
                found = self.session.scalar(
                    select(IdempotencyRecord).where(
                        IdempotencyRecord.caller == caller,
                        IdempotencyRecord.key_digest == key_digest,
                    )
                )
                if found is None:
                    record = IdempotencyRecord(
                        id=uuid.uuid4(),
                        caller=caller,
                        key_digest=key_digest,
                        request_digest=request_digest,
                        created_at=now,
                        expires_at=now + LIFETIME,
                    )
                    self.session.add(record)
        except IntegrityError:
            # Another request claimed the same key at the same moment.
            raise StillRunning(
                "Retry when the first request has finished", headers={"Retry-After": "1"}
            ) from None
        if found is None:
            return record.id, None
        if found.request_digest != request_digest:
            raise KeyReused(
                "Use a new Idempotency-Key for a different request", field="Idempotency-Key"
            )
        if found.status is None:
            raise StillRunning(
                "Retry when the first request has finished", headers={"Retry-After": "1"}
            )
        body = self.keyring.decrypt_json(
            found.response, aad_for("idempotency_records", "response", found.id)
        )
        return None, Stored(found.status, body)

    def complete(
        self, record_id: uuid.UUID, status: int, body: Any, person_id: uuid.UUID | None
    ) -> None:
        with write_transaction(self.session):
            record = self.session.get(IdempotencyRecord, record_id)
            if record is not None:
                record.status = status
                record.person_id = person_id
                record.response = self.keyring.encrypt_json(
                    body, aad_for("idempotency_records", "response", record_id)
                )

    def release(self, record_id: uuid.UUID) -> None:
        """Forget a claim whose request failed unexpectedly, so a retry can run."""
        with write_transaction(self.session):
            self.session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.id == record_id))

    def purge_expired(self) -> int:
        with write_transaction(self.session):
            return self.session.execute(
                delete(IdempotencyRecord).where(IdempotencyRecord.expires_at <= clock.now())
            ).rowcount


def fingerprint(method: str, path: str, body: bytes) -> str:
    return json.dumps([method, path, body.decode("utf-8", "replace")])
