"""The personal API, ``/personal/v1``: thin views over the domain services."""

from __future__ import annotations

from vrm.http import Api

PREFIX = "/personal/v1"


def register(api: Api) -> None:
    from vrm.personal_api import (
        accounts,
        consents,
        conversations,
        intentions,
        profile,
        tokens,
        vendors,
    )

    for module in (accounts, tokens, profile, vendors, consents, intentions, conversations):
        api.register_blueprint(module.blp, url_prefix=PREFIX)
