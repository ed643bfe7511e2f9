"""What a running app holds (engine, keyring, password hasher) and the request-scoped
session and services the views use. Domain services never import this module."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from vrm.accounts.passwords import Passwords
from vrm.accounts.service import AccountService
from vrm.consents.service import ConsentService
from vrm.conversations.service import ConversationService
from vrm.crypto import Keyring
from vrm.events.feed import EventFeed
from vrm.events.webhooks import WebhookService
from vrm.intentions.offers import OfferService
from vrm.intentions.public import PublicViews
from vrm.intentions.service import IntentionService
from vrm.intentions.subscriptions import SubscriptionService
from vrm.privacy.service import PrivacyService
from vrm.profile.service import ProfileService
from vrm.terms.service import TermsService
from vrm.vendors.blocks import BlockService
from vrm.vendors.relationship import RelationshipService
from vrm.vendors.service import VendorService


@dataclass
class Runtime:
    settings: dict[str, Any]
    engine: Engine
    sessions: sessionmaker[Session]
    keyring: Keyring
    passwords: Passwords
    # The dumped public view of intentions shown lately (vrm/intentions/public.py).
    public_views: PublicViews = field(default_factory=PublicViews)


def runtime() -> Runtime:
    return current_app.extensions["vrm"]


def db_session() -> Session:
    """The session of the current request, closed when the request ends."""
    if "db_session" not in g:
        g.db_session = runtime().sessions()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        try:
            session.close()
        except DBAPIError:
            # The database went away after the answer was made (the closing rollback
            # failed): the answer stands, and the dead connection leaves the pool.
            session.invalidate()


def accounts() -> AccountService:
    rt = runtime()
    return AccountService(db_session(), rt.keyring, rt.passwords)


def profiles() -> ProfileService:
    return ProfileService(db_session(), runtime().keyring)


def vendor_service() -> VendorService:
    return VendorService(db_session(), runtime().keyring)


def terms_service() -> TermsService:
    return TermsService(db_session(), runtime().keyring)


def consent_service() -> ConsentService:
    return ConsentService(db_session(), runtime().keyring)


def privacy() -> PrivacyService:
    return PrivacyService(db_session(), runtime().keyring, accounts())


def intention_service() -> IntentionService:
    return IntentionService(db_session(), runtime().keyring)


def subscription_service() -> SubscriptionService:
    rt = runtime()
    return SubscriptionService(db_session(), rt.keyring, rt.public_views)


def offer_service() -> OfferService:
    return OfferService(db_session(), runtime().keyring)


def block_service() -> BlockService:
    return BlockService(db_session(), runtime().keyring)


def webhook_service() -> WebhookService:
    rt = runtime()
    return WebhookService(db_session(), rt.keyring, rt.settings)


def event_feed() -> EventFeed:
    return EventFeed(db_session(), runtime().keyring)


def conversation_service() -> ConversationService:
    return ConversationService(db_session(), runtime().keyring)


def relationship_service() -> RelationshipService:
    return RelationshipService(db_session(), runtime().keyring)
