"""The match index: which vendors' subscriptions accept an intention, and which open
intentions a new subscription accepts.

Each subscription is filed under the keys of its narrowest filter, and every key carries
the currency it asks for (``*`` for any):
- with keywords, under each keyword: ``w|<digest>|<currency>``;
- otherwise under each (category prefix, place) pair: ``c|<category>|<place>|<currency>``.
An intention looks up only the keys it could satisfy: its broader categories x enclosing
places, and its words and phrases, each with its currency and ``*``. The few subscriptions
found are then checked for what their key does not say (price band; category and place for
keyword-filed ones). So the cost of a publication follows the subscriptions that share its
category, place, currency or words, not how many subscriptions exist."""

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
)
from vrm.intentions.taxonomy import lineage
from vrm.intentions.values import phrase, phrases, region_lineage
from vrm.vendors.models import VendorBlock

ANY = "*"
# PostgreSQL advisory lock key ("vrm match" in ASCII) guarding publish against subscribe.
MATCH_LOCK = 0x76726D206D61


def index_keys(
    categories: list[str], regions: list[str], keyword_digests: list[str], currency: str | None
) -> list[str]:
    """The keys a subscription is filed under."""
    money = currency or ANY
    if keyword_digests:
        return sorted({f"w|{d}|{money}" for d in keyword_digests})
    return sorted({f"c|{c}|{r}|{money}" for c in categories or [ANY] for r in regions or [ANY]})


def probe_keys(intention: Intention, digests: Iterable[str]) -> list[str]:
    """The keys an intention looks up."""
    monies = [ANY, intention.currency] if intention.currency else [ANY]
    categories = [ANY, *lineage(intention.category)]
    places = [ANY, *region_lineage(intention.country, intention.region)]
    keys = {f"c|{c}|{p}|{m}" for c in categories for p in places for m in monies}
    keys |= {f"w|{d}|{m}" for d in digests for m in monies}
    return sorted(keys)


class Matcher:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    def guard(self, *, exclusive: bool) -> None:
        """Keep a subscription's backfill (or a block) and a publication, edit or close
        from missing each other. Publications share the lock and never wait for one
        another; a subscription or a block takes it alone. SQLite write transactions are
        serial already."""
        if self.session.get_bind().dialect.name != "postgresql":
            return
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        self.session.execute(text(f"SELECT {function}(:key)"), {"key": MATCH_LOCK})

    def digest(self, keyword: str) -> str:
        """The keyed digest of a keyword already in ``phrase`` form."""
        return self.keyring.blind_index("intention-keyword", keyword)

    def intention_digests(self, title: str, keywords: Iterable[str]) -> set[str]:
        """An intention is found by its keywords and by the words and phrases of its
        title and keywords."""
        found = phrases(title)
        for keyword in keywords:
            found |= phrases(keyword) | {phrase(keyword)}
        return {self.digest(p) for p in found if p}

    def vendors_for(self, intention: Intention, digests: set[str]) -> list[uuid.UUID]:
        """Vendors with at least one subscription accepting the intention, minus those
        the person blocked."""
        rows = self.session.execute(
            select(
                Subscription.vendor_id,
                Subscription.has_keywords,
                Subscription.categories,
                Subscription.regions,
            )
            .join(SubscriptionKey, SubscriptionKey.subscription_id == Subscription.id)
            .where(
                SubscriptionKey.key.in_(probe_keys(intention, digests)),
                *self._price_accepts(intention),
                ~exists().where(
                    VendorBlock.person_id == intention.person_id,
                    VendorBlock.vendor_id == Subscription.vendor_id,
                ),
            )
        ).all()
        categories = set(lineage(intention.category))
        places = set(region_lineage(intention.country, intention.region))
        vendors: set[uuid.UUID] = set()
        for vendor_id, keyworded, wanted_categories, wanted_places in rows:
            # A keyword-filed subscription's key says nothing of category or place.
            if keyworded and (
                (wanted_categories and not categories & set(wanted_categories))
                or (wanted_places and not places & set(wanted_places))
            ):
                continue
            vendors.add(vendor_id)
        return sorted(vendors)

    @staticmethod
    def _price_accepts(intention: Intention) -> list[Any]:
        """The price band overlaps the intention's budget (an open end overlaps)."""
        conditions: list[Any] = []
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
            stmt = stmt.where(Intention.currency == subscription.currency)
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
