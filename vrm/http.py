"""HTTP plumbing shared by every entry point: the OpenAPI-aware Api, problem+json
rendering of every error, and the security headers every response carries."""

from __future__ import annotations

import http
import json
import logging
from typing import Any

import marshmallow as ma
from flask import Flask, Response, jsonify, render_template, request
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from werkzeug.exceptions import BadRequest, HTTPException, UnsupportedMediaType

from vrm.errors import (
    PROBLEM_CONTENT_TYPE,
    DomainError,
    ValidationFailed,
    flatten_messages,
    problem,
)

log = logging.getLogger(__name__)

# Paths answered with problem+json; everything else is a web page.
API_PREFIXES = ("/personal/", "/vendor/", "/oauth/", "/.well-known/", "/healthz")

_CODES = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    412: "precondition-failed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-failed",
    428: "precondition-required",
    429: "rate-limited",
    500: "internal-error",
    503: "unavailable",
}


class FieldErrorSchema(ma.Schema):
    field = ma.fields.String(metadata={"description": "The offending field, dotted for nesting"})
    message = ma.fields.String()


class ProblemSchema(ma.Schema):
    """RFC 9457 problem details, as every API error is answered."""

    type = ma.fields.String(metadata={"example": "urn:vrm:problem:validation-failed"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.List(ma.fields.Nested(FieldErrorSchema))


class Api(SmorestApi):
    """flask-smorest's Api, documenting and answering errors as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
            self.spec.components.response(status.name, response, lazy=True)
        response = {"description": "Default error response", "schema": self.ERROR_SCHEMA}
        prepare_response(response, self.spec, PROBLEM_CONTENT_TYPE)
        self.spec.components.response("DEFAULT_ERROR", response, lazy=True)

    def _register_error_handlers(self) -> None:
        """Errors are handled app-wide by :func:`register_error_handlers`."""


# The OAuth consent screen is a web page, though it lives under /oauth/.
WEB_PAGES_UNDER_API_PREFIXES = ("/oauth/authorize",)


def is_api_request() -> bool:
    return (
        request.path.startswith(API_PREFIXES) and request.path not in WEB_PAGES_UNDER_API_PREFIXES
    )


def problem_response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = jsonify(body)
    response.status_code = body["status"]
    response.mimetype = PROBLEM_CONTENT_TYPE
    response.headers.update(headers or {})
    return response


def _html_error(status: int, title: str, detail: str | None) -> tuple[str, int]:
    return render_template("error.html", status=status, title=title, detail=detail), status


def _handle_domain_error(error: DomainError) -> Any:
    if not is_api_request():
        return _html_error(error.status, error.title, error.detail)
    body = problem(error.status, error.code, error.title, error.detail, errors=error.errors)
    body.update(error.extra)
    return problem_response(body, error.headers)


def _handle_http_exception(error: HTTPException) -> Any:
    status = error.code or 500
    title = (
        http.HTTPStatus(status).phrase if status in http.HTTPStatus._value2member_map_ else "Error"
    )
    data = getattr(error, "data", None) or {}
    errors: list[dict[str, str]] = []
    # webargs groups messages by location ("json", "query", ...); fields are named as sent.
    for messages in (data.get("messages") or {}).values():
        errors.extend(flatten_messages(messages))
    if errors:
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    else:
        detail = data.get("message") or error.description
    headers = dict(data.get("headers") or {})
    if hasattr(error, "get_headers"):
        for name, value in error.get_headers():
            if name.lower() not in {"content-type", "content-length"}:
                headers.setdefault(name, value)
    if not is_api_request():
        response = _html_error(status, title, detail if status < 500 else None)
        return response[0], status, headers
    code = _CODES.get(status, "error")
    return problem_response(problem(status, code, title, detail, errors=errors), headers)


def _handle_unexpected(error: Exception) -> Any:
    # The trace goes to the server log only; the client gets a bare problem.
    log.error(
        "unhandled %s on %s %s",
        error.__class__.__name__,
        request.method,
        request.path,
        exc_info=error,
    )
    if not is_api_request():
        return _html_error(500, "Something went wrong", None)
    return problem_response(
        problem(
            500,
            "internal-error",
            "Internal Server Error",
            "The server could not complete the request.",
        )
    )


# JSON APIs (the OAuth endpoints take forms, as RFC 6749 says, and are not among them).
JSON_API_PREFIXES = ("/personal/", "/vendor/")


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def _require_json_bodies() -> None:
    if _has_body() and request.path.startswith(JSON_API_PREFIXES) and not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json")


UNSTORABLE = "Text must not contain NUL characters or unpaired surrogates"


def _unstorable(text: str) -> bool:
    """Text no database column can hold: NUL (PostgreSQL refuses it) or a lone surrogate
    (valid in JSON escapes, but not encodable as UTF-8)."""
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)


def _first_unstorable(value: Any, path: str) -> str | None:
    if isinstance(value, str):
        return path if _unstorable(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if _unstorable(str(key)):
                return path or "body"
            found = _first_unstorable(item, name)
            if found:
                return found
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = _first_unstorable(item, f"{path}.{index}" if path else str(index))
            if found:
                return found
    return None


def _refuse_unstorable_text() -> None:
    """Refuse, once and for every entry point, text that would otherwise fail deep inside."""
    if "\x00" in request.path:
        raise ValidationFailed(UNSTORABLE, field="path")
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if _unstorable(name) or _unstorable(value):
                raise ValidationFailed(UNSTORABLE, field=name)
    if request.is_json and _has_body():
        try:
            document = json.loads(request.get_data(cache=True))
        except ValueError:
            return  # the parser of the view reports malformed JSON with its own words
        except RecursionError:
            raise BadRequest("The JSON body is nested too deeply") from None
        found = _first_unstorable(document, "")
        if found is not None:
            raise ValidationFailed(UNSTORABLE, field=found or "body")


def register_request_checks(app: Flask) -> None:
    app.before_request(_require_json_bodies)
    app.before_request(_refuse_unstorable_text)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(Exception, _handle_unexpected)


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def register_security_headers(app: Flask, *, production: bool) -> None:
    @app.after_request
    def _headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "no-referrer")
        headers.setdefault("X-Frame-Options", "DENY")
        if production:
            headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
        # Everything but the public stylesheet may carry personal data: never cache it.
        if not request.path.startswith("/static/"):
            headers.setdefault("Cache-Control", "no-store")
        return response
