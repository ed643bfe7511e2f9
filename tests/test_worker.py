"""The periodic jobs run by `vrm worker`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import select

from vrm import clock
from vrm.scheduling.models import JobRun
from vrm.worker import purge_job_runs, run_in_period


def test_worker_once_runs_every_job_and_reports(app_settings):
    env = {
        **os.environ,
        "VRM_DATABASE_URL": app_settings["DATABASE_URL"],
        "VRM_KEYS": app_settings["KEYS"],
        "VRM_ENV": "test",
        "VRM_INSTANCE_PATH": app_settings["INSTANCE_PATH"],
    }
    result = subprocess.run(
        [sys.executable, "-m", "vrm.cli", "worker", "--once"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {
        "expire_consents": 0,
        "expire_intentions": 0,
        "purge_idempotency_records": 0,
        "purge_events": 0,
        "purge_job_runs": 0,
        "deliver_webhooks": 0,
    }


def counting(calls: list[datetime]) -> Callable[[Flask], int]:
    def expire_nothing(_app: Flask) -> int:
        calls.append(clock.now())
        return len(calls)

    return expire_nothing


def ledger(app: Flask) -> list[tuple[str, datetime, int | None, str | None, bool]]:
    with app.extensions["vrm"].sessions() as session:
        return [
            (run.job, run.period_start, run.result, run.error, run.finished_at is not None)
            for run in session.scalars(select(JobRun).order_by(JobRun.period_start))
        ]


def test_a_job_runs_once_per_period_aligned_to_the_clock_however_often_it_is_asked(
    app, frozen_clock
):
    calls: list[datetime] = []
    job = counting(calls)
    frozen_clock[0] = datetime(2026, 11, 23, 12, 0, 59, tzinfo=UTC)
    # Many runners at once, as several workers ticking together would be.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda _: run_in_period(app, job, 60), range(8)))
    assert len(calls) == 1
    frozen_clock[0] += timedelta(seconds=2)  # past the boundary: the next period
    run_in_period(app, job, 60)
    run_in_period(app, job, 60)
    assert len(calls) == 2
    minute = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    assert ledger(app) == [
        ("expire_nothing", minute, 1, None, True),
        ("expire_nothing", minute + timedelta(minutes=1), 2, None, True),
    ]


def test_a_failing_run_keeps_its_period_and_the_ledger_is_purged_when_old(app, frozen_clock):
    def broken(_app: Flask) -> int:
        raise RuntimeError("the job broke")

    run_in_period(app, broken, 3600)
    run_in_period(app, broken, 3600)
    [(job, _period, result, error, finished)] = ledger(app)
    assert (job, result, error, finished) == ("broken", None, "RuntimeError: the job broke", True)

    retention = app.extensions["vrm"].settings["JOB_RUN_RETENTION_DAYS"]
    frozen_clock[0] += timedelta(days=retention) - timedelta(hours=2)
    assert purge_job_runs(app) == 0
    frozen_clock[0] += timedelta(hours=3)
    assert purge_job_runs(app) == 1
    assert ledger(app) == []
