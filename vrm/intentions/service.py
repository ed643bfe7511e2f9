"""The person's intentions: publish, read, edit while open, withdraw; and their end.

Publishing matches the intention against every subscription through the index (see
``matching``) and writes one feed row per matched vendor in the same transaction. Fields
the intention discloses count as a consent to each vendor it reaches, with a receipt."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vrm import clock
from vrm.audit.service import AuditLog
from vrm.consents.service import ConsentService
from vrm.crypto import Keyring, aad_for
from vrm.db import insert_missing, write_transaction
from vrm.errors import Conflict, NotFound, ValidationFailed
from vrm.events.outbox import Outbox
from vrm.i18n import N_, gettext
from vrm.intentions.matching import Matcher
from vrm.intentions.models import (
    Intention,
    IntentionKeyword,
    IntentionMatch,
    IntentionReach,
    Offer,
)
from vrm.intentions.taxonomy import check_category
from vrm.intentions.values import (
    check_country,
    check_region,
    phrase,
    price_band,
    price_view,
)
from vrm.pagination import Page, newest_first
from vrm.profile.schemas import PROFILE_FIELDS
from vrm.terms.service import TermsService, term_refs
from vrm.vendors.models import Vendor

DEFAULT_DAYS = 30
MAX_DAYS = 365
KEYWORDS_MAX = 20
# What an edit may change; the terms and the disclosure are what consents were given
# under, so they stay as published.
EDITABLE = (
    "title",
    "description",
    "category",
    "keywords",
    "quantity",
    "price",
    "location",
    "wanted_by",
    "expires_at",
)

# A vendor's hold on an intention (a feed row, or an open offer), as it is let go:
# (vendor_id, intention_id, person_id).
Hold = tuple[uuid.UUID, uuid.UUID, uuid.UUID]


# "This intention is <state>", a whole sentence for each state (in French the adjective
# agrees with the noun); a state not listed is named as it is stored.
INTENTION_IS = {
    "open": N_("This intention is open"),
    "withdrawn": N_("This intention is withdrawn"),
    "fulfilled": N_("This intention is fulfilled"),
    "expired": N_("This intention is expired"),
}


def intention_is(state: str) -> str:
    sentence = INTENTION_IS.get(state)
    if sentence is None:
        return gettext("This intention is %(state)s", state=state)
    return gettext(sentence)


@dataclass
class Checked:
    """An intention's input, checked and in stored form."""

    content: dict[str, Any]
    columns: dict[str, Any]
    keywords: list[str]


# Built once: every intention shown to its person counts these.
_REACHED = (
    select(IntentionReach.intention_id, func.count())
    .where(IntentionReach.intention_id.in_(bindparam("ids", expanding=True)))
    .group_by(IntentionReach.intention_id)
)
# An open offer past its validity counts as expired, as it reads everywhere.
_LAPSED = (Offer.state == "open") & (Offer.valid_until <= bindparam("now"))
_OFFER_COUNTS = (
    select(Offer.intention_id, _LAPSED, Offer.state, func.count())
    .where(Offer.intention_id.in_(bindparam("ids", expanding=True)))
    .group_by(Offer.intention_id, _LAPSED, Offer.state)
)


class IntentionService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring
        self.matcher = Matcher(session, keyring)
        self.consents = ConsentService(session, keyring)
        self.audit = AuditLog(session)

    # Publishing and editing

    def publish(self, person_id: uuid.UUID, data: dict[str, Any]) -> Intention:
        now = clock.now()
        checked = self._check(data, published_at=now, creating=True)
        terms = (
            term_refs(data["terms"])
            if data.get("terms") is not None
            else list(TermsService(self.session, self.keyring).of_person(person_id).terms)
        )
        if not terms:
            raise ValidationFailed(gettext("Publish under at least one term"), field="terms")
        disclose = self._disclose(data.get("disclose") or [])
        intention = Intention(
            id=uuid.uuid4(),
            person_id=person_id,
            state="open",
            terms=terms,
            disclose=disclose,
            published_at=now,
            updated_at=now,
            closed_at=None,
            content="",
            **checked.columns,
        )
        intention.content = self._seal(intention.id, checked.content)
        with write_transaction(self.session):
            self.matcher.guard(exclusive=False)
            self.session.add(intention)
            self.session.flush()
            digests = self._index_words(intention, checked)
            matched = self.match_within(intention, self.matcher.vendors_for(intention, digests))
            self.audit.append(
                person_id,
                "intention.published",
                fields=disclose,
                detail={"intention_id": str(intention.id), "matched_vendors": matched},
            )
        return intention

    def edit(
        self, person_id: uuid.UUID, intention_id: uuid.UUID, patch: dict[str, Any]
    ) -> Intention:
        """Change an open intention; its matches follow (a vendor with an open offer on it
        keeps it)."""
        for fixed in ("terms", "disclose"):
            if fixed in patch:
                raise ValidationFailed(
                    gettext(
                        "The %(fixed)s of an intention are fixed when it is published; "
                        "withdraw it and publish again to change them",
                        fixed=fixed,
                    ),
                    field=fixed,
                )
        with write_transaction(self.session):
            self.matcher.guard(exclusive=False)
            intention = self._own(person_id, intention_id, lock=True)
            self._must_be_open(intention)
            merged = {**self.content(intention), **self._input_view(intention), **patch}
            checked = self._check(
                merged,
                published_at=intention.published_at,
                creating=False,
                changed=set(patch),
            )
            now = clock.now()
            for name, value in checked.columns.items():
                setattr(intention, name, value)
            intention.content = self._seal(intention.id, checked.content)
            intention.updated_at = now
            self.session.execute(
                delete(IntentionKeyword).where(IntentionKeyword.intention_id == intention.id)
            )
            self.session.flush()
            digests = self._index_words(intention, checked)
            wanted = set(self.matcher.vendors_for(intention, digests))
            kept_by_offer = set(
                self.session.scalars(
                    select(Offer.vendor_id).where(
                        Offer.intention_id == intention.id, Offer.state == "open"
                    )
                )
            )
            current = {m.vendor_id: m for m in self._matches(intention.id)}
            dropped = [m for v, m in current.items() if v not in wanted and v not in kept_by_offer]
            # It left their feeds: for them it is as good as withdrawn.
            self.announce_gone_within(self.unmatch_within(dropped), "intention.withdrawn")
            self.session.execute(
                update(IntentionMatch)
                .where(IntentionMatch.intention_id == intention.id)
                .values(expires_at=intention.expires_at)
            )
            self.consents.extend_within(
                [
                    m.consent_id
                    for v, m in current.items()
                    if m.consent_id and v in wanted | kept_by_offer
                ],
                intention.expires_at,
            )
            self.match_within(intention, [v for v in wanted if v not in current])
            self.audit.append(
                person_id,
                "intention.edited",
                detail={"intention_id": str(intention.id), "changed": sorted(patch)},
            )
        return intention

    def withdraw(self, person_id: uuid.UUID, intention_id: uuid.UUID) -> Intention:
        with write_transaction(self.session):
            self.matcher.guard(exclusive=False)
            intention = self._own(person_id, intention_id, lock=True)
            self._must_be_open(intention)
            self.close_within(intention, "withdrawn")
        return intention

    def expire_due(self) -> int:
        """Record every open intention past its expiry as expired (the worker's job)."""
        now = clock.now()
        ids = list(
            self.session.scalars(
                select(Intention.id).where(Intention.state == "open", Intention.expires_at <= now)
            )
        )
        closed = 0
        for intention_id in ids:
            with write_transaction(self.session):
                self.matcher.guard(exclusive=False)
                # Several workers may run: each closes what the others have not locked.
                intention = self.session.scalar(
                    select(Intention)
                    .where(Intention.id == intention_id, Intention.state == "open")
                    .with_for_update(skip_locked=True)
                )
                if intention is not None:
                    self.close_within(intention, "expired")
                    closed += 1
        return closed

    def close_within(self, intention: Intention, state: str) -> None:
        """Close the intention: it leaves every feed, its open offers close, and the
        consents its disclosure gave end with it; every vendor that held it is told it
        was withdrawn or expired (a fulfilled one tells no one). Inside the caller's
        transaction."""
        now = clock.now()
        intention.state, intention.closed_at, intention.updated_at = state, now, now
        matches = self._matches(intention.id)
        gone = self.unmatch_within(matches, "expired" if state == "expired" else "withdrawn")
        gone |= self.close_offers_within(Offer.intention_id == intention.id)
        if state in {"withdrawn", "expired"}:
            self.announce_gone_within(gone, f"intention.{state}")
        self.audit.append(
            intention.person_id,
            f"intention.{state}",
            detail={"intention_id": str(intention.id)},
        )

    # Reading

    def page(
        self,
        person_id: uuid.UUID,
        *,
        states: tuple[str, ...] | None = None,
        limit: int,
        cursor: str | None,
    ) -> Page[Intention]:
        stmt = select(Intention).where(Intention.person_id == person_id)
        if states:
            # Open and expired as a reader sees them: an open one past its expiry is expired.
            now = clock.now()
            past = Intention.expires_at <= now
            shown = {
                "open": (Intention.state == "open") & ~past,
                "expired": (Intention.state == "expired") | ((Intention.state == "open") & past),
                "withdrawn": Intention.state == "withdrawn",
                "fulfilled": Intention.state == "fulfilled",
            }
            stmt = stmt.where(or_(*(shown[state] for state in states)))
        found = newest_first(
            self.session, stmt, Intention.published_at, Intention.id, limit=limit, cursor=cursor
        )
        return Page([self._fresh(i) for i in found.data], found.next_cursor)

    def get(self, person_id: uuid.UUID, intention_id: uuid.UUID) -> Intention:
        return self._fresh(self._own(person_id, intention_id))

    def describe(self, intentions: list[Intention]) -> list[dict[str, Any]]:
        """The person's view: content, state, how many vendors it reached, offers."""
        ids = [i.id for i in intentions]
        reached = dict(self.session.execute(_REACHED, {"ids": ids}).all())
        offers: dict[uuid.UUID, dict[str, int]] = {}
        for intention_id, is_lapsed, state, n in self.session.execute(
            _OFFER_COUNTS, {"ids": ids, "now": clock.now()}
        ):
            counted = offers.setdefault(intention_id, {})
            shown = "expired" if is_lapsed else state
            counted[shown] = counted.get(shown, 0) + n
        return [
            {
                **self.public_view(i),
                "state": i.state,
                "disclose": i.disclose,
                "updated_at": i.updated_at,
                "closed_at": i.closed_at,
                "matched_vendors": reached.get(i.id, 0),
                "offers": {
                    "open": offers.get(i.id, {}).get("open", 0),
                    "total": sum(offers.get(i.id, {}).values()),
                },
            }
            for i in intentions
        ]

    def public_view(self, intention: Intention) -> dict[str, Any]:
        """What any vendor the intention reaches may see of it (nothing about the person)."""
        content = self.content(intention)
        price = price_view(intention.currency, intention.price_min, intention.price_max)
        place = content.get("location") or {}
        location = None
        if intention.country or intention.region or place:
            location = {"country": intention.country, "region": intention.region, **place}
        return {
            "id": intention.id,
            "title": content["title"],
            "description": content["description"],
            "category": intention.category,
            "keywords": content["keywords"],
            "quantity": intention.quantity,
            "price": price,
            "location": location,
            "wanted_by": intention.wanted_by,
            "expires_at": intention.expires_at,
            "published_at": intention.published_at,
            "terms": intention.terms,
        }

    def content(self, intention: Intention) -> dict[str, Any]:
        aad = aad_for("intentions", "content", intention.id)
        return self.keyring.decrypt_json(intention.content, aad)  # type: ignore[no-any-return]

    # Internals

    def _seal(self, intention_id: uuid.UUID, content: dict[str, Any]) -> str:
        return self.keyring.encrypt_json(content, aad_for("intentions", "content", intention_id))

    def _input_view(self, intention: Intention) -> dict[str, Any]:
        """The stored intention in the shape of an edit's input, to merge a patch into."""
        view = self.public_view(intention)
        price = view["price"]
        if price:
            price = {
                "currency": price["currency"],
                **{k: Decimal(price[k]) for k in ("min", "max") if price[k] is not None},
            }
        return {**{k: view[k] for k in EDITABLE if k != "price"}, "price": price}

    def _check(
        self,
        data: dict[str, Any],
        *,
        published_at: datetime,
        creating: bool,
        changed: set[str] | None = None,
    ) -> Checked:
        def fresh(name: str) -> bool:
            return creating or name in (changed or set())

        now = clock.now()
        title = (data.get("title") or "").strip()
        if not title:
            raise ValidationFailed(gettext("Give the intention a title"), field="title")
        category = check_category(data.get("category") or "")
        keywords = []
        for position, keyword in enumerate(data.get("keywords") or []):
            if not phrase(keyword):
                raise ValidationFailed(
                    gettext("A keyword needs a letter or digit"), field=f"keywords.{position}"
                )
            keywords.append(phrase(keyword))
        keywords = sorted(set(keywords))
        if len(keywords) > KEYWORDS_MAX:
            raise ValidationFailed(
                gettext("At most %(most)s keywords", most=KEYWORDS_MAX), field="keywords"
            )
        columns: dict[str, Any] = {
            "category": category,
            "quantity": data.get("quantity") or 1,
            "currency": None,
            "price_min": None,
            "price_max": None,
            "country": None,
            "region": None,
        }
        columns["currency"], columns["price_min"], columns["price_max"] = price_band(
            data.get("price")
        )
        location = data.get("location") or {}
        place: dict[str, Any] = {}
        if location:
            region = location.get("region")
            country = location.get("country")
            if country:
                country = check_country(country, field="location.country")
            if region:
                region = check_region(region, field="location.region")
                if len(region) == 2:
                    raise ValidationFailed(
                        gettext(
                            "A region is an ISO 3166-2 code such as FR-IDF; a country alone "
                            "goes in the country"
                        ),
                        field="location.region",
                    )
                if country and region[:2] != country:
                    raise ValidationFailed(
                        gettext("%(region)s is not in %(country)s", region=region, country=country),
                        field="location.region",
                    )
                country = region[:2]
            columns["country"], columns["region"] = country or None, region or None
            point = location.get("point")
            radius = location.get("radius_km")
            if (point is None) != (radius is None):
                raise ValidationFailed(
                    gettext("A point needs a radius, and a radius a point"),
                    field="location.radius_km" if point else "location.point",
                )
            place = {
                k: location[k]
                for k in ("city", "postal_code", "point", "radius_km")
                if location.get(k) is not None
            }
        wanted_by: date | None = data.get("wanted_by")
        if wanted_by is not None and fresh("wanted_by") and wanted_by < now.date():
            raise ValidationFailed(gettext("The date has passed"), field="wanted_by")
        columns["wanted_by"] = wanted_by
        latest = published_at + timedelta(days=MAX_DAYS)
        expires_at: datetime | None = data.get("expires_at")
        if expires_at is None:
            expires_at = published_at + timedelta(days=DEFAULT_DAYS)
        elif fresh("expires_at"):
            if expires_at.tzinfo is None:
                raise ValidationFailed(
                    gettext("Give a time zone (for example Z)"), field="expires_at"
                )
            if expires_at <= now:
                raise ValidationFailed(
                    gettext("The expiry must be in the future"), field="expires_at"
                )
            if expires_at > latest:
                raise ValidationFailed(
                    gettext(
                        "An intention lasts at most %(most)s days from publication", most=MAX_DAYS
                    ),
                    field="expires_at",
                )
        columns["expires_at"] = expires_at
        content = {
            "title": title,
            "description": data.get("description") or "",
            "keywords": keywords,
            "location": place or None,
        }
        return Checked(content, columns, keywords)

    @staticmethod
    def _disclose(fields: list[str]) -> list[str]:
        for position, name in enumerate(fields):
            if name not in PROFILE_FIELDS:
                raise ValidationFailed(
                    gettext("%(name)s is not a profile field", name=repr(name)),
                    field=f"disclose.{position}",
                )
        return sorted(set(fields))

    def _index_words(self, intention: Intention, checked: Checked) -> set[str]:
        digests = self.matcher.intention_digests(checked.content["title"], checked.keywords)
        insert_missing(
            self.session,
            IntentionKeyword,
            [{"intention_id": intention.id, "digest": d} for d in sorted(digests)],
        )
        return digests

    def match_within(
        self,
        intention: Intention,
        vendor_ids: list[uuid.UUID],
        matched_at: datetime | None = None,
    ) -> int:
        """Write the feed rows, and the disclosure consents when the intention discloses."""
        if not vendor_ids:
            return 0
        now = matched_at or clock.now()
        consent_of: dict[uuid.UUID, uuid.UUID] = {}
        if intention.disclose:
            consent_of = self.disclose_within(intention, vendor_ids)
        self.count_reached(intention.id, vendor_ids)
        self.write_matches_within(
            {intention.id: intention},
            [
                {
                    "vendor_id": vendor_id,
                    "intention_id": intention.id,
                    "person_id": intention.person_id,
                    "consent_id": consent_of.get(vendor_id),
                    "expires_at": intention.expires_at,
                    "created_at": now,
                }
                for vendor_id in vendor_ids
            ],
        )
        return len(vendor_ids)

    def write_matches_within(
        self, intentions: dict[uuid.UUID, Intention], rows: list[dict[str, Any]]
    ) -> None:
        """Write feed rows, skipping any already there, and send ``intention.matched``
        for each row written, in the order of ``rows``. Only what matching used goes in
        the event; the vendor reads the rest from its feed."""
        if not rows:
            return
        table = IntentionMatch.__table__
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        written = {
            (vendor_id, intention_id)
            for vendor_id, intention_id in self.session.execute(
                dialect.insert(table)
                .on_conflict_do_nothing()
                .returning(table.c.vendor_id, table.c.intention_id),
                rows,
            )
        }
        outbox = Outbox(self.session, self.keyring)
        for row in rows:
            if (row["vendor_id"], row["intention_id"]) not in written:
                continue
            intention = intentions[row["intention_id"]]
            outbox.emit(
                row["vendor_id"],
                "intention.matched",
                {
                    "intention_id": intention.id,
                    "customer_ref": self.keyring.pseudonym(row["vendor_id"], intention.person_id),
                    "category": intention.category,
                    "expires_at": row["expires_at"],
                    "matched_at": row["created_at"],
                },
                person_id=intention.person_id,
            )

    def disclose_within(
        self, intention: Intention, vendor_ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, uuid.UUID]:
        """The disclosed fields go, as a consent with a receipt, to each reached vendor
        that accepts the terms the intention is published under; the others see the
        intention without them. Each proffer is an agreement record, as anywhere."""
        terms = TermsService(self.session, self.keyring)
        # No longer than the intention, nor than the person lets any consent last.
        longest = clock.now() + timedelta(
            days=terms.of_person(intention.person_id).consent_max_days
        )
        until = min(intention.expires_at, longest)
        consent_of: dict[uuid.UUID, uuid.UUID] = {}
        for vendor in self.session.scalars(select(Vendor).where(Vendor.id.in_(vendor_ids))):
            agreement = terms.proffer(
                intention.person_id,
                vendor,
                self.keyring.pseudonym(vendor.id, intention.person_id),
                terms=intention.terms,
            )
            if agreement.status != "accepted":
                continue
            consent = self.consents.open_within(
                intention.person_id,
                vendor,
                intention.disclose,
                origin="intention",
                terms=intention.terms,
                expires_at=until,
                agreement=agreement,
            )
            consent_of[vendor.id] = consent.id
        self.session.flush()
        return consent_of

    def close_offers_within(self, *where: Any) -> set[Hold]:
        """Close the open offers ``where`` says: what they answer is gone, or their
        vendor is blocked. Inside the caller's transaction; returns what was let go."""
        closed = self.session.execute(
            update(Offer)
            .where(Offer.state == "open", *where)
            .values(state="closed", updated_at=clock.now())
            .returning(Offer.vendor_id, Offer.intention_id, Offer.person_id)
        )
        return {(vendor, intention, person) for vendor, intention, person in closed}

    def announce_gone_within(self, gone: set[Hold], event_type: str) -> None:
        """Tell each vendor an intention it held is no longer there for it."""
        outbox = Outbox(self.session, self.keyring)
        for vendor_id, intention_id, person_id in sorted(gone):
            outbox.emit(
                vendor_id,
                event_type,
                {
                    "intention_id": intention_id,
                    "customer_ref": self.keyring.pseudonym(vendor_id, person_id),
                },
                person_id=person_id,
            )

    def count_reached(self, intention_id: uuid.UUID, vendor_ids: list[uuid.UUID]) -> None:
        insert_missing(
            self.session,
            IntentionReach,
            [{"intention_id": intention_id, "vendor_id": v} for v in vendor_ids],
        )

    def _matches(self, intention_id: uuid.UUID) -> list[IntentionMatch]:
        return list(
            self.session.scalars(
                select(IntentionMatch).where(IntentionMatch.intention_id == intention_id)
            )
        )

    def unmatch_within(
        self, matches: list[IntentionMatch], consent_state: str = "withdrawn"
    ) -> set[Hold]:
        """Take the intention out of these vendors' feeds, ending disclosure consents;
        returns what was let go (the caller decides what the vendors are told)."""
        if not matches:
            return set()
        gone = {(m.vendor_id, m.intention_id, m.person_id) for m in matches}
        self.consents.end_within([m.consent_id for m in matches if m.consent_id], consent_state)
        for match in matches:
            self.session.delete(match)
        self.session.flush()
        return gone

    def _own(self, person_id: uuid.UUID, intention_id: uuid.UUID, lock: bool = False) -> Intention:
        stmt = select(Intention).where(
            Intention.id == intention_id, Intention.person_id == person_id
        )
        intention = self.session.scalar(stmt.with_for_update() if lock else stmt)
        if intention is None:
            raise NotFound(gettext("No such intention"))
        return intention

    def _must_be_open(self, intention: Intention) -> None:
        if intention.state == "open" and intention.expires_at <= clock.now():
            self.close_within(intention, "expired")
            # The expiry is recorded even though the change asked for is refused.
            self.session.commit()
        if intention.state != "open":
            raise Conflict(intention_is(intention.state), field="state")

    def _fresh(self, intention: Intention) -> Intention:
        """Show an intention past its expiry as expired before the worker records it."""
        if intention.state == "open" and intention.expires_at <= clock.now():
            self.session.expunge(intention)
            intention.state = "expired"
        return intention
