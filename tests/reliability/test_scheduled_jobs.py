"""Each periodic job runs exactly once per period, however many processes run: four
gunicorn workers (which must run no job) and two `vrm worker` processes over one database,
with periods of two seconds (the soak also replaces workers as they run). Every run is read
from two places that must agree: the ledger (one row per job and period) and the workers'
own logs (one line per run). Runs on the database the session uses (SQLite, or PostgreSQL when
VRM_TEST_DATABASE_URL is set)."""

from __future__ import annotations

import re
import subprocess
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tests.reliability.conftest import gunicorn, vrm_env, vrm_worker, wait_until
from vrm import clock
from vrm.db import write_transaction
from vrm.idempotency.models import IdempotencyRecord
from vrm.scheduling.models import JobRun
from vrm.worker import JOBS

# Two seconds: short enough for many periods in a test, long enough that a loaded machine
# does not stall both workers for a whole period (the one way a period is missed).
PERIOD = timedelta(seconds=2)
# How long a claim may wait for SQLite's write lock (the engine's busy timeout).
LOCK_WAIT = timedelta(seconds=10)
RAN = re.compile(r" vrm\.worker (\w+) ran for the period from (\S+): (\S+)$")


def stop(process: subprocess.Popen[bytes], log: Path) -> None:
    """Stop a worker as an operator would (SIGTERM) and check it stopped cleanly."""
    process.terminate()
    assert process.wait(timeout=20) == 0, log.read_text()


def started(log: Path) -> None:
    """Wait until the worker logging to ``log`` has its scheduler running."""
    wait_until(lambda: "worker started" in log.read_text(), timeout=60, what=f"{log.name} starts")


def lapsed_idempotency_records(app: Any, count: int) -> None:
    """Work for the purge: records already past their expiry."""
    rt = app.extensions["vrm"]
    now = clock.now()
    with rt.sessions() as session, write_transaction(session):
        session.add_all(
            IdempotencyRecord(
                caller="reliability",
                key_digest=uuid.uuid4().hex,
                request_digest="-",
                created_at=now - timedelta(days=2),
                expires_at=now - timedelta(days=1),
            )
            for _ in range(count)
        )


def runs_logged(logs: list[Path]) -> Counter[tuple[str, str]]:
    """(job, period start) of every run the workers logged, counted."""
    found: Counter[tuple[str, str]] = Counter()
    for log in logs:
        for line in log.read_text().splitlines():
            if match := RAN.search(line):
                found[(match[1], match[2])] += 1
    return found


@pytest.mark.parametrize(
    ("periods", "handovers"),
    [
        pytest.param(8, 0, id="eight periods"),
        pytest.param(
            150, 4, id="five minutes, a worker replaced each minute", marks=pytest.mark.soak
        ),
    ],
)
def test_each_job_runs_exactly_once_per_period_across_worker_processes(
    app, app_settings, tmp_path, periods, handovers
):
    rt = app.extensions["vrm"]
    env = vrm_env(
        app_settings["DATABASE_URL"],
        app_settings["KEYS"],
        Path(app_settings["INSTANCE_PATH"]),
        VRM_EXPIRY_PERIOD_S=str(int(PERIOD.total_seconds())),
        VRM_PURGE_PERIOD_S=str(int(PERIOD.total_seconds())),
    )
    logs = [tmp_path / f"worker-{n}.log" for n in range(2 + handovers)]
    pids: set[int] = set()
    lapsed = 0
    with ExitStack() as processes:
        workers = [processes.enter_context(vrm_worker(env, log)) for log in logs[:2]]
        current = logs[:2]  # where each running worker logs
        pids |= {worker.pid for worker in workers}
        web = processes.enter_context(gunicorn(env, tmp_path / "gunicorn.log", workers=4))
        for log in current:
            started(log)
        with httpx.Client(timeout=10) as web_client:

            def meanwhile(seconds: float) -> None:
                """Serve requests and give the purge work, for ``seconds``."""
                nonlocal lapsed
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline:
                    lapsed_idempotency_records(app, 3)
                    lapsed += 3
                    assert web_client.get(f"{web.url}/healthz").status_code == 200
                    time.sleep(PERIOD.total_seconds() / 2)

            for handover in range(handovers):
                meanwhile(periods * PERIOD.total_seconds() / (handovers + 1))
                # One worker leaves and another arrives: no period is lost.
                stop(workers[0], current[0])
                workers[0] = processes.enter_context(vrm_worker(env, logs[2 + handover]))
                current[0] = logs[2 + handover]
                pids.add(workers[0].pid)
                started(current[0])
                workers.reverse()  # the other one leaves next
                current.reverse()
            meanwhile(periods * PERIOD.total_seconds() / (handovers + 1))

        def purged() -> bool:
            with rt.sessions() as session:
                return not session.scalar(select(func.count()).select_from(IdempotencyRecord))

        wait_until(purged, timeout=10, what="every lapsed idempotency record is purged")
        for worker, log in zip(workers, current, strict=True):
            stop(worker, log)
        assert web.process.poll() is None, web.output()

    with rt.sessions() as session:
        runs = list(session.scalars(select(JobRun).order_by(JobRun.job, JobRun.period_start)))
    logged = runs_logged(logs)
    # Once per period: the ledger holds one row per (job, period), and no worker logged a
    # second run of any of them (nor one the ledger does not hold).
    assert set(logged.values()) == {1}, [key for key, times in logged.items() if times > 1]
    assert set(logged) == {(run.job, run.period_start.isoformat()) for run in runs}
    # Every period, from the first to the last, for every job.
    for job, _setting in JOBS:
        starts = [run.period_start for run in runs if run.job == job.__name__]
        assert len(starts) >= periods, (job.__name__, len(starts))
        gaps = [(a, b) for a, b in zip(starts, starts[1:], strict=False) if b - a != PERIOD]
        assert not gaps, f"{job.__name__} missed the periods between {gaps}"
    for run in runs:
        # Run by a `vrm worker` (never by gunicorn), to the end, in its own period (or
        # just after, when the claim waited for the database's write lock).
        assert run.period_start.timestamp() % PERIOD.total_seconds() == 0
        assert run.period_start <= run.started_at < run.period_start + PERIOD + LOCK_WAIT, vars(run)
        assert int(run.runner.rsplit(":", 1)[1]) in pids, run.runner
        assert (run.finished_at is not None, run.error) == (True, None), vars(run)
    # Each lapsed record was purged by exactly one run.
    purges = [run.result for run in runs if run.job == "purge_idempotency_records"]
    assert sum(purges) == lapsed
