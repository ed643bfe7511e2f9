"""The composition root: ``create_app`` builds the app; nothing happens at import time."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

from vrm import config as vrm_config
from vrm.accounts.passwords import Passwords
from vrm.crypto import load_keyring
from vrm.db import make_engine, make_sessionmaker
from vrm.http import (
    Api,
    register_error_handlers,
    register_request_checks,
    register_security_headers,
)
from vrm.limits import limiter
from vrm.openapi import ContractPlugin, decimal_as_string
from vrm.runtime import Runtime, close_session
from vrm.vendors.scopes import SCOPES

OPENAPI_INFO = {
    "title": "VRM",
    "version": "1",
    "description": (
        "A customer-controlled relationship platform. The personal API (`/personal/v1`) is the "
        "person's own; every error is RFC 9457 `application/problem+json`."
    ),
}


def default_database_url(instance_path: Path) -> str:
    return f"sqlite:///{instance_path / 'vrm.sqlite3'}"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from defaults, ``VRM_*`` variables and ``config``; never migrates."""
    settings = vrm_config.load(config)
    instance_path = Path(settings["INSTANCE_PATH"] or Path.cwd() / "instance").resolve()
    instance_path.mkdir(parents=True, exist_ok=True)
    settings["DATABASE_URL"] = settings["DATABASE_URL"] or default_database_url(instance_path)

    # static_folder=None: the web blueprint serves /static/, not Flask's default route.
    app = Flask(__name__, instance_path=str(instance_path), static_folder=None)
    keyring = load_keyring(settings, instance_path)
    production = settings["ENV"] == "production"
    app.config.update(
        SECRET_KEY=keyring.material.session_key,
        MAX_CONTENT_LENGTH=settings["MAX_CONTENT_LENGTH"],
        SESSION_COOKIE_NAME="vrm_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=production,
        WTF_CSRF_CHECK_DEFAULT=False,
        RATELIMIT_STORAGE_URI=settings["RATELIMIT_STORAGE_URL"],
        RATELIMIT_KEY_PREFIX=settings["RATELIMIT_KEY_PREFIX"],
        RATELIMIT_HEADERS_ENABLED=True,
        API_TITLE=OPENAPI_INFO["title"],
        API_VERSION=OPENAPI_INFO["version"],
        OPENAPI_VERSION="3.1.0",
        API_SPEC_OPTIONS={
            "info": {"description": OPENAPI_INFO["description"]},
            "components": {
                "securitySchemes": {
                    "personalToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "A personal access token, vrm_pat_...",
                    },
                    "personalBasic": {
                        "type": "http",
                        "scheme": "basic",
                        "description": "Your email and password",
                    },
                    "clientBasic": {
                        "type": "http",
                        "scheme": "basic",
                        "description": "OAuth client_id and client_secret (client_secret_basic)",
                    },
                    "registrationToken": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An initial access token from the operator (vrm_iat_...)",
                    },
                    "vendorOAuth": {
                        "type": "oauth2",
                        "description": "A vendor access token (vrm_at_...)",
                        "flows": {
                            "clientCredentials": {"tokenUrl": "/oauth/token", "scopes": SCOPES},
                            "authorizationCode": {
                                "authorizationUrl": "/oauth/authorize",
                                "tokenUrl": "/oauth/token",
                                "refreshUrl": "/oauth/token",
                                "scopes": SCOPES,
                            },
                        },
                    },
                }
            },
        },
    )

    engine = make_engine(
        settings["DATABASE_URL"], sqlite_busy_timeout_ms=settings["SQLITE_BUSY_TIMEOUT_MS"]
    )
    app.extensions["vrm"] = Runtime(
        settings=settings,
        engine=engine,
        sessions=make_sessionmaker(engine),
        keyring=keyring,
        passwords=Passwords(
            time_cost=settings["ARGON2_TIME_COST"],
            memory_kib=settings["ARGON2_MEMORY_KIB"],
            parallelism=settings["ARGON2_PARALLELISM"],
        ),
    )
    app.teardown_appcontext(close_session)

    from vrm import health, i18n, personal_api, web

    i18n.init_app(app)
    web.csrf.init_app(app)
    limiter.init_app(app)
    contract = ContractPlugin()
    api = Api(app, spec_kwargs={"extra_plugins": [contract]})
    api.ma_plugin.converter.add_attribute_function(decimal_as_string)
    api.register_blueprint(health.blp)
    personal_api.register(api)
    import vendor_api

    vendor_api.register(app, api)
    contract.link_operations()
    app.register_blueprint(web.blp)
    register_request_checks(app)
    register_error_handlers(app)
    register_security_headers(app, production=production)
    return app
