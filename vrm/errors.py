"""Domain errors, and their rendering as RFC 9457 problem details.

Services raise these; they never know about HTTP. The app turns each into
``application/problem+json`` on the APIs and into a plain page on the web pages.
"""

from __future__ import annotations

import re
from typing import Any

from vrm.i18n import N_, gettext, translate

PROBLEM_TYPE_BASE = "urn:vrm:problem:"
PROBLEM_CONTENT_TYPE = "application/problem+json"


class DomainError(Exception):
    """A request the domain refuses; subclasses fix the HTTP status and problem type."""

    status = 400
    code = "bad-request"
    title = N_("Bad request")

    def __init__(
        self,
        detail: str,
        *,
        field: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        # A plain str, even when given a lazy string: problem bodies are JSON-encoded.
        detail = str(detail)
        super().__init__(detail)
        self.detail = detail
        self.errors = [{"field": field, "message": detail}] if field else []
        self.headers = headers or {}
        # Extension members of the problem document (RFC 9457 section 3.2).
        self.extra = extra or {}


class ValidationFailed(DomainError):
    status = 422
    code = "validation-failed"
    title = N_("The request has invalid fields")

    @classmethod
    def from_messages(cls, messages: Any) -> ValidationFailed:
        """Build from marshmallow-style ``{field: [messages]}``, nested as deep as needed."""
        errors = list(flatten_messages(messages))
        error = cls(
            "; ".join(f"{e['field']}: {e['message']}" for e in errors) or gettext("Invalid input")
        )
        error.errors = errors
        return error


class Unauthenticated(DomainError):
    status = 401
    code = "unauthenticated"
    title = N_("Authentication required")


class InvalidCredentials(Unauthenticated):
    code = "invalid-credentials"
    title = N_("The credentials are not valid")


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = N_("Not allowed")


class NotFound(DomainError):
    status = 404
    code = "not-found"
    title = N_("Not found")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = N_("Conflicts with the current state")


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition-failed"
    title = N_("The resource changed since you read it")


class Unavailable(DomainError):
    status = 503
    code = "unavailable"
    title = N_("Service unavailable")


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
                yield {"field": prefix or "body", "message": library_message(item)}
    else:
        yield {"field": prefix or "body", "message": library_message(messages)}


# marshmallow's own messages that the person's forms can produce, for the catalog; they
# are translated where they are flattened (English on the APIs, as everything there).
MARSHMALLOW_MESSAGES = [
    N_("Missing data for required field."),
    N_("Field may not be null."),
    N_("Invalid value."),
    N_("Invalid input."),
    N_("Invalid input type."),
    N_("Invalid type."),
    N_("Unknown field."),
    N_("Not a valid string."),
    N_("Not a valid utf-8 string."),
    N_("Not a valid number."),
    N_("Not a valid integer."),
    N_("Number too large."),
    N_("Special numeric values (nan or infinity) are not permitted."),
    N_("Not a valid boolean."),
    N_("Not a valid list."),
    N_("Not a valid mapping type."),
    N_("Not a valid date."),
    N_("Not a valid datetime."),
    N_("Not a valid UUID."),
    N_("Not a valid URL."),
    N_("Not a valid email address."),
    N_("String does not match expected pattern."),
]

# marshmallow's messages with numbers or choices inside (Length, Range, OneOf, formats):
# each English pattern, and the catalog's message with the same values in placeholders.
_NUMBERED_MESSAGES = [
    (
        re.compile(r"Shorter than minimum length (?P<min>\d+)\."),
        N_("Shorter than minimum length %(min)s."),
    ),
    (
        re.compile(r"Longer than maximum length (?P<max>\d+)\."),
        N_("Longer than maximum length %(max)s."),
    ),
    (
        re.compile(r"Length must be between (?P<min>\d+) and (?P<max>\d+)\."),
        N_("Length must be between %(min)s and %(max)s."),
    ),
    (re.compile(r"Length must be (?P<equal>\d+)\."), N_("Length must be %(equal)s.")),
    (
        re.compile(
            r"Must be greater than or equal to (?P<min>\S+)"
            r" and less than or equal to (?P<max>\S+)\."
        ),
        N_("Must be greater than or equal to %(min)s and less than or equal to %(max)s."),
    ),
    (
        re.compile(r"Must be greater than (?P<min>\S+) and less than or equal to (?P<max>\S+)\."),
        N_("Must be greater than %(min)s and less than or equal to %(max)s."),
    ),
    (
        re.compile(r"Must be greater than or equal to (?P<min>\S+)\."),
        N_("Must be greater than or equal to %(min)s."),
    ),
    (re.compile(r"Must be greater than (?P<min>\S+)\."), N_("Must be greater than %(min)s.")),
    (
        re.compile(r"Must be less than or equal to (?P<max>\S+)\."),
        N_("Must be less than or equal to %(max)s."),
    ),
    (re.compile(r"Must be one of: (?P<choices>.*)\."), N_("Must be one of: %(choices)s.")),
    (
        re.compile(r'"(?P<input>.*)" cannot be formatted as a date\.'),
        N_('"%(input)s" cannot be formatted as a date.'),
    ),
]


def library_message(message: Any) -> str:
    """A validation message from marshmallow (or our schemas) in the current language."""
    text = str(message)
    for pattern, msgid in _NUMBERED_MESSAGES:
        found = pattern.fullmatch(text)
        if found:
            return gettext(msgid, **found.groupdict())
    return translate(text)


def problem(
    status: int, code: str, title: str, detail: str | None = None, **extra: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {"type": PROBLEM_TYPE_BASE + code, "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({key: value for key, value in extra.items() if value})
    return body
