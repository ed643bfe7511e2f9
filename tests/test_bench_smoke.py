"""The benchmark's smoke run: a tiny data set and seconds of load per workload, through
the same runner as ``make bench``. It checks that every row is produced with sane
numbers, never how fast anything is (that is ``make bench``'s job, on a quiet machine)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

WORKLOADS = [
    "baseline: bare Flask JSON route",
    "baseline: minimal Flask+SQLAlchemy feed",
    "1. vendor feed",
    "2. token endpoint",
    "3. publish,",
    "3. publish p50",
    "4. webhook dispatch",
    "4. webhook commit->delivery",
    "5. consented profile read",
]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if shutil.which("gunicorn", path=str(Path(sys.executable).parent)) is None:
        pytest.skip("gunicorn is not installed (the server extra)")
    out = tmp_path_factory.mktemp("bench") / "smoke.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRM_")}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--smoke", "--sqlite-only", "--json", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = json.loads(out.read_text())
    report["table"] = done.stdout
    return report


def test_the_smoke_run_produces_every_row_of_the_table(smoke: dict) -> None:
    names = [row["workload"] for row in smoke["rows"]]
    for workload in WORKLOADS:
        assert sum(name.startswith(workload) for name in names) == 1, (workload, names)
        assert workload in smoke["table"]


def test_every_row_has_sane_numbers_and_no_errors(smoke: dict) -> None:
    for row in smoke["rows"]:
        assert row["value"] > 0, row
        assert row["errors"] == 0, row
        assert row["peak_mib"] > 10, row
        if row["p50_ms"] is not None:
            assert 0 < row["p50_ms"] <= row["p99_ms"], row
        if row["unit"] == "req/s":
            assert row["ratio"] > 0, row
        if row["target"]:
            assert row["met"] in (True, False), row


def test_the_seeded_data_set_has_every_kind_of_row(smoke: dict) -> None:
    counts = smoke["facts"]["counts"]
    for table in ("persons", "vendors", "subscriptions", "intentions", "intention_matches"):
        assert counts[table] > 0, counts
    assert smoke["facts"]["small_counts"]["subscriptions"] < counts["subscriptions"]
