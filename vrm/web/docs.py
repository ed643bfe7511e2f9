"""The API reference at /docs: Swagger UI over the spec generated from the code, every
asset served from here (Swagger UI's files come with the ``flask-swagger-ui`` package)."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

from flask import current_app, render_template, send_from_directory

from vrm.i18n import gettext
from vrm.web import blp

# Swagger UI's dist files as flask-swagger-ui ships them (only they are used, not its
# blueprint, whose page runs an inline script the Content-Security-Policy forbids).
SWAGGER_UI = files("flask_swagger_ui") / "dist"
SWAGGER_UI_VERSION = (SWAGGER_UI / "VERSION").read_text().strip()
ASSETS = {"swagger-ui-bundle.js", "swagger-ui.css", "LICENSE"}
METHODS = ("get", "post", "put", "patch", "delete")


def spec() -> dict[str, Any]:
    """The OpenAPI document of the running app (the same one `vrm openapi` writes)."""
    return current_app.extensions["flask-smorest"]["apis"][""]["ext_obj"].spec.to_dict()


@blp.get("/openapi.json")
def openapi_json() -> Any:
    return spec()


@blp.get("/docs")
def docs() -> Any:
    document = spec()
    operations = [
        {"method": method.upper(), "path": path, "summary": item[method].get("summary", "")}
        for path, item in document.get("paths", {}).items()
        for method in METHODS
        if method in item
    ]
    return render_template(
        "docs.html",
        info=document.get("info", {}),
        operations=operations,
        version=SWAGGER_UI_VERSION,
    )


@blp.get("/docs/assets/<name>")
def docs_asset(name: str) -> Any:
    if name not in ASSETS:
        return gettext("Not found"), 404
    # Versioned by the query string the page adds, so browsers may keep them a day.
    mimetype = "text/plain" if name == "LICENSE" else None
    return send_from_directory(str(SWAGGER_UI), name, max_age=86_400, mimetype=mimetype)
