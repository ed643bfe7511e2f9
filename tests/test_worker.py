"""The periodic jobs run by `vrm worker`."""

from __future__ import annotations

import json
import os
import subprocess
import sys


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
        "deliver_webhooks": 0,
    }
