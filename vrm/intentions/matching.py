"""The match index: which vendors' subscriptions accept an intention, and which open
intentions a new subscription accepts.

A subscription is stored as the cross product of its category prefixes and places (``*``
standing for any), so an intention probes at most (category depth + 1) x (place depth + 1)
keys. Price, currency and keywords are then checked only on the subscriptions found
through those keys."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.orm import Session

from vrm.crypto import Keyring
from vrm.intentions.models import (
    Intention,
    IntentionKeyword,
    Subscription,
    SubscriptionKey,
    SubscriptionKeyword,
)
from vrm.intentions.taxonomy import lineage
from vrm.intentions.values import normalise_keyword, region_lineage, words
from vrm.vendors.models import VendorBlock

ANY = "*"
# PostgreSQL advisory lock key ("vrm match" in ASCII) guarding publish against subscribe.
MATCH_LOCK = 0x76726D206D61


def index_keys(categories: list[str], regions: list[str]) -> list[str]:
    """The keys a subscription is filed under."""
    return [f"{c}|{r}" for c in categories or [ANY] for r in regions or [ANY]]


def probe_keys(category: str, country: str | None, region: str | None) -> list[str]:
    """The keys an intention looks up: every broader category x every enclosing place."""
    categories = [ANY, *lineage(category)]
    places = [ANY, *region_lineage(country, region)]
    return [f"{c}|{r}" for c in categories for r in places]


class Matcher:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    def guard(self, *, subscribing: bool) -> None:
        """Keep a subscription's backfill and an intention's publication from missing
        each other. Publications share the lock (they never wait for one another); a
        subscription takes it alone. SQLite write transactions are serial already."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        function = "pg_advisory_xact_lock" if subscribing else "pg_advisory_xact_lock_shared"
        self.session.execute(text(f"SELECT {function}(:key)"), {"key": MATCH_LOCK})

    def digest(self, word: str) -> str:
        return self.keyring.blind_index("intention-keyword", normalise_keyword(word))

    def intention_digests(self, title: str, keywords: Iterable[str]) -> set[str]:
        """An intention is found by its keywords and by the words of its title."""
        return {self.digest(w) for w in words(title) | {normalise_keyword(k) for k in keywords}}

    def vendors_for(self, intention: Intention, digests: set[str]) -> list[uuid.UUID]:
        """Vendors with at least one subscription accepting the intention, minus those
        the person blocked."""
        stmt = (
            select(Subscription.vendor_id)
            .join(SubscriptionKey, SubscriptionKey.subscription_id == Subscription.id)
            .where(
                SubscriptionKey.key.in_(
                    probe_keys(intention.category, intention.country, intention.region)
                ),
                *self._money_accepts(intention),
                or_(
                    ~Subscription.has_keywords,
                    exists().where(
                        SubscriptionKeyword.subscription_id == Subscription.id,
                        SubscriptionKeyword.digest.in_(sorted(digests)),
                    ),
                ),
                ~exists().where(
                    VendorBlock.person_id == intention.person_id,
                    VendorBlock.vendor_id == Subscription.vendor_id,
                ),
            )
            .distinct()
        )
        return list(self.session.scalars(stmt))

    @staticmethod
    def _money_accepts(intention: Intention) -> list[Any]:
        """An intention without a budget or currency is not excluded by a price filter:
        the person did not say, so the vendor may still answer."""
        if intention.currency is None:
            return []
        conditions: list[Any] = [
            or_(Subscription.currency.is_(None), Subscription.currency == intention.currency)
        ]
        if intention.price_max is not None:
            conditions.append(
                or_(Subscription.price_min.is_(None), Subscription.price_min <= intention.price_max)
            )
        if intention.price_min is not None:
            conditions.append(
                or_(Subscription.price_max.is_(None), Subscription.price_max >= intention.price_min)
            )
        return conditions

    def intentions_for(self, subscription: Subscription, now: datetime) -> list[Intention]:
        """Open intentions a new subscription accepts (its backfill)."""
        stmt = select(Intention).where(
            Intention.state == "open",
            Intention.expires_at > now,
            ~exists().where(
                VendorBlock.person_id == Intention.person_id,
                VendorBlock.vendor_id == subscription.vendor_id,
            ),
        )
        if subscription.categories:
            stmt = stmt.where(
                or_(
                    *(
                        or_(Intention.category == c, Intention.category.startswith(c + "/"))
                        for c in subscription.categories
                    )
                )
            )
        if subscription.regions:
            # Narrowed to the countries here, to the regions inside them below.
            stmt = stmt.where(Intention.country.in_(sorted({r[:2] for r in subscription.regions})))
        if subscription.currency:
            stmt = stmt.where(
                or_(Intention.currency.is_(None), Intention.currency == subscription.currency)
            )
        if subscription.price_min is not None:
            stmt = stmt.where(
                or_(Intention.price_max.is_(None), Intention.price_max >= subscription.price_min)
            )
        if subscription.price_max is not None:
            stmt = stmt.where(
                or_(Intention.price_min.is_(None), Intention.price_min <= subscription.price_max)
            )
        if subscription.keywords:
            digests = sorted({self.digest(k) for k in subscription.keywords})
            stmt = stmt.where(
                exists().where(
                    and_(
                        IntentionKeyword.intention_id == Intention.id,
                        IntentionKeyword.digest.in_(digests),
                    )
                )
            )
        found = list(self.session.scalars(stmt))
        if subscription.regions:
            # A subscription naming a region also accepts the places inside it
            # (``FR-IDF`` accepts an intention in ``FR-75C``).
            wanted = set(subscription.regions)
            found = [i for i in found if wanted & set(region_lineage(i.country, i.region))]
        return found
