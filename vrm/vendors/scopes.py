"""The vendor API's scopes, each with the words a person reads on the consent screen."""

from __future__ import annotations

SCOPES: dict[str, str] = {
    "intentions:read": "See the requests for proposals you publish that match what they sell",
    "offers:write": "Send you offers in answer to your requests",
    "consents:request": "Ask you for consent to use some of your data",
    "profile:read": "Read the profile fields you choose to share, for the purposes you allow",
    "conversations:read": "Read conversations you have with them",
    "conversations:write": "Write to you in conversations you opened or accepted",
    "webhooks:manage": "Manage where they receive notifications about your relationship",
    "events:read": "Read the events of your relationship with them",
}

ALL = " ".join(SCOPES)


def parse(scope: str | None) -> list[str]:
    return [s for s in (scope or "").split() if s]


def unknown(scope: str | None) -> list[str]:
    return [s for s in parse(scope) if s not in SCOPES]
