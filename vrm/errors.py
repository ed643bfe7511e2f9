"""Domain errors, and their rendering as RFC 9457 problem details.

Services raise these; they never know about HTTP. The app turns each into
``application/problem+json`` on the APIs and into a plain page on the web pages.
"""

from __future__ import annotations

from typing import Any

PROBLEM_TYPE_BASE = "urn:vrm:problem:"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class DomainError(Exception):
    """A request the domain refuses; subclasses fix the HTTP status and problem type."""

    status = 400
    code = "bad-request"
    title = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail)
        self.detail = detail
        self.errors = [{"field": field, "message": detail}] if field else []
        self.headers = headers or {}
        # Extension members of the problem document (RFC 9457 section 3.2).
        self.extra = extra or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation-failed"
    title = "The request has invalid fields"

    @classmethod
    def from_messages(cls, messages: Any) -> ValidationFailed:
        """Build from marshmallow-style ``{field: [messages]}``, nested as deep as needed."""
        errors = list(flatten_messages(messages))
        error = cls("; ".join(f"{e['field']}: {e['message']}" for e in errors) or "Invalid input")
        error.errors = errors
        return error


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = "Authentication required"


class InvalidCredentials(Unauthenticated):
    code = "invalid-credentials"
    title = "The credentials are not valid"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class NotFound(DomainError):
    status = 404
    code = "not-found"
    title = "Not found"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflicts with the current state"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition-failed"
    title = "The resource changed since you read it"


class Unavailable(DomainError):
    status = 503
    code = "unavailable"
    title = "Service unavailable"


def flatten_messages(messages: Any, prefix: str = "") -> Any:
    """Yield ``{"field", "message"}`` pairs from nested marshmallow error messages."""
    if isinstance(messages, dict):
        for key, value in messages.items():
            if key == "_schema":
                name = prefix or "body"
            else:
                name = f"{prefix}.{key}" if prefix else str(key)
            yield from flatten_messages(value, name)
    elif isinstance(messages, list | tuple):
        for item in messages:
            if isinstance(item, dict | list):
                yield from flatten_messages(item, prefix)
            else:
                yield {"field": prefix or "body", "message": str(item)}
    else:
        yield {"field": prefix or "body", "message": str(messages)}


def problem(
    status: int, code: str, title: str, detail: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({key: value for key, value in extra.items() if value})
    return body
