"""Periodic jobs and webhook delivery, run by ``vrm worker`` (as many as you like) or
beside the built-in server with ``vrm serve --with-worker``. Never started by the app
factory. Any number of workers may run side by side: each periodic job runs once per
period whichever worker gets there first (the ledger in ``vrm.scheduling``), and webhook
claims never overlap."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
from vrm.scheduling.service import JobLedger, period_start, this_process

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


def purge_job_runs(app: Flask) -> int:
    """Forget which worker ran which job once the record is old."""
    rt = app.extensions["vrm"]
    before = clock.now() - timedelta(days=rt.settings["JOB_RUN_RETENTION_DAYS"])
    with rt.sessions() as session:
        return JobLedger(session).purge_before(before)


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


# (job, the setting holding its period in seconds)
JOBS: list[tuple[Callable[[Flask], int], str]] = [
    (expire_consents, "EXPIRY_PERIOD_S"),
    (expire_intentions, "EXPIRY_PERIOD_S"),
    (purge_idempotency_records, "PURGE_PERIOD_S"),
    (purge_events, "PURGE_PERIOD_S"),
    (purge_job_runs, "PURGE_PERIOD_S"),
]
# Each worker looks for its turn this many times a period (at most once a minute): a
# period is missed only if every worker is stalled for all of it, and a tick delayed
# past a boundary merely runs the next period, which later ticks would have run anyway.
TICKS_PER_PERIOD = 4
LONGEST_TICK_S = 60


def run_once(app: Flask) -> dict[str, Any]:
    """Run every job once, now, then deliver what is due (for tests and operators; this
    bypasses the ledger, since whoever asks wants the jobs run now)."""
    done = {job.__name__: job(app) for job, _ in JOBS}
    done[deliver_webhooks.__name__] = deliver_webhooks(app)
    return done


def run_in_period(app: Flask, job: Callable[[Flask], int], seconds: int) -> None:
    """Run ``job`` for the current period, unless another run (in any worker) has it."""
    rt = app.extensions["vrm"]
    period = period_start(clock.now(), seconds)
    with rt.sessions() as session:
        if not JobLedger(session).claim(job.__name__, period, this_process()):
            return
    result, error = None, None
    try:
        result = job(app)
    except Exception as failure:
        log.exception("%s failed for the period from %s", job.__name__, period.isoformat())
        error = f"{type(failure).__name__}: {failure}"[:300]
    with rt.sessions() as session:
        JobLedger(session).finish(job.__name__, period, result, error)
    log.info("%s ran for the period from %s: %s", job.__name__, period.isoformat(), result)


def _add_jobs(scheduler: Any, app: Flask) -> None:
    # Each run logs itself (above); APScheduler's two lines for every tick would bury it.
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
    settings = app.extensions["vrm"].settings
    for job, setting in JOBS:
        seconds = settings[setting]
        tick = min(seconds / TICKS_PER_PERIOD, LONGEST_TICK_S)
        scheduler.add_job(
            run_in_period,
            "interval",
            args=[app, job, seconds],
            seconds=tick,
            id=job.__name__,
            name=job.__name__,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=max(1, int(tick)),
            next_run_time=datetime.now(UTC),
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
