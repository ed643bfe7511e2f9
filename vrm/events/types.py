"""The event types a vendor can receive, each with what it means."""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    "intention.matched": "An intention matched one of your subscriptions.",
    "intention.withdrawn": "The person withdrew an intention you had been shown.",
    "intention.expired": "An intention you had been shown reached its expiry.",
    "offer.accepted": "The person accepted your offer; a consent and a conversation follow.",
    "offer.declined": "The person declined your offer.",
    "consent.given": "A consent to you became given (directly, by approval or by an offer).",
    "consent.modified": "A given consent changed: its fields, purposes or expiry.",
    "consent.withdrawn": "The person withdrew a consent; stop using what it covered.",
    "consent.expired": "A consent reached its expiry; stop using what it covered.",
    "consent_request.approved": "The person approved your consent request.",
    "consent_request.denied": "The person denied your consent request.",
    "profile.updated": "A field you hold consent for changed; the new value is included.",
    "message.created": "A new message in one of your conversations.",
    "conversation.closed": "A conversation was closed.",
    "customer.erased": "The person erased their account: delete what you hold about them.",
}

# Sent only to the endpoint being tested, never to the events feed.
TEST_EVENT = "webhook.test"
