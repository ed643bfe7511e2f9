"""HTTP plumbing shared by every entry point: the OpenAPI-aware Api, problem+json
rendering of every error, and the security headers every response carries."""

from __future__ import annotations

import http
import json
import logging
from typing import Any

import marshmallow as ma
from flask import Flask, Response, current_app, g, jsonify, render_template, request
from flask_smorest import Api as SmorestApi
from flask_smorest.utils import prepare_response
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import (
    BadRequest,
    HTTPException,
    RequestEntityTooLarge,
    UnsupportedMediaType,
)

from vrm.errors import (
    PROBLEM_CONTENT_TYPE,
    DomainError,
    Unavailable,
    ValidationFailed,
    flatten_messages,
    problem,
)
from vrm.i18n import N_, gettext, translate

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


# The titles and descriptions of the HTTP errors a page can show, for the catalog: the
# error page shows them in the person's language; problem+json keeps them in English.
HTTP_PAGE_WORDS = [
    N_("Bad Request"),
    N_("Unauthorized"),
    N_("Forbidden"),
    N_("Not Found"),
    N_("Method Not Allowed"),
    N_("Not Acceptable"),
    N_("Conflict"),
    N_("Precondition Failed"),
    N_("Request Entity Too Large"),
    N_("Unsupported Media Type"),
    N_("Unprocessable Entity"),
    N_("Precondition Required"),
    N_("Too Many Requests"),
    N_("Internal Server Error"),
    N_("Service Unavailable"),
    N_("Error"),
    N_("The browser (or proxy) sent a request that this server could not understand."),
    N_(
        "You don't have the permission to access the requested resource. It is either"
        " read-protected or not readable by the server."
    ),
    N_(
        "The requested URL was not found on the server. If you entered the URL manually please"
        " check your spelling and try again."
    ),
    N_("The method is not allowed for the requested URL."),
    N_("The data value transmitted exceeds the capacity limit."),
    # Flask-WTF's reasons for refusing a form (a page left open too long, cookies off).
    N_("The CSRF token is missing."),
    N_("The CSRF session token is missing."),
    N_("The CSRF token has expired."),
    N_("The CSRF token is invalid."),
    N_("The CSRF tokens do not match."),
    N_("The referrer header is missing."),
    N_("The referrer does not match the host."),
]


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


def _header(description: str, type_: str = "string") -> dict[str, Any]:
    return {"description": description, "schema": {"type": type_}}


# What a 429 carries (and, but for Retry-After, every response of a rate-limited operation).
RATE_LIMIT_HEADERS_DOC = {
    "Retry-After": _header("Seconds until the limit resets", "integer"),
    "RateLimit": _header(
        'Per limit: remaining requests and seconds until reset, `"name";r=0;t=42` '
        "(draft-ietf-httpapi-ratelimit-headers)"
    ),
    "RateLimit-Policy": _header('Per limit: quota and window in seconds, `"name";q=10;w=60`'),
    "X-RateLimit-Limit": _header("Requests allowed in the window", "integer"),
    "X-RateLimit-Remaining": _header("Requests left in the window", "integer"),
    "X-RateLimit-Reset": _header("When the window resets, in Unix seconds", "integer"),
}


class Api(SmorestApi):
    """flask-smorest's Api, documenting and answering errors as problem+json."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["schema"] = self.ERROR_SCHEMA
            if status == 429:
                response["headers"] = RATE_LIMIT_HEADERS_DOC
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
    """The error page, in the person's language: titles and library descriptions are held
    in English (as problem+json says them) and translated here; a service's detail is
    already in the page's language, and is left as it is."""
    page = render_template(
        "error.html", status=status, title=translate(title), detail=translate(detail)
    )
    return page, status


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
    if status == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        detail = f"The request body is larger than the limit of {limit} bytes"
    elif status == 429:
        # Flask-Limiter's description is the limit itself, such as "10 per 1 minute".
        detail = f"Too many requests (at most {error.description}); retry after Retry-After seconds"
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
        return _html_error(500, N_("Something went wrong"), None)
    return problem_response(
        problem(
            500,
            "internal-error",
            "Internal Server Error",
            "The server could not complete the request.",
        )
    )


# A restart or a fail-over of the database usually takes a few seconds.
DATABASE_RETRY_AFTER_S = 5
DATABASE_UNAVAILABLE = N_("The service cannot reach its database just now; try again in a moment.")

# PostgreSQL SQLSTATEs saying the server cannot serve this connection: class 08 (connection
# exception), class 53 (insufficient resources: too many connections, disk full) and 57P
# (shut down, crashed, starting up, database dropped, idle session ended).
_POSTGRES_UNAVAILABLE = ("08", "53", "57P")
# SQLite's: the file stayed locked past busy_timeout, cannot be opened, or the disk failed.
_SQLITE_UNAVAILABLE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
)


def database_unavailable(error: BaseException) -> bool:
    """Whether ``error`` means the database cannot be reached just now (down, restarting,
    the connection lost, every connection busy), which a retry can cure; anything else
    from the database (a bad statement, a missing table, a violated constraint) is a bug."""
    if isinstance(error, PoolTimeout):
        return True
    if not isinstance(error, DBAPIError):
        return False
    if error.connection_invalidated:  # SQLAlchemy recognised a disconnect
        return True
    if not isinstance(error, OperationalError | InterfaceError):
        return False
    driver_error = error.orig
    sqlite_name = getattr(driver_error, "sqlite_errorname", None)
    if sqlite_name is not None:
        return str(sqlite_name).startswith(_SQLITE_UNAVAILABLE)
    # psycopg gives no SQLSTATE when the client itself failed: refused, reset, closed.
    sqlstate = getattr(driver_error, "sqlstate", None)
    return sqlstate is None or str(sqlstate).startswith(_POSTGRES_UNAVAILABLE)


def _handle_database_error(error: Exception) -> Any:
    if not database_unavailable(error):
        return _handle_unexpected(error)
    from vrm.runtime import close_session

    # The next use of the session gets a fresh connection; the pool's pre-ping drops the
    # dead ones. The page is drawn without the signed-in person, whom it could not load.
    close_session()
    g.pop("person", None)
    driver_error = getattr(error, "orig", None) or error
    log.warning(
        "database unavailable on %s %s: %s: %s",
        request.method,
        request.path,
        driver_error.__class__.__name__,
        (str(driver_error).strip().splitlines() or [""])[0],
    )
    unavailable = Unavailable(
        DATABASE_UNAVAILABLE, headers={"Retry-After": str(DATABASE_RETRY_AFTER_S)}
    )
    if not is_api_request():
        page, status = _html_error(unavailable.status, unavailable.title, unavailable.detail)
        return page, status, unavailable.headers
    return _handle_domain_error(unavailable)


# JSON APIs (the OAuth endpoints take forms, as RFC 6749 says, and are not among them).
JSON_API_PREFIXES = ("/personal/", "/vendor/")


def _has_body() -> bool:
    return bool(request.content_length) or "chunked" in request.headers.get("Transfer-Encoding", "")


def _require_json_bodies() -> None:
    if _has_body() and request.path.startswith(JSON_API_PREFIXES) and not request.is_json:
        raise UnsupportedMediaType("Send the body as application/json")
    if not _has_body() and request.path.startswith(JSON_API_PREFIXES) and _body_required():
        # webargs reads a missing body as {}: an operation whose fields are all optional
        # would act on a request that sent nothing, though its body is documented required.
        raise ValidationFailed("Send a JSON body", field="body")


def _body_required() -> bool:
    view = current_app.view_functions.get(request.endpoint or "")
    arguments = getattr(view, "_apidoc", {}).get("arguments", {})
    return any(
        p["in"] == "json" and p.get("required", True) for p in arguments.get("parameters", ())
    )


UNSTORABLE = N_("Text must not contain NUL characters or unpaired surrogates")


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
        raise ValidationFailed(gettext(UNSTORABLE), field="path")
    for source in (request.args, request.form):
        for name, value in source.items(multi=True):
            if _unstorable(name) or _unstorable(value):
                raise ValidationFailed(gettext(UNSTORABLE), field=name)
    if request.is_json and _has_body():
        try:
            document = json.loads(request.get_data(cache=True))
        except ValueError:
            return  # the parser of the view reports malformed JSON with its own words
        except RecursionError:
            raise BadRequest(gettext("The JSON body is nested too deeply")) from None
        found = _first_unstorable(document, "")
        if found is not None:
            raise ValidationFailed(gettext(UNSTORABLE), field=found or "body")


def _refuse_oversize_streams() -> None:
    """Refuse a chunked body above MAX_CONTENT_LENGTH. Werkzeug stops reading one at the
    limit without a word, so it would otherwise be parsed cut short; reading one byte more
    raises its 413 (a chunked body of exactly the limit is refused too: it cannot be told
    from a longer one without reading on)."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    if request.content_length is None and _has_body() and limit is not None:
        if len(request.get_data(cache=True)) >= limit:
            request.stream.read(1)
            raise RequestEntityTooLarge()


def register_request_checks(app: Flask) -> None:
    app.before_request(_refuse_oversize_streams)
    app.before_request(_require_json_bodies)
    app.before_request(_refuse_unstorable_text)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(DomainError, _handle_domain_error)
    app.register_error_handler(HTTPException, _handle_http_exception)
    app.register_error_handler(DBAPIError, _handle_database_error)
    app.register_error_handler(PoolTimeout, _handle_database_error)
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
