"""Every model, imported once so the metadata is complete (for Alembic and key rotation)."""

from vrm.accounts.models import Person, PersonalToken, WebSession
from vrm.audit.models import AuditEvent, AuditHead
from vrm.consents.models import Consent, ConsentEvent
from vrm.conversations.models import Conversation, Message
from vrm.db import Base
from vrm.events import outbox  # noqa: F401 - installs the hook that writes queued events
from vrm.events.models import (
    Delivery,
    DeliveryAttempt,
    EventSequence,
    OutboxEvent,
    WebhookEndpoint,
)
from vrm.idempotency.models import IdempotencyRecord
from vrm.intentions.models import (
    Intention,
    IntentionKeyword,
    IntentionMatch,
    IntentionReach,
    Offer,
    Subscription,
    SubscriptionKey,
)
from vrm.profile.models import ProfileAttribute, ProfileRevision
from vrm.scheduling.models import JobRun
from vrm.terms.models import Agreement, PersonTerms, VendorTerms
from vrm.vendors.models import (
    AuthorizationCode,
    OAuthClient,
    OAuthToken,
    RegistrationToken,
    Relationship,
    Vendor,
    VendorBlock,
)

__all__ = [
    "Agreement",
    "AuditEvent",
    "AuditHead",
    "Consent",
    "ConsentEvent",
    "Conversation",
    "Delivery",
    "DeliveryAttempt",
    "EventSequence",
    "OutboxEvent",
    "WebhookEndpoint",
    "IdempotencyRecord",
    "JobRun",
    "Message",
    "Intention",
    "IntentionKeyword",
    "IntentionMatch",
    "IntentionReach",
    "Offer",
    "Subscription",
    "SubscriptionKey",
    "PersonTerms",
    "VendorTerms",
    "AuthorizationCode",
    "OAuthClient",
    "OAuthToken",
    "RegistrationToken",
    "Relationship",
    "Vendor",
    "VendorBlock",
    "Base",
    "Person",
    "PersonalToken",
    "ProfileAttribute",
    "ProfileRevision",
    "WebSession",
]
