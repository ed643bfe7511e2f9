"""Webhook delivery: claim due deliveries, send them signed, record what came back.

At least once, never the same claim twice: a claim sets a ``claim_token`` and leases the
delivery until ``next_attempt_at``. On PostgreSQL claims take their rows with
``FOR UPDATE SKIP LOCKED``, so workers never wait for or share a row; on SQLite the claim
is one ``BEGIN IMMEDIATE`` transaction. A result is recorded only by the claim that still
holds the lease, so a worker that was too slow (or killed) cannot overwrite its successor.

Fairness: each endpoint has at most ``WEBHOOK_ENDPOINT_CONCURRENCY`` deliveries in flight
across all workers, so a hanging endpoint holds a few threads for one timeout and never
the whole pool; other endpoints keep being served."""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpcore
import httpx
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from vrm import clock
from vrm.crypto import Keyring, aad_for
from vrm.db import write_transaction
from vrm.events import signing
from vrm.events.models import Delivery, DeliveryAttempt, OutboxEvent, WebhookEndpoint
from vrm.events.urls import UnsafeDestination, public_addresses

log = logging.getLogger(__name__)

# Retries: 10 s, 30 s, 90 s ... tripling up to a day, each +-20 %; the twelfth failed
# attempt, about three days after the first, dead-letters the delivery.
MAX_ATTEMPTS = 12
FIRST_RETRY_S = 10
RETRY_FACTOR = 3
LONGEST_WAIT_S = 86_400
JITTER = 0.2
USER_AGENT = "VRM-Webhooks/1"
BODY_DRAIN_LIMIT = 64 * 1024


def retry_delay(attempt: int, rng: Callable[[float, float], float] = random.uniform) -> timedelta:
    """How long to wait after failed attempt number ``attempt`` (1-based)."""
    base = min(LONGEST_WAIT_S, FIRST_RETRY_S * RETRY_FACTOR ** (attempt - 1))
    return timedelta(seconds=base * rng(1 - JITTER, 1 + JITTER))


@dataclass(frozen=True)
class Job:
    """One claimed attempt, with everything needed to send it."""

    delivery_id: uuid.UUID
    claim_token: uuid.UUID
    attempt: int
    message_id: str
    endpoint_id: uuid.UUID
    url: str
    secrets: list[str]
    body: bytes


@dataclass(frozen=True)
class Outcome:
    started_at: datetime
    duration_ms: int
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class DeliveryQueue:
    """Claims and results, each its own short transaction."""

    def __init__(self, sessions: sessionmaker[Session], keyring: Keyring, settings: dict[str, Any]):
        self.sessions = sessions
        self.keyring = keyring
        self.lease = timedelta(seconds=settings["WEBHOOK_LEASE_S"])
        self.per_endpoint = settings["WEBHOOK_ENDPOINT_CONCURRENCY"]
        self.disable_after = timedelta(hours=settings["WEBHOOK_DISABLE_AFTER_HOURS"])

    def claim(self, limit: int) -> list[Job]:
        """Lease up to ``limit`` due deliveries, oldest due first, few per endpoint."""
        if limit <= 0:
            return []
        with self.sessions() as session:
            # Look before locking: an idle worker polls without ever taking a write lock.
            # One snapshot for both reads (PostgreSQL's default gives each statement its
            # own), or a claim committed between them would escape the endpoint's cap.
            if session.get_bind().dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            now = clock.now()
            chosen = self._candidates(session, now, limit)
            if not chosen:
                return []
        with self.sessions() as session, write_transaction(session):
            # Rows claimed meanwhile by another worker are locked (skipped) or no longer
            # due (PostgreSQL re-checks the condition on the committed row).
            rows = list(
                session.scalars(
                    select(Delivery)
                    .where(
                        Delivery.id.in_(chosen),
                        Delivery.state == "pending",
                        Delivery.next_attempt_at <= now,
                    )
                    .with_for_update(skip_locked=True)
                )
            )
            for delivery in rows:
                delivery.claim_token = uuid.uuid4()
                delivery.attempts += 1
                delivery.next_attempt_at = now + self.lease
            return self._jobs(session, rows, now)

    def _candidates(self, session: Session, now: datetime, limit: int) -> list[uuid.UUID]:
        """Due deliveries, at most ``per_endpoint`` per endpoint counting those already in
        flight, so one endpoint's backlog cannot crowd out the others."""
        in_flight = Counter(
            dict(
                session.execute(
                    select(Delivery.endpoint_id, func.count())
                    .where(
                        Delivery.state == "pending",
                        Delivery.claim_token.is_not(None),
                        Delivery.next_attempt_at > now,
                    )
                    .group_by(Delivery.endpoint_id)
                ).all()
            )
        )
        # Walk the due deliveries oldest first, a page at a time, ranking each within its
        # endpoint as we go (what ROW_NUMBER() over the whole backlog would give): the
        # walk stops once ``limit`` are chosen, so a claim reads a few pages of the
        # partial index on due deliveries, not the whole backlog.
        page = max(64, limit * self.per_endpoint * 4)
        ranks: Counter[uuid.UUID] = Counter()
        chosen: list[uuid.UUID] = []
        after: tuple[datetime, uuid.UUID] | None = None
        while True:
            stmt = (
                select(Delivery.id, Delivery.endpoint_id, Delivery.next_attempt_at)
                .join(WebhookEndpoint, WebhookEndpoint.id == Delivery.endpoint_id)
                .where(
                    Delivery.state == "pending",
                    Delivery.next_attempt_at <= now,
                    WebhookEndpoint.enabled.is_(True),
                )
                .order_by(Delivery.next_attempt_at, Delivery.id)
                .limit(page)
            )
            if after is not None:
                stmt = stmt.where(
                    or_(
                        Delivery.next_attempt_at > after[0],
                        and_(Delivery.next_attempt_at == after[0], Delivery.id > after[1]),
                    )
                )
            rows = session.execute(stmt).all()
            for delivery_id, endpoint_id, _due in rows:
                ranks[endpoint_id] += 1
                if ranks[endpoint_id] > self.per_endpoint:
                    continue
                if in_flight[endpoint_id] >= self.per_endpoint:
                    continue
                in_flight[endpoint_id] += 1
                chosen.append(delivery_id)
                if len(chosen) == limit:
                    return chosen
            if len(rows) < page:
                return chosen
            after = (rows[-1].next_attempt_at, rows[-1].id)

    def _jobs(self, session: Session, rows: list[Delivery], now: datetime) -> list[Job]:
        if not rows:
            return []
        endpoints = {
            e.id: e
            for e in session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.id.in_({d.endpoint_id for d in rows}))
            )
        }
        events = {
            e.id: e
            for e in session.scalars(
                select(OutboxEvent).where(OutboxEvent.id.in_({d.event_id for d in rows}))
            )
        }
        jobs = []
        for delivery in rows:
            endpoint, event = endpoints[delivery.endpoint_id], events[delivery.event_id]
            assert delivery.claim_token is not None
            jobs.append(
                Job(
                    delivery_id=delivery.id,
                    claim_token=delivery.claim_token,
                    attempt=delivery.attempts,
                    message_id=str(event.id),
                    endpoint_id=endpoint.id,
                    url=endpoint.url,
                    secrets=self.signing_secrets(endpoint, now),
                    body=self.keyring.decrypt(
                        event.body, aad_for("outbox_events", "body", event.id)
                    ).encode(),
                )
            )
        return jobs

    def signing_secrets(self, endpoint: WebhookEndpoint, now: datetime) -> list[str]:
        """The current secret, and the previous one while its grace period lasts."""
        found = [
            self.keyring.decrypt(
                endpoint.secret, aad_for("webhook_endpoints", "secret", endpoint.id)
            )
        ]
        expires = endpoint.previous_secret_expires_at
        if endpoint.previous_secret and expires and expires > now:
            found.append(
                self.keyring.decrypt(
                    endpoint.previous_secret,
                    aad_for("webhook_endpoints", "previous_secret", endpoint.id),
                )
            )
        return found

    def record(self, job: Job, outcome: Outcome) -> bool:
        """Store the attempt and decide what follows; False when the lease was lost (a
        successor owns the delivery now, and its result is the one that counts)."""
        return self.record_many([(job, outcome)])[0]

    def record_many(self, results: list[tuple[Job, Outcome]]) -> list[bool]:
        """``record`` for several attempts in one write transaction (one commit)."""
        with self.sessions() as session, write_transaction(session):
            # One read for the batch: each delivery still held by the claim that sent it.
            held = {
                (d.id, d.claim_token): d
                for d in session.scalars(
                    select(Delivery)
                    .where(Delivery.id.in_([job.delivery_id for job, _ in results]))
                    .with_for_update()
                )
            }
            # The rows' changes are flushed once, at commit; the endpoint updates run in
            # order as they come (they read what the ones before them wrote).
            cleared: set[uuid.UUID] = set()
            with session.no_autoflush:
                return [
                    self._record_within(
                        session, held.get((job.delivery_id, job.claim_token)), job, o, cleared
                    )
                    for job, o in results
                ]

    def _record_within(
        self,
        session: Session,
        delivery: Delivery | None,
        job: Job,
        outcome: Outcome,
        cleared: set[uuid.UUID],
    ) -> bool:
        """One result; ``cleared`` holds the endpoints whose failing streak this batch
        has already ended (and no failure has started again)."""
        if delivery is None or delivery.claim_token != job.claim_token:
            return False
        now = clock.now()
        session.add(
            DeliveryAttempt(
                delivery_id=delivery.id,
                number=job.attempt,
                started_at=outcome.started_at,
                duration_ms=outcome.duration_ms,
                status_code=outcome.status_code,
                error=outcome.error,
            )
        )
        delivery.claim_token = None
        delivery.last_status_code = outcome.status_code
        delivery.last_error = outcome.error
        if outcome.succeeded:
            delivery.state, delivery.delivered_at = "succeeded", now
            if job.endpoint_id not in cleared:
                session.execute(
                    update(WebhookEndpoint)
                    .where(
                        WebhookEndpoint.id == job.endpoint_id,
                        WebhookEndpoint.failing_since.is_not(None),
                    )
                    .values(failing_since=None)
                )
                cleared.add(job.endpoint_id)
            return True
        cleared.discard(job.endpoint_id)
        if job.attempt >= MAX_ATTEMPTS:
            delivery.state = "dead"
        else:
            delivery.next_attempt_at = now + retry_delay(job.attempt)
        self._note_failure(session, job.endpoint_id, outcome, now)
        return True

    def _note_failure(
        self, session: Session, endpoint_id: uuid.UUID, outcome: Outcome, now: datetime
    ) -> None:
        session.execute(
            update(WebhookEndpoint)
            .where(WebhookEndpoint.id == endpoint_id, WebhookEndpoint.failing_since.is_(None))
            .values(failing_since=now)
        )
        what = outcome.error or f"HTTP {outcome.status_code}"
        session.execute(
            update(WebhookEndpoint)
            .where(
                WebhookEndpoint.id == endpoint_id,
                WebhookEndpoint.enabled.is_(True),
                WebhookEndpoint.failing_since <= now - self.disable_after,
            )
            .values(
                enabled=False,
                disabled_at=now,
                updated_at=now,
                disabled_reason=(
                    f"Every attempt failed for {self.disable_after.total_seconds() / 3600:g}"
                    f" hours; the last one: {what}. Fix the endpoint, then enable it again"
                    " and replay what it missed."
                ),
            )
        )


def _describe(error: Exception) -> str:
    if isinstance(error, httpx.TimeoutException):
        return "timeout"
    if isinstance(error, httpx.ConnectError):
        return "connection failed"
    if isinstance(error, UnsafeDestination):
        return str(error)
    return f"{type(error).__name__}"[:300]


_attempt = threading.local()


def _bounded(timeout: float | None) -> float:
    """A socket operation's timeout, cut to what is left of the current attempt."""
    deadline = getattr(_attempt, "deadline", None)
    if deadline is None:
        return timeout  # type: ignore[return-value]
    left = max(0.001, deadline - time.monotonic())
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the attempt's deadline, so a
    receiver trickling bytes cannot keep an attempt alive past its lease."""

    def __init__(self, stream: httpcore.NetworkStream):
        self.stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self.stream.read(max_bytes, _bounded(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.stream.write(buffer, _bounded(timeout))

    def close(self) -> None:
        self.stream.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self.stream.start_tls(ssl_context, server_hostname, _bounded(timeout))
        )

    def get_extra_info(self, info: str) -> Any:
        return self.stream.get_extra_info(info)


class _DeadlineBackend(httpcore.SyncBackend):
    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            super().connect_tcp(host, port, _bounded(timeout), local_address, socket_options)
        )


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport over a connection pool whose sockets obey the attempt deadline
    (httpx's own timeouts bound each operation, not the whole attempt)."""

    def __init__(self, *, keepalive: bool) -> None:
        super().__init__()
        # httpx exposes no network backend option; its pool is rebuilt with ours.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_keepalive_connections=64 if keepalive else 0,
            network_backend=_DeadlineBackend(),
        )


class Sender:
    """Sends one attempt, which ends within ``WEBHOOK_TIMEOUT_S`` whatever the receiver
    does. Outside development the host is resolved and checked before every attempt,
    and the connection goes to the checked address (with the original name for TLS and
    Host), so DNS cannot be switched to an internal address between the check and the
    request."""

    def __init__(self, settings: dict[str, Any], transport: httpx.BaseTransport | None = None):
        self.production = settings["ENV"] == "production"
        self.timeout = settings["WEBHOOK_TIMEOUT_S"]
        self.client = httpx.Client(
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
            # Pinned connections are pooled by address, not name: reusing one for another
            # host at the same address would skip that host's certificate check.
            transport=transport or _DeadlineTransport(keepalive=not self.production),
            headers={"user-agent": USER_AGENT, "content-type": "application/json"},
        )

    def close(self) -> None:
        self.client.close()

    def send(self, job: Job) -> Outcome:
        started, began = clock.now(), time.monotonic()
        status, error = None, None
        _attempt.deadline = began + self.timeout
        try:
            url, extra_headers, extensions = self._target(job.url)
            timestamp = int(clock.now().timestamp())
            headers = signing.headers(job.secrets, job.message_id, timestamp, job.body)
            request = self.client.build_request(
                "POST",
                url,
                content=job.body,
                headers={**headers, **extra_headers},
                extensions=extensions,
            )
            response = self.client.send(request, stream=True)
            try:
                status = response.status_code
                # Only the status counts; a short body is drained so the connection can
                # be reused, a long one is cut off.
                drained = 0
                for chunk in [] if response.is_stream_consumed else response.iter_raw():
                    drained += len(chunk)
                    if drained > BODY_DRAIN_LIMIT:
                        break
            finally:
                response.close()
        except (httpx.HTTPError, UnsafeDestination, OSError) as failure:
            error = _describe(failure)
        finally:
            _attempt.deadline = None
        duration = int((time.monotonic() - began) * 1000)
        return Outcome(started, duration, status, error)

    def _target(self, url: str) -> tuple[str, dict[str, str], dict[str, Any]]:
        if not self.production:
            return url, {}, {}
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        address = public_addresses(host, port)[0]
        literal = f"[{address}]" if address.version == 6 else str(address)
        netloc = f"{literal}:{parts.port}" if parts.port else literal
        pinned = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
        host_header = f"{host}:{parts.port}" if parts.port else host
        return pinned, {"host": host_header}, {"sni_hostname": host}


@dataclass
class _Result:
    """An attempt's outcome on its way to the database (see ``Dispatcher._record``)."""

    job: Job
    outcome: Outcome
    done: bool = False
    kept: bool = False
    error: Exception | None = None


class Dispatcher:
    """A pool of sending threads fed by claims; one per worker process."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        keyring: Keyring,
        settings: dict[str, Any],
        *,
        transport: httpx.BaseTransport | None = None,
    ):
        self.queue = DeliveryQueue(sessions, keyring, settings)
        self.sender = Sender(settings, transport)
        self.size = settings["WEBHOOK_CONCURRENCY"]
        self.poll = settings["WEBHOOK_POLL_MS"] / 1000
        self.pool = ThreadPoolExecutor(self.size, thread_name_prefix="vrm-webhook")
        self.busy = 0
        self.lock = threading.Lock()
        self.futures: set[Future[None]] = set()
        # Set whenever a sending thread frees up, so a full pool is refilled at once.
        self.freed = threading.Event()
        # After a claim, the next one waits until this many threads are free (or a poll
        # interval has passed): half the pool, so each claim's two transactions are shared
        # by many deliveries (a quarter delivered 17 % fewer per second under a backlog).
        self.refill = max(1, self.size // 2)
        # Group commit: results wait in ``recording``; one thread at a time records every
        # waiting result in one transaction, so a busy pool does not queue its writers on
        # the database lock one commit each.
        self.recording: list[_Result] = []
        self.recorder = threading.Lock()

    def pump(self) -> int:
        """Claim as many due deliveries as there are idle threads, and start sending."""
        with self.lock:
            free = self.size - self.busy
        jobs = self.queue.claim(free)
        for job in jobs:
            with self.lock:
                self.busy += 1
            future = self.pool.submit(self._deliver, job)
            self.futures.add(future)
            future.add_done_callback(self._done)
        return len(jobs)

    def _done(self, future: Future[None]) -> None:
        with self.lock:
            self.busy -= 1
            self.futures.discard(future)
        self.freed.set()

    def _record(self, job: Job, outcome: Outcome) -> bool:
        """``queue.record``, batched with whatever other threads are recording."""
        mine = _Result(job, outcome)
        with self.lock:
            self.recording.append(mine)
        with self.recorder:
            if not mine.done:
                with self.lock:
                    batch, self.recording = self.recording, []
                try:
                    kept = self.queue.record_many([(r.job, r.outcome) for r in batch])
                except Exception as error:
                    kept = [False] * len(batch)
                    for result in batch:
                        result.error = error
                for result, was_kept in zip(batch, kept, strict=True):
                    result.kept, result.done = was_kept, True
        if mine.error is not None:
            raise mine.error
        return mine.kept

    def _deliver(self, job: Job) -> None:
        try:
            outcome = self.sender.send(job)
            if not self._record(job, outcome):
                log.info("delivery %s was taken over after its lease ran out", job.delivery_id)
        except Exception:
            # The lease runs out and another attempt follows; never lose the thread.
            log.exception("delivery %s failed unexpectedly", job.delivery_id)

    def wait(self) -> None:
        """Block until every started attempt is recorded."""
        while True:
            with self.lock:
                pending = list(self.futures)
            if not pending:
                return
            for future in pending:
                future.result()

    def deliver_due(self) -> int:
        """Send everything due now and wait for the results (tests, ``vrm worker --once``)."""
        total = 0
        while claimed := self.pump():
            total += claimed
            self.wait()
        return total

    def run(self, stop: threading.Event) -> None:
        """Keep claiming until ``stop`` is set; sleep briefly only when idle, and when
        every thread is busy only until one frees up."""
        while not stop.is_set():
            self.freed.clear()
            try:
                claimed = self.pump()
            except Exception:
                log.exception("claiming deliveries failed; retrying")
                claimed = 0
            if claimed:
                # Refill in batches: each claim is two short transactions, so wait
                # (briefly) for a few threads to free up rather than claim for each one.
                deadline = time.monotonic() + self.poll
                while not stop.is_set():
                    with self.lock:
                        if self.size - self.busy >= self.refill:
                            break
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self.freed.clear()
                    self.freed.wait(left)
                continue
            with self.lock:
                full = self.busy >= self.size
            if full:
                self.freed.wait(self.poll)
            else:
                stop.wait(self.poll)

    def close(self) -> None:
        self.pool.shutdown(wait=True)
        self.sender.close()
