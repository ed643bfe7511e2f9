"""The vendor's side of intentcasting: subscriptions and the matched feed."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from vrm import clock
from vrm.audit.service import AuditLog
from vrm.consents.models import Consent
from vrm.crypto import Keyring
from vrm.db import insert_missing, write_transaction
from vrm.errors import Conflict, NotFound, ValidationFailed
from vrm.intentions.matching import Matcher, index_keys
from vrm.intentions.models import (
    Intention,
    IntentionMatch,
    IntentionReach,
    Subscription,
    SubscriptionKey,
)
from vrm.intentions.public import PublicViews
from vrm.intentions.service import IntentionService
from vrm.intentions.taxonomy import check_category
from vrm.intentions.values import (
    check_region,
    phrase,
    price_band,
    price_view,
)
from vrm.pagination import Page, newest_first, page_of_rows
from vrm.profile.service import ProfileService
from vrm.vendors.models import Vendor

SUBSCRIPTIONS_MAX = 1000
CATEGORIES_MAX = 10
REGIONS_MAX = 20
KEYWORDS_MAX = 20


# A feed reads each match with what tells its intention's version apart, in one query
# (the rest of the intention only for versions this process has not shown yet). The
# intention is joined by primary key and only then checked for being open: with its state
# in the WHERE clause SQLite (without statistics) would walk the state index over every
# open intention instead of the vendor's matches in order.
_FEED = select(
    IntentionMatch.intention_id,
    IntentionMatch.person_id,
    IntentionMatch.consent_id,
    IntentionMatch.created_at,
    IntentionMatch.expires_at,
    Intention.updated_at,
    Intention.content,
    Intention.state,
    Intention.expires_at.label("open_until"),
).join(Intention, Intention.id == IntentionMatch.intention_id)

_FIRST_PAGE = (
    _FEED.where(
        IntentionMatch.vendor_id == bindparam("vendor_id"),
        IntentionMatch.expires_at > bindparam("now"),
    )
    .order_by(IntentionMatch.created_at.desc(), IntentionMatch.intention_id.desc())
    .limit(bindparam("size"))
)


class SubscriptionService:
    def __init__(self, session: Session, keyring: Keyring, public_views: PublicViews | None = None):
        self.session = session
        self.keyring = keyring
        # A running app shares one across requests; alone, a service keeps its own.
        self.public_views = public_views or PublicViews()
        self.matcher = Matcher(session, keyring)
        self.intentions = IntentionService(session, keyring)

    # Subscriptions

    def subscribe(self, vendor: Vendor, data: dict[str, Any]) -> Subscription:
        """File a subscription in the index and match it against the open intentions."""
        categories = self._listed(data.get("categories"), "categories", CATEGORIES_MAX)
        regions = self._listed(data.get("regions"), "regions", REGIONS_MAX)
        for position, category in enumerate(categories):
            check_category(category, field=f"categories.{position}")
        regions = list(
            dict.fromkeys(
                check_region(region, field=f"regions.{position}")
                for position, region in enumerate(regions)
            )
        )
        keywords = []
        listed = self._listed(data.get("keywords"), "keywords", KEYWORDS_MAX)
        for position, keyword in enumerate(listed):
            if not phrase(keyword):
                raise ValidationFailed(
                    "A keyword needs a letter or digit", field=f"keywords.{position}"
                )
            keywords.append(phrase(keyword))
        keywords = sorted(set(keywords))
        currency, low, high = price_band(data.get("price"))
        now = clock.now()
        subscription = Subscription(
            id=uuid.uuid4(),
            vendor_id=vendor.id,
            categories=categories,
            regions=regions,
            keywords=keywords,
            has_keywords=bool(keywords),
            currency=currency,
            price_min=low,
            price_max=high,
            created_at=now,
        )
        with write_transaction(self.session):
            self.matcher.guard(exclusive=True)
            held = self.session.scalar(
                select(func.count()).where(Subscription.vendor_id == vendor.id)
            )
            if held and held >= SUBSCRIPTIONS_MAX:
                raise Conflict(
                    f"A vendor holds at most {SUBSCRIPTIONS_MAX} subscriptions; delete one first"
                )
            self.session.add(subscription)
            self.session.flush()
            digests = [self.matcher.digest(k) for k in keywords]
            insert_missing(
                self.session,
                SubscriptionKey,
                [
                    {"key": key, "subscription_id": subscription.id}
                    for key in index_keys(categories, regions, digests, currency)
                ],
            )
            self._backfill(subscription, vendor)
        return subscription

    def _backfill(self, subscription: Subscription, vendor: Vendor) -> None:
        """Match the open intentions this vendor does not hold yet."""
        held = set(
            self.session.scalars(
                select(IntentionMatch.intention_id).where(IntentionMatch.vendor_id == vendor.id)
            )
        )
        fresh = sorted(
            (i for i in self.matcher.intentions_for(subscription, clock.now()) if i.id not in held),
            key=lambda i: (i.published_at, i.id),
            reverse=True,
        )
        now = clock.now()
        # All matched at this moment; a microsecond apart so the feed (latest matched
        # first) lists them newest published first.
        matched_at = {i.id: now - timedelta(microseconds=rank) for rank, i in enumerate(fresh)}
        consent_of: dict[uuid.UUID, uuid.UUID | None] = {}
        for intention in fresh:
            if intention.disclose:
                disclosed = self.intentions.disclose_within(intention, [vendor.id])
                consent_of[intention.id] = disclosed.get(vendor.id)
        insert_missing(
            self.session,
            IntentionReach,
            [{"intention_id": i.id, "vendor_id": vendor.id} for i in fresh],
        )
        # Oldest matched first, so the events come in the order the feed was filled.
        self.intentions.write_matches_within(
            {i.id: i for i in fresh},
            [
                {
                    "vendor_id": vendor.id,
                    "intention_id": i.id,
                    "person_id": i.person_id,
                    "consent_id": consent_of.get(i.id),
                    "expires_at": i.expires_at,
                    "created_at": matched_at[i.id],
                }
                for i in reversed(fresh)
            ],
        )

    def page(self, vendor_id: uuid.UUID, *, limit: int, cursor: str | None) -> Page[Subscription]:
        return newest_first(
            self.session,
            select(Subscription).where(Subscription.vendor_id == vendor_id),
            Subscription.created_at,
            Subscription.id,
            limit=limit,
            cursor=cursor,
        )

    def get(self, vendor_id: uuid.UUID, subscription_id: uuid.UUID) -> Subscription:
        found = self.session.get(Subscription, subscription_id)
        if found is None or found.vendor_id != vendor_id:
            raise NotFound("No such subscription")
        return found

    def unsubscribe(self, vendor_id: uuid.UUID, subscription_id: uuid.UUID) -> None:
        """Stop matching new intentions; intentions already in the feed stay there."""
        with write_transaction(self.session):
            self.session.delete(self.get(vendor_id, subscription_id))

    @staticmethod
    def describe(subscription: Subscription) -> dict[str, Any]:
        price = price_view(subscription.currency, subscription.price_min, subscription.price_max)
        return {
            "id": subscription.id,
            "categories": subscription.categories,
            "regions": subscription.regions,
            "keywords": subscription.keywords,
            "price": price,
            "created_at": subscription.created_at,
        }

    @staticmethod
    def _listed(values: list[str] | None, field: str, most: int) -> list[str]:
        values = list(dict.fromkeys(values or []))
        if len(values) > most:
            raise ValidationFailed(f"At most {most}", field=field)
        return values

    # The feed

    def feed(
        self,
        vendor: Vendor,
        *,
        limit: int,
        cursor: str | None,
        person_id: uuid.UUID | None = None,
    ) -> Page[dict[str, Any]]:
        """Open intentions matched to this vendor, the latest matched first (only one
        person's when the token was issued by that person), JSON-ready."""
        if cursor is None and person_id is None:
            # The first page, which is what a vendor polling its feed reads: a statement
            # built once (building one per request was a tenth of the request).
            rows = self.session.execute(
                _FIRST_PAGE, {"vendor_id": vendor.id, "now": clock.now(), "size": limit + 1}
            ).all()
            found = page_of_rows(
                rows, IntentionMatch.created_at, IntentionMatch.intention_id, limit=limit
            )
            return Page(self._views(vendor, found.data), found.next_cursor)
        stmt = _FEED.where(
            IntentionMatch.vendor_id == vendor.id, IntentionMatch.expires_at > clock.now()
        )
        if person_id is not None:
            stmt = stmt.where(IntentionMatch.person_id == person_id)
        found = newest_first(
            self.session,
            stmt,
            IntentionMatch.created_at,
            IntentionMatch.intention_id,
            limit=limit,
            cursor=cursor,
            plain=True,
        )
        return Page(self._views(vendor, found.data), found.next_cursor)

    def matched(
        self, vendor: Vendor, intention_id: uuid.UUID, person_id: uuid.UUID | None = None
    ) -> dict[str, Any]:
        """One intention of the feed, JSON-ready."""
        stmt = _FEED.where(
            IntentionMatch.vendor_id == vendor.id, IntentionMatch.intention_id == intention_id
        )
        match = self.session.execute(stmt).first()
        if match is None or (person_id is not None and match.person_id != person_id):
            raise NotFound("No such intention in your feed")
        views = self._views(vendor, [match])
        if not views:
            raise NotFound("No such intention in your feed")
        return views[0]

    def _views(self, vendor: Vendor, matches: list[Any]) -> list[dict[str, Any]]:
        """Feed items in their JSON form (see ``MatchedIntentionSchema``): the public view
        of each intention still open, as this vendor's customer_ref sees it."""
        now = clock.now()
        matches = [
            m for m in matches if m.expires_at > now and m.state == "open" and m.open_until > now
        ]
        versions = [(m.intention_id, m.updated_at, m.content) for m in matches]
        public = self.public_views.dumped(versions, self._public_views)
        # An intention erased meanwhile has no public view.
        shown = [m for m in matches if m.intention_id in public]
        disclosed = self._disclosed(vendor, shown)
        return [
            {
                **public[m.intention_id],
                "customer_ref": self.keyring.pseudonym(vendor.id, m.person_id),
                "matched_at": m.created_at.isoformat(),
                "disclosed": disclosed.get(m.intention_id),
            }
            for m in shown
        ]

    def _public_views(self, intention_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
        # Checked again on the rows read here: one withdrawn since the page was read is
        # not shown (by primary key only, for the reason given at _FEED).
        now = clock.now()
        return {
            i.id: self.intentions.public_view(i)
            for i in self.session.execute(
                select(Intention.__table__).where(Intention.id.in_(intention_ids))
            )
            if i.state == "open" and i.expires_at > now
        }

    def _disclosed(self, vendor: Vendor, matches: list[Any]) -> dict[uuid.UUID, dict[str, Any]]:
        """Disclosed profile fields, under each disclosure consent still given; every
        disclosure is in the person's access log, like any profile read."""
        with_consent = {m.consent_id: m for m in matches if m.consent_id}
        if not with_consent:
            return {}
        now = clock.now()
        shown: dict[uuid.UUID, dict[str, Any]] = {}
        with write_transaction(self.session):
            live = self.session.scalars(
                select(Consent).where(
                    Consent.id.in_(list(with_consent)),
                    Consent.state == "given",
                    Consent.expires_at > now,
                )
            )
            profiles = ProfileService(self.session, self.keyring)
            audit = AuditLog(self.session)
            for consent in live:
                match = with_consent[consent.id]
                values = profiles.get(match.person_id).values
                shown[match.intention_id] = {f: values[f] for f in consent.fields if f in values}
                audit.append(
                    match.person_id,
                    "profile.read",
                    vendor=vendor,
                    fields=sorted(shown[match.intention_id]),
                    purpose="ServiceProvision",
                    detail={"intention_id": str(match.intention_id), "via": "intention"},
                )
        return shown
