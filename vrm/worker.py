"""Periodic jobs, run by ``vrm worker`` (one dedicated process) or beside the built-in server
with ``vrm serve --with-worker``. Never started by the app factory: N web workers would run
every job N times. Each job is safe to run twice at once (several workers on PostgreSQL)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from vrm.consents.service import ConsentService
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


# (job, seconds between runs)
JOBS: list[tuple[Callable[[Flask], Any], int]] = [
    (expire_consents, 60),
    (expire_intentions, 60),
    (purge_idempotency_records, 3600),
]


def run_once(app: Flask) -> dict[str, Any]:
    """Run every job once, now (for tests and operators)."""
    return {job.__name__: job(app) for job, _ in JOBS}


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
    scheduler = BlockingScheduler(timezone="UTC")
    _add_jobs(scheduler, app)
    log.info("worker started with %d job(s)", len(JOBS))
    scheduler.start()


def start_in_background(app: Flask) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", daemon=True)
    _add_jobs(scheduler, app)
    scheduler.start()
    return scheduler
