"""The vendor API's scopes, each with the words a person reads on the consent screen."""

from __future__ import annotations

from vrm.i18n import N_

# English here (the OpenAPI document shows these words); the consent screen translates them.
SCOPES: dict[str, str] = {
    "intentions:read": N_("See the requests for proposals you publish that match what they sell"),
    "offers:write": N_("Send you offers in answer to your requests"),
    "consents:request": N_("Ask you for consent to use some of your data"),
    "profile:read": N_("Read the profile fields you choose to share, for the purposes you allow"),
    "conversations:read": N_("Read conversations you have with them"),
    "conversations:write": N_("Write to you in conversations you opened or accepted"),
    "webhooks:manage": N_("Manage where they receive notifications about your relationship"),
    "events:read": N_("Read the events of your relationship with them"),
}

ALL = " ".join(SCOPES)


def parse(scope: str | None) -> list[str]:
    return [s for s in (scope or "").split() if s]


def unknown(scope: str | None) -> list[str]:
    return [s for s in parse(scope) if s not in SCOPES]
