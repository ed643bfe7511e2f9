"""The vendor's side: the OAuth 2 authorization server and the ``/vendor/v1`` API."""

from __future__ import annotations

from flask import Flask
from werkzeug.routing import Rule

from vrm.http import Api

PREFIX = "/vendor/v1"


def register(app: Flask, api: Api) -> None:
    from vendor_api import consents, conversations, events, intentions, me, oauth

    oauth.init_app(app)
    api.register_blueprint(oauth.blp)
    api.register_blueprint(me.blp, url_prefix=PREFIX)
    api.register_blueprint(consents.blp, url_prefix=PREFIX)
    api.register_blueprint(intentions.blp, url_prefix=PREFIX)
    api.register_blueprint(events.blp, url_prefix=PREFIX)
    api.register_blueprint(conversations.blp, url_prefix=PREFIX)
    # The consent screen is a web page (vrm.web), but integrators start the flow there.
    api.spec.path(
        path="/oauth/authorize", operations=oauth.AUTHORIZE_DOC, rule=Rule("/oauth/authorize")
    )
