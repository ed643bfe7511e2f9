"""Periodic jobs and webhook delivery, run by ``vrm worker`` (one dedicated process) or
beside the built-in server with ``vrm serve --with-worker``. Never started by the app
factory: N web workers would run every job N times. Each job is safe to run twice at once,
and any number of workers may deliver webhooks side by side (claims never overlap)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from flask import Flask

from vrm import clock
from vrm.consents.service import ConsentService
from vrm.events.delivery import Dispatcher
from vrm.events.outbox import purge_events_before
from vrm.idempotency.service import IdempotencyService
from vrm.intentions.offers import OfferService
from vrm.intentions.service import IntentionService

log = logging.getLogger(__name__)


def expire_consents(app: Flask) -> int:
    """Record every consent past its expiry as expired (reads check expiry anyway)."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        expired = ConsentService(session, rt.keyring).expire_due()
    if expired:
        log.info("expired %d consent(s)", expired)
    return expired


def expire_intentions(app: Flask) -> int:
    """Close every open intention past its expiry, and record offers past their validity
    (both are checked at read time anyway)."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        expired = IntentionService(session, rt.keyring).expire_due()
        lapsed = OfferService(session, rt.keyring).expire_due()
    if expired or lapsed:
        log.info("expired %d intention(s), %d offer(s)", expired, lapsed)
    return expired


def purge_idempotency_records(app: Flask) -> int:
    """Forget Idempotency-Key responses older than a day."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        return IdempotencyService(session, rt.keyring).purge_expired()


def purge_events(app: Flask) -> int:
    """Forget events (and their deliveries) older than the retention period."""
    rt = app.extensions["vrm"]
    before = clock.now() - timedelta(days=rt.settings["EVENT_RETENTION_DAYS"])
    with rt.sessions() as session:
        return purge_events_before(session, before)


def dispatcher(app: Flask) -> Dispatcher:
    rt = app.extensions["vrm"]
    return Dispatcher(rt.sessions, rt.keyring, rt.settings)


def deliver_webhooks(app: Flask) -> int:
    """Send every webhook due now and wait for the results (``run_once`` only: a running
    worker delivers continuously in its own loop)."""
    sending = dispatcher(app)
    try:
        return sending.deliver_due()
    finally:
        sending.close()


# (job, seconds between runs)
JOBS: list[tuple[Callable[[Flask], Any], int]] = [
    (expire_consents, 60),
    (expire_intentions, 60),
    (purge_idempotency_records, 3600),
    (purge_events, 3600),
]


def run_once(app: Flask) -> dict[str, Any]:
    """Run every job once, now, then deliver what is due (for tests and operators)."""
    done = {job.__name__: job(app) for job, _ in JOBS}
    done[deliver_webhooks.__name__] = deliver_webhooks(app)
    return done


def _add_jobs(scheduler: Any, app: Flask) -> None:
    for job, seconds in JOBS:
        scheduler.add_job(
            job,
            "interval",
            args=[app],
            seconds=seconds,
            id=job.__name__,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=seconds,
        )


def run_forever(app: Flask) -> None:
    """The periodic jobs on a scheduler thread, webhook delivery in this one, until
    SIGTERM or SIGINT; then in-flight deliveries finish before the process exits."""
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    scheduler = BackgroundScheduler(timezone="UTC")
    _add_jobs(scheduler, app)
    scheduler.start()
    sending = dispatcher(app)
    log.info("worker started with %d job(s) and webhook delivery", len(JOBS))
    try:
        sending.run(stop)
    finally:
        scheduler.shutdown(wait=False)
        sending.close()
        log.info("worker stopped")


def start_in_background(app: Flask) -> BackgroundScheduler:
    """The same, on daemon threads beside the built-in server."""
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    _add_jobs(scheduler, app)
    scheduler.start()
    thread = threading.Thread(
        target=dispatcher(app).run, args=(threading.Event(),), name="vrm-dispatch", daemon=True
    )
    thread.start()
    return scheduler
