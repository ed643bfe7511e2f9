"""The ``@idempotent`` view decorator: honours ``Idempotency-Key`` on a creating POST."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any

from flask import g, jsonify, make_response, request

from vrm.errors import ValidationFailed
from vrm.idempotency.service import KEY_MAX, IdempotencyService, StillRunning, fingerprint
from vrm.runtime import db_session, runtime

# How long a retry waits for the first request with its key to finish before a 409.
WAIT_SECONDS = 10.0

HEADER_DOC = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A unique key (for example a UUID): a retry with the same key and body gets "
    "the first response (marked Idempotent-Replayed) for 24 hours instead of "
    "creating twice.",
    "schema": {"type": "string", "maxLength": KEY_MAX},
}


def about(person_id: Any) -> None:
    """Tell @idempotent whose data the response holds, so erasing them erases it."""
    g.idempotency_person = person_id


def idempotent(caller: Callable[[], str]) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``caller`` names who is calling (keys are scoped to it)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get("Idempotency-Key")
            if key is None:
                return view(*args, **kwargs)
            if not key.strip() or len(key) > KEY_MAX:
                raise ValidationFailed(f"Send 1 to {KEY_MAX} characters", field="Idempotency-Key")
            service = IdempotencyService(db_session(), runtime().keyring)
            print_ = fingerprint(request.method, request.path, request.get_data())
            deadline = time.monotonic() + WAIT_SECONDS
            while True:
                try:
                    record_id, stored = service.claim(caller(), key, print_)
                    break
                except StillRunning:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.05)
            if stored is not None:
                replay = jsonify(stored.body)
                replay.status_code = stored.status
                replay.headers["Idempotent-Replayed"] = "true"
                return replay
            assert record_id is not None
            try:
                response = make_response(view(*args, **kwargs))
            except BaseException:
                service.release(record_id)  # an error is not an outcome to replay
                raise
            if response.status_code < 400 and response.is_json:
                # The view names the person the response is about (see ``about``).
                service.complete(
                    record_id,
                    response.status_code,
                    response.get_json(),
                    g.get("idempotency_person"),
                )
            else:
                service.release(record_id)
            return response

        return wrapper

    return decorator
