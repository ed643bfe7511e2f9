"""A realistic data set, written fast: bulk inserts through SQLAlchemy Core, with every
value stored as the services would store it (emails and contents encrypted under the
keyring with their AAD, tokens and client secrets as SHA-256 digests, subscriptions filed
under the same index keys, matches found by the same probe keys).

People who never log in get a placeholder password hash instead of argon2 (hashing 10,000
passwords would take minutes and measure nothing). The few people and vendors the
workloads act as are completed through the services themselves (profiles, consents with
signed receipts, vendor terms, webhook endpoints)."""

from __future__ import annotations

import random
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from vrm import clock
from vrm.accounts.models import Person, PersonalToken
from vrm.consents.service import ConsentService
from vrm.crypto import Keyring, aad_for, new_token, token_digest
from vrm.events.outbox import Outbox
from vrm.events.webhooks import WebhookService
from vrm.intentions.matching import index_keys, probe_keys
from vrm.intentions.models import (
    Intention,
    IntentionKeyword,
    IntentionMatch,
    IntentionReach,
    Subscription,
    SubscriptionKey,
)
from vrm.intentions.taxonomy import CATEGORIES, lineage
from vrm.intentions.values import phrase, phrases, region_lineage
from vrm.profile.service import ProfileService
from vrm.terms.roster import DEFAULT_TERMS, ROSTER
from vrm.terms.service import TermsService, term_refs
from vrm.vendors.grants import ACCESS_TOKEN_PREFIX
from vrm.vendors.models import OAuthClient, OAuthToken, Vendor
from vrm.vendors.scopes import ALL as ALL_SCOPES
from vrm.vendors.service import CLIENT_ID_PREFIX, CLIENT_SECRET_PREFIX

PLACEHOLDER_HASH = "!bench-placeholder: this person never logs in"
# Countries and some of their first-level subdivisions (ISO 3166-2).
PLACES: dict[str, list[str]] = {
    "FR": ["FR-IDF", "FR-ARA", "FR-NOR", "FR-OCC"],
    "DE": ["DE-BW", "DE-BY", "DE-BE", "DE-HH"],
    "ES": ["ES-MD", "ES-CT", "ES-GA", "ES-VC"],
    "IT": ["IT-25", "IT-34", "IT-62", "IT-72"],
    "NL": ["NL-NH", "NL-ZH", "NL-UT"],
    "BE": ["BE-VLG", "BE-WAL", "BE-BRU"],
    "PT": ["PT-11", "PT-13", "PT-03"],
    "SE": ["SE-AB", "SE-O", "SE-M"],
    "PL": ["PL-14", "PL-12", "PL-02"],
    "AT": ["AT-9", "AT-6", "AT-5"],
    "IE": ["IE-L", "IE-M"],
    "DK": ["DK-84", "DK-82"],
}
COUNTRIES = sorted(PLACES)
SYLLABLES = "ka lo mi ru ze ta no vi sa pe do lu ra ne fi go be ti xo ma".split()
COLOURS = "red blue black white green silver grey orange yellow navy".split()
CHUNK = 5_000


@dataclass
class Sizes:
    persons: int = 10_000
    vendors: int = 1_000
    subscriptions: int = 100_000
    intentions: int = 100_000
    publishers: int = 40  # people with a personal token who publish under load
    feed_vendors: int = 20  # vendors with an access token reading their feed
    readers: int = 200  # people who consented to the first feed vendor reading their profile


@dataclass
class Credentials:
    """What the load generator authenticates with (secrets shown once, as to a user)."""

    client_id: str = ""
    client_secret: str = ""
    feed_tokens: list[str] = field(default_factory=list)
    feed_sizes: list[int] = field(default_factory=list)  # each token's first page, at most 50
    profile_token: str = ""
    customer_refs: list[str] = field(default_factory=list)
    personal_tokens: list[str] = field(default_factory=list)
    seed_seconds: float = 0.0
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _chunks(rows: Iterable[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == CHUNK:
            yield batch
            batch = []
    if batch:
        yield batch


def _bulk(session: Session, model: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Plain executemany on the table (the ORM's bulk path batches far smaller)."""
    count = 0
    connection = session.connection()
    for batch in _chunks(rows):
        connection.execute(model.__table__.insert(), batch)
        count += len(batch)
    return count


def _bulk_pairs(session: Session, model: Any, rows: list[tuple[uuid.UUID, str]]) -> int:
    """The largest table (ten rows an intention), straight to the driver: a (uuid, text)
    pair needs no SQLAlchemy type processing, only the uuid in the dialect's form."""
    connection = session.connection()
    table = model.__table__
    columns = ", ".join(c.name for c in table.columns)
    if connection.dialect.name == "postgresql":
        # COPY: an order of magnitude quicker than INSERTs for a million rows.
        cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:
            for pair in rows:
                copy.write_row(pair)
        return len(rows)
    sql = f"INSERT INTO {table.name} ({columns}) VALUES (?, ?)"
    for start in range(0, len(rows), CHUNK * 4):
        connection.exec_driver_sql(sql, [(a.hex, b) for a, b in rows[start : start + CHUNK * 4]])
    return len(rows)


def _fast_sqlite(dbapi_connection: Any, _record: Any) -> None:
    """Seeding only: a machine that stops mid-seed loses nothing worth keeping."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA cache_size=-262144")
    cursor.close()


class Seeder:
    def __init__(self, engine: Engine, keyring: Keyring, sizes: Sizes, seed: int = 20261123):
        self.engine = engine
        if engine is not None and engine.dialect.name == "sqlite":
            event.listen(engine, "connect", _fast_sqlite)
        self.sessions = sessionmaker(engine, expire_on_commit=False)
        self.keyring = keyring
        self.sizes = sizes
        self.rng = random.Random(seed)
        self.now = clock.now()
        self.mids = sorted(p for p in CATEGORIES if p.count("/") == 1)
        self.leaves = {
            m: sorted(p for p in CATEGORIES if p.startswith(m + "/")) or [m] for m in self.mids
        }
        self.vocab = {m: [self._word() for _ in range(60)] for m in self.mids}
        self._digests: dict[str, str] = {}

    def _word(self) -> str:
        return "".join(self.rng.choice(SYLLABLES) for _ in range(self.rng.randint(2, 3)))

    def digest(self, text: str) -> str:
        found = self._digests.get(text)
        if found is None:
            found = self._digests[text] = self.keyring.blind_index("intention-keyword", text)
        return found

    def run(self) -> Credentials:
        started = time.perf_counter()
        creds = Credentials()
        with self.sessions() as session, session.begin():
            persons = self._persons(session, creds)
            vendors = self._vendors(session, creds)
            subs = self._subscriptions(session, vendors, creds)
            self._intentions(session, persons, subs, creds)
            self._tokens(session, persons, vendors, creds)
        self._readers(persons, vendors[0], creds)
        if self.engine.dialect.name == "postgresql":
            # What autovacuum would have done by now on a live database: without
            # statistics on freshly copied tables the planner guesses.
            with self.engine.connect() as connection:
                connection.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
                    "ANALYZE"
                )
        else:
            # The seed is one transaction, so the whole data set sits in the write-ahead
            # log; a live database checkpoints as it goes. Left there, every read looks
            # pages up in a log of hundreds of MiB, and the first write of a workload pays
            # for copying it all back: both made the SQLite figures swing four-fold.
            with self.engine.connect() as connection:
                connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
        creds.seed_seconds = round(time.perf_counter() - started, 1)
        return creds

    # People and vendors

    def _persons(self, session: Session, creds: Credentials) -> list[uuid.UUID]:
        ids = [uuid.uuid4() for _ in range(self.sizes.persons)]

        def rows() -> Iterator[dict[str, Any]]:
            for n, pid in enumerate(ids):
                email = f"person{n}@bench.example"
                yield {
                    "id": pid,
                    "email": self.keyring.encrypt(email, aad_for("persons", "email", pid)),
                    "email_index": self.keyring.blind_index("email", email),
                    "password_hash": PLACEHOLDER_HASH,
                    "created_at": self.now,
                    "updated_at": self.now,
                }

        creds.counts["persons"] = _bulk(session, Person, rows())
        return ids

    def _vendors(self, session: Session, creds: Credentials) -> list[uuid.UUID]:
        ids = [uuid.uuid4() for _ in range(self.sizes.vendors)]
        _bulk(
            session,
            Vendor,
            (
                {"id": v, "name": f"Bench vendor {n}", "created_at": self.now}
                for n, v in enumerate(ids)
            ),
        )
        self.client_pk: dict[uuid.UUID, uuid.UUID] = {}
        clients = []
        for n, vendor_id in enumerate(ids):
            secret = new_token(CLIENT_SECRET_PREFIX)
            client_id = new_token(CLIENT_ID_PREFIX)[:40]
            if n == 0:
                creds.client_id, creds.client_secret = client_id, secret
            self.client_pk[vendor_id] = uuid.uuid4()
            clients.append(
                {
                    "id": self.client_pk[vendor_id],
                    "vendor_id": vendor_id,
                    "client_id": client_id,
                    "secret_digest": token_digest(secret),
                    "name": f"Bench vendor {n}",
                    "redirect_uris": [],
                    "grant_types": ["client_credentials"],
                    "scope": ALL_SCOPES,
                    "token_endpoint_auth_method": "client_secret_basic",
                    "created_at": self.now,
                }
            )
        creds.counts["vendors"] = _bulk(session, OAuthClient, clients)
        return ids

    # Subscriptions: each vendor sells one kind of thing (a mid-level category) in one
    # country; most of its subscriptions name products by keyword, the rest a category
    # and a region. A publication reaches a handful of vendors, as in a real market.

    def _subscriptions(
        self, session: Session, vendors: list[uuid.UUID], creds: Credentials
    ) -> list[dict[str, Any]]:
        rng = self.rng
        self.speciality = {v: (rng.choice(self.mids), rng.choice(COUNTRIES)) for v in vendors}
        subs: list[dict[str, Any]] = []
        keys: list[dict[str, Any]] = []
        for n in range(self.sizes.subscriptions):
            vendor_id = vendors[n % len(vendors)]
            mid, country = self.speciality[vendor_id]
            currency = "EUR" if rng.random() < 0.4 else None
            low = high = None
            if rng.random() < 0.3:
                low = rng.randrange(0, 50_000, 1_000)
                high = low + rng.randrange(10_000, 500_000, 10_000)
            if rng.random() < 0.6:
                words = sorted({phrase(w) for w in rng.sample(self.vocab[mid], rng.randint(1, 2))})
                categories, regions = [mid], [country]
            else:
                words = []
                categories = [rng.choice(self.leaves[mid])]
                regions = [rng.choice(PLACES[country])]
            sub_id = uuid.uuid4()
            subs.append(
                {
                    "id": sub_id,
                    "vendor_id": vendor_id,
                    "categories": categories,
                    "regions": regions,
                    "keywords": words,
                    "has_keywords": bool(words),
                    "currency": currency,
                    "price_min": low,
                    "price_max": high,
                    "created_at": self.now - timedelta(days=60, seconds=n),
                }
            )
            digests = [self.digest(w) for w in words]
            for key in index_keys(categories, regions, digests, currency):
                keys.append({"key": key, "subscription_id": sub_id})
        creds.counts["subscriptions"] = _bulk(session, Subscription, subs)
        creds.counts["subscription_keys"] = _bulk(session, SubscriptionKey, keys)
        return subs

    # Intentions, with their matches written once, as publishing does

    def _intentions(
        self,
        session: Session,
        persons: list[uuid.UUID],
        subs: list[dict[str, Any]],
        creds: Credentials,
    ) -> None:
        rng = self.rng
        filed: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for sub in subs:
            digests = [self.digest(w) for w in sub["keywords"]]
            for key in index_keys(sub["categories"], sub["regions"], digests, sub["currency"]):
                filed[key].append(sub)
        terms = term_refs(DEFAULT_TERMS)
        intentions: list[dict[str, Any]] = []
        keywords: list[tuple[uuid.UUID, str]] = []
        matches: list[dict[str, Any]] = []
        reach: list[dict[str, Any]] = []
        for n in range(self.sizes.intentions):
            mid = rng.choice(self.mids)
            category = rng.choice(self.leaves[mid])
            country = rng.choice(COUNTRIES)
            region = rng.choice(PLACES[country]) if rng.random() < 0.7 else None
            words = rng.sample(self.vocab[mid], rng.randint(1, 3))
            title = f"{CATEGORIES[category]} {words[0]} {rng.choice(COLOURS)}"
            currency = "EUR" if rng.random() < 0.8 else None
            low = rng.randrange(1_000, 100_000, 500) if currency else None
            high = low + rng.randrange(5_000, 200_000, 500) if low is not None else None
            published = self.now - timedelta(days=20) + timedelta(seconds=n * 17 % 1_700_000)
            intention_id = uuid.uuid4()
            person_id = persons[n % len(persons)]
            content = {
                "title": title,
                "description": f"Looking for {title.lower()}, delivered or collected.",
                "keywords": sorted({phrase(w) for w in words}),
                "location": {"city": "Bench City"} if region else None,
            }
            row = {
                "id": intention_id,
                "person_id": person_id,
                "state": "open",
                "category": category,
                "content": self.keyring.encrypt_json(
                    content, aad_for("intentions", "content", intention_id)
                ),
                "quantity": 1,
                "currency": currency,
                "price_min": low,
                "price_max": high,
                "country": country,
                "region": region,
                "wanted_by": None,
                "terms": terms,
                "disclose": [],
                "published_at": published,
                "expires_at": published + timedelta(days=30),
                "updated_at": published,
                "closed_at": None,
            }
            intentions.append(row)
            found = phrases(title)
            for word in content["keywords"]:
                found |= phrases(word) | {phrase(word)}
            digests = sorted({self.digest(p) for p in found if p})
            keywords.extend((intention_id, d) for d in digests)
            for vendor_id in self._vendors_for(SimpleNamespace(**row), digests, filed):
                matches.append(
                    {
                        "vendor_id": vendor_id,
                        "intention_id": intention_id,
                        "person_id": person_id,
                        "consent_id": None,
                        "expires_at": row["expires_at"],
                        "created_at": published,
                    }
                )
                reach.append({"intention_id": intention_id, "vendor_id": vendor_id})
        creds.counts["intentions"] = _bulk(session, Intention, intentions)
        creds.counts["intention_keywords"] = _bulk_pairs(session, IntentionKeyword, keywords)
        creds.counts["intention_matches"] = _bulk(session, IntentionMatch, matches)
        _bulk(session, IntentionReach, reach)
        per_vendor: dict[uuid.UUID, int] = defaultdict(int)
        for match in matches:
            per_vendor[match["vendor_id"]] += 1
        self.matched = per_vendor

    @staticmethod
    def _vendors_for(
        intention: Any, digests: list[str], filed: dict[str, list[dict[str, Any]]]
    ) -> set[uuid.UUID]:
        """``Matcher.vendors_for`` over the in-memory index (same keys, same checks)."""
        categories = set(lineage(intention.category))
        places = set(region_lineage(intention.country, intention.region))
        found = set()
        for key in probe_keys(intention, digests):
            for sub in filed.get(key, ()):
                if intention.price_max is not None and (
                    sub["price_min"] is not None and sub["price_min"] > intention.price_max
                ):
                    continue
                if intention.price_min is not None and (
                    sub["price_max"] is not None and sub["price_max"] < intention.price_min
                ):
                    continue
                if sub["has_keywords"] and (
                    (sub["categories"] and not categories & set(sub["categories"]))
                    or (sub["regions"] and not places & set(sub["regions"]))
                ):
                    continue
                found.add(sub["vendor_id"])
        return found

    # Credentials for the load generator

    def _tokens(
        self,
        session: Session,
        persons: list[uuid.UUID],
        vendors: list[uuid.UUID],
        creds: Credentials,
    ) -> None:
        # The vendors with the fullest feeds read them (most have more than a page).
        readers = sorted(vendors, key=lambda v: -self.matched.get(v, 0))[: self.sizes.feed_vendors]
        self.profile_vendor = readers[0]
        rows = []
        for vendor_id in readers:
            secret = new_token(ACCESS_TOKEN_PREFIX)
            creds.feed_tokens.append(secret)
            creds.feed_sizes.append(min(50, self.matched.get(vendor_id, 0)))
            rows.append(
                {
                    "id": uuid.uuid4(),
                    "client_pk": self.client_pk[vendor_id],
                    "person_id": None,
                    "scope": ALL_SCOPES,
                    "grant_scope": ALL_SCOPES,
                    "access_digest": token_digest(secret),
                    "refresh_digest": None,
                    "family_id": uuid.uuid4(),
                    "code_id": None,
                    "issued_at": self.now,
                    # Longer than the usual hour, so a long run never sees it expire.
                    "access_expires_at": self.now + timedelta(days=2),
                    "refresh_expires_at": None,
                    "revoked_at": None,
                    "rotated_at": None,
                }
            )
        creds.profile_token = creds.feed_tokens[0]
        _bulk(session, OAuthToken, rows)
        tokens = []
        for person_id in persons[: self.sizes.publishers]:
            secret = new_token("vrm_pat_")
            creds.personal_tokens.append(secret)
            token_id = uuid.uuid4()
            tokens.append(
                {
                    "id": token_id,
                    "person_id": person_id,
                    "name": self.keyring.encrypt(
                        "bench", aad_for("personal_tokens", "name", token_id)
                    ),
                    "digest": token_digest(secret),
                    "hint": secret[:12],
                    "created_at": self.now,
                    "expires_at": None,
                    "last_used_at": None,
                    "revoked_at": None,
                }
            )
        _bulk(session, PersonalToken, tokens)

    def _readers(self, persons: list[uuid.UUID], _first: uuid.UUID, creds: Credentials) -> None:
        """People who gave the profile vendor a consent, through the services (profile
        values encrypted, agreement and consent receipts signed)."""
        vendor_id = self.profile_vendor
        with self.sessions() as session:
            TermsService(session, self.keyring).set_for_vendor(vendor_id, [t.code for t in ROSTER])
            profiles = ProfileService(session, self.keyring)
            consents = ConsentService(session, self.keyring)
            for n, person_id in enumerate(persons[-self.sizes.readers :]):
                profiles.update(
                    person_id,
                    {
                        "given_name": f"Reader{n}",
                        "family_name": "Bench",
                        "contact_email": f"reader{n}@bench.example",
                        "phone": "+33612345678",
                        "locale": "fr-FR",
                    },
                )
                consents.grant(
                    person_id,
                    vendor_id,
                    ["given_name", "family_name", "contact_email", "phone"],
                    ["ServiceProvision"],
                    days=365,
                )
                creds.customer_refs.append(self.keyring.pseudonym(vendor_id, person_id))


def add_webhooks(
    engine: Engine, keyring: Keyring, settings: dict[str, Any], url: str, vendors: int
) -> list[tuple[uuid.UUID, str]]:
    """A webhook endpoint at ``url`` for the first ``vendors`` vendors (by name order);
    returns (vendor_id, signing secret) pairs."""
    from sqlalchemy import select

    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions() as session:
        ids = list(session.scalars(select(Vendor.id).order_by(Vendor.name).limit(vendors)))
        service = WebhookService(session, keyring, settings)
        return [(v, service.create(v, url)[1]) for v in ids]


def emit_events(
    engine: Engine, keyring: Keyring, vendor_ids: list[uuid.UUID], count: int
) -> list[uuid.UUID]:
    """``count`` events spread over the vendors, in one commit (the outbox writes their
    deliveries)."""
    from vrm.db import write_transaction

    sessions = sessionmaker(engine, expire_on_commit=False)
    ids = []
    with sessions() as session, write_transaction(session):
        outbox = Outbox(session, keyring)
        for n in range(count):
            ids.append(_emit_one(outbox, vendor_ids[n % len(vendor_ids)], n))
    return ids


def _emit_one(outbox: Outbox, vendor_id: uuid.UUID, n: int) -> uuid.UUID:
    now = clock.now()
    return outbox.emit(
        vendor_id,
        "intention.matched",
        {
            "intention_id": uuid.uuid4(),
            "customer_ref": f"cus_bench{n}",
            "category": "sports/cycling/bicycles",
            "expires_at": now + timedelta(days=30),
            "matched_at": now,
        },
    )


def emit_paced(
    engine: Engine,
    keyring: Keyring,
    vendor_ids: list[uuid.UUID],
    rate: float,
    seconds: float,
) -> dict[str, float]:
    """Events at ``rate`` per second for ``seconds``, each its own commit; returns each
    event id (as a string) with the wall-clock time its commit returned."""
    from vrm.db import write_transaction

    sessions = sessionmaker(engine, expire_on_commit=False)
    committed: dict[str, float] = {}
    start = time.monotonic()
    n = 0
    while (due := start + n / rate) < start + seconds:
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        with sessions() as session, write_transaction(session):
            event_id = _emit_one(Outbox(session, keyring), vendor_ids[n % len(vendor_ids)], n)
        committed[str(event_id)] = time.time()
        n += 1
    return committed


def now_utc() -> datetime:
    return clock.now()


def publish_bodies(count: int, seed: int = 20261123) -> list[dict[str, Any]]:
    """Intentions to publish under load, from the same vocabulary as the seeded
    subscriptions (so they match a few vendors, as seeded ones do)."""
    seeder = Seeder.__new__(Seeder)
    seeder.rng = random.Random(seed)
    seeder.mids = sorted(p for p in CATEGORIES if p.count("/") == 1)
    seeder.leaves = {
        m: sorted(p for p in CATEGORIES if p.startswith(m + "/")) or [m] for m in seeder.mids
    }
    seeder.vocab = {m: [seeder._word() for _ in range(60)] for m in seeder.mids}
    rng = random.Random(seed + 1)
    bodies = []
    for _ in range(count):
        mid = rng.choice(seeder.mids)
        category = rng.choice(seeder.leaves[mid])
        country = rng.choice(COUNTRIES)
        words = rng.sample(seeder.vocab[mid], 2)
        title = f"{CATEGORIES[category]} {words[0]} {rng.choice(COLOURS)}"
        low = rng.randrange(10, 1_000)
        bodies.append(
            {
                "title": title,
                "description": f"Looking for {title.lower()}, delivered or collected.",
                "category": category,
                "keywords": words,
                "price": {"currency": "EUR", "min": f"{low}.00", "max": f"{low * 2}.00"},
                "location": {"country": country, "region": rng.choice(PLACES[country])},
            }
        )
    return bodies
