"""``python -m bench.run``: the whole benchmark, on SQLite and, when
``VRM_BENCH_DATABASE_URL`` names a PostgreSQL server, on PostgreSQL too (in databases it
creates and drops). Prints one table per database; ``--json FILE`` also writes the figures.

Every server, the baselines included, runs under the same gunicorn settings (``GUNICORN``
below), one workload at a time, freshly started so its peak memory is its own; wrk (or
the fallback generator) runs in its own process on the same machine."""

from __future__ import annotations

import argparse
import base64
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, text

from bench import load
from bench.load import LoadResult, Request
from bench.seed import (
    Credentials,
    Seeder,
    Sizes,
    add_webhooks,
    emit_events,
    emit_paced,
    publish_bodies,
)
from vrm.crypto import KeyMaterial, Keyring
from vrm.db import make_engine
from vrm.migrate import upgrade

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
WORKERS, THREADS = 2, 4
GUNICORN = [
    "--workers",
    str(WORKERS),
    "--worker-class",
    "gthread",
    "--threads",
    str(THREADS),
    "--keep-alive",
    "5",
    "--log-level",
    "warning",
]


APP = "vrm.app:create_app()"
WORKLOADS = ("feed", "token", "publish", "profile", "webhooks")


@dataclass
class Settings:
    sizes: Sizes
    small_subscriptions: int
    seconds: float
    warmup: float
    connections: int
    webhook_events: int
    webhook_vendors: int
    paced_rate: float
    paced_seconds: float
    force_python: bool = False
    # Turns the feed and its minimal baseline take, each figure the median of its turns.
    feed_rounds: int = 3
    # Workloads to run (the baselines always run); None runs them all.
    only: frozenset[str] | None = None

    def wants(self, workload: str) -> bool:
        return self.only is None or workload in self.only

    @classmethod
    def full(cls) -> Settings:
        return cls(
            sizes=Sizes(),
            small_subscriptions=1_000,
            seconds=10,
            warmup=2,
            connections=8,
            webhook_events=5_000,
            webhook_vendors=50,
            paced_rate=50,
            paced_seconds=20,
        )

    @classmethod
    def smoke(cls) -> Settings:
        return cls(
            sizes=Sizes(
                persons=300,
                vendors=30,
                subscriptions=1_500,
                intentions=2_000,
                publishers=5,
                feed_vendors=3,
                readers=5,
            ),
            small_subscriptions=30,
            seconds=2,
            warmup=0.5,
            connections=4,
            webhook_events=150,
            webhook_vendors=5,
            paced_rate=20,
            paced_seconds=2,
            feed_rounds=1,
        )


@dataclass
class Row:
    workload: str
    value: float
    unit: str
    ratio: float | None = None
    against: str = ""
    target: str = ""
    met: bool | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    peak_mib: float | None = None
    errors: int = 0
    note: str = ""


@dataclass
class Report:
    database: str
    rows: list[Row] = field(default_factory=list)
    facts: dict[str, Any] = field(default_factory=dict)

    def row(self, workload: str) -> Row:
        return next(r for r in self.rows if r.workload == workload)


# Processes


def median_round(rounds: list[tuple[LoadResult, float]]) -> tuple[LoadResult, float]:
    """The round with the median throughput, and the highest peak memory of all."""
    ordered = sorted(rounds, key=lambda r: r[0].rps)
    return ordered[len(ordered) // 2][0], max(peak for _, peak in rounds)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_mib(pid: int) -> float:
    """VmHWM, the process's peak resident memory, in MiB."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up")


def app_env(url: str, keys: str, instance: Path, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRM_")}
    env.update(
        {
            "VRM_ENV": "production",
            "VRM_ISSUER": f"http://127.0.0.1:{port}",
            "VRM_DATABASE_URL": url,
            "VRM_KEYS": keys,
            "VRM_INSTANCE_PATH": str(instance),
            "PYTHONPATH": str(ROOT),
            # The per-client ceiling on issued tokens guards against abuse; the token
            # workload is one client asking as fast as it can, which is not what it meters.
            "VRM_OAUTH_TOKEN_RATE_LIMIT": "1000000 per minute",
            **extra,
        }
    )
    return env


class Server:
    """gunicorn serving ``target`` until the block ends; ``peak`` is then the highest
    peak memory of its worker processes."""

    def __init__(self, target: str, env: dict[str, str], port: int, ready: str):
        self.target, self.env, self.port, self.ready = target, env, port, ready
        self.peak = 0.0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.log = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [str(BIN / "gunicorn"), *GUNICORN, "--bind", f"127.0.0.1:{self.port}", self.target],
            env=self.env,
            cwd=ROOT,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_for(self.base + self.ready)
        except RuntimeError:
            self.__exit__()
            raise
        return self

    def __exit__(self, *_: Any) -> None:
        self.peak = max([peak_mib(p) for p in children(self.process.pid)] or [0.0])
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.seek(0)
        output = self.log.read().decode(errors="replace")
        self.log.close()
        if self.process.returncode not in (0, -signal.SIGTERM):
            sys.stderr.write(output)


# Databases


@contextmanager
def databases(backend: str, workdir: Path) -> Iterator[tuple[str, str]]:
    """Two empty, migrated databases: the full data set's, and the one with 1% of the
    subscriptions that publishing is compared against."""
    if backend == "sqlite":
        urls = (f"sqlite:///{workdir / 'bench.sqlite3'}", f"sqlite:///{workdir / 'small.sqlite3'}")
        for url in urls:
            upgrade(url)
        yield urls
        return
    server = os.environ["VRM_BENCH_DATABASE_URL"]
    names = [f"vrm_bench_{secrets.token_hex(3)}", f"vrm_bench_{secrets.token_hex(3)}_small"]
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        urls = tuple(
            make_url(server).set(database=n).render_as_string(hide_password=False) for n in names
        )
        for url in urls:
            upgrade(url)
        yield urls  # type: ignore[misc]
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def seed(url: str, keyring: Keyring, sizes: Sizes) -> Credentials:
    engine = make_engine(url)
    try:
        return Seeder(engine, keyring, sizes).run()
    finally:
        engine.dispose()


# Workloads


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class Bench:
    def __init__(self, settings: Settings, database: str, workdir: Path):
        self.settings = settings
        self.report = Report(database)
        self.workdir = workdir
        self.keys = KeyMaterial.generate().to_json()
        self.keyring = Keyring(KeyMaterial.from_json(self.keys))

    def log(self, message: str) -> None:
        print(f"[{self.report.database}] {message}", file=sys.stderr, flush=True)

    def drive(
        self, server: Server, requests: list[Request], connections: int | None = None
    ) -> LoadResult:
        settings = self.settings
        n = connections or settings.connections
        if settings.warmup:
            load.run(
                server.base,
                requests,
                seconds=settings.warmup,
                connections=n,
                force_python=settings.force_python,
            )
        return load.run(
            server.base,
            requests,
            seconds=settings.seconds,
            connections=n,
            force_python=settings.force_python,
        )

    def serve(self, target: str, url: str, ready: str) -> Server:
        port = free_port()
        return Server(target, app_env(url, self.keys, self.workdir, port), port, ready)

    def measure(
        self,
        name: str,
        target: str,
        url: str,
        ready: str,
        requests: list[Request],
        check: Any = None,
        connections: int | None = None,
    ) -> tuple[LoadResult, float]:
        self.log(f"{name}...")
        with self.serve(target, url, ready) as server:
            if check is not None:
                check(server)
            result = self.drive(server, requests, connections)
        self.log(
            f"{name}: {result.rps:.0f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, {result.errors} errors, peak {server.peak:.0f} MiB"
        )
        return result, server.peak

    def baseline(self, name: str, result: LoadResult, peak: float, bare: LoadResult) -> None:
        """A baseline's row: its rate as a share of the bare route's."""
        self.add(name, result, peak, ratio=result.rps / bare.rps, against="bare")

    def add(self, workload: str, result: LoadResult, peak: float, **kw: Any) -> Row:
        row = Row(
            workload,
            result.rps,
            "req/s",
            p50_ms=result.p50_ms,
            p99_ms=result.p99_ms,
            peak_mib=peak,
            errors=result.errors,
            **kw,
        )
        self.report.rows.append(row)
        return row

    def run(self) -> Report:
        s = self.settings
        with databases(self.report.database, self.workdir) as (url, small_url):
            self.log("seeding the full data set...")
            creds = seed(url, self.keyring, s.sizes)
            self.log(f"seeded in {creds.seed_seconds} s: {creds.counts}")
            # Only the subscriptions matter to what publishing costs; a tenth of the
            # intentions keeps the second seed short (and its tables smaller, if anything
            # in the small set's favour).
            small = Sizes(
                **{
                    **s.sizes.__dict__,
                    "subscriptions": s.small_subscriptions,
                    "intentions": max(1_000, s.sizes.intentions // 10),
                }
            )
            self.log("seeding the 1%-subscriptions data set...")
            small_creds = seed(small_url, self.keyring, small)
            self.report.facts.update(
                seed_seconds=creds.seed_seconds,
                counts=creds.counts,
                small_counts=small_creds.counts,
                generator="wrk" if load.have_wrk() and not s.force_python else "python",
                gunicorn=" ".join(GUNICORN),
                connections=s.connections,
                seconds=s.seconds,
                cpus=os.cpu_count(),
            )
            self.web(url, small_url, creds, small_creds)
            if s.wants("webhooks"):
                self.webhooks(url)
        return self.report

    def web(self, url: str, small_url: str, creds: Credentials, small_creds: Credentials) -> None:
        s = self.settings
        bare, bare_peak = self.measure(
            "bare Flask route",
            "bench.baseline:bare()",
            url,
            "/bare",
            [Request("GET", "/bare", {})],
        )
        self.add("baseline: bare Flask JSON route", bare, bare_peak, ratio=1.0, against="bare")

        feed_requests = [
            Request("GET", "/vendor/v1/intentions?limit=50", bearer(t)) for t in creds.feed_tokens
        ]

        def full_page(path: str) -> Any:
            def check(server: Server) -> None:
                for t, size in zip(creds.feed_tokens, creds.feed_sizes, strict=True):
                    r = httpx.get(server.base + path, headers=bearer(t), timeout=30)
                    r.raise_for_status()
                    got = len(r.json()["data"])
                    if got != size:
                        raise AssertionError(f"{path}: a page of {got} rows, not {size}")

            return check  # noqa: E306

        # The feed and its baseline take turns, a fresh server each time, and each figure
        # is the median of its rounds: one measurement of either swings more than two-fold
        # on this kind of machine, and taking turns gives both the same conditions.
        minimal_rounds, feed_rounds = [], []
        for _ in range(s.feed_rounds):
            minimal_rounds.append(
                self.measure(
                    "minimal Flask + SQLAlchemy feed",
                    "bench.baseline:minimal()",
                    url,
                    "/minimal/feed",
                    [
                        Request("GET", "/minimal/feed?limit=50", bearer(t))
                        for t in creds.feed_tokens
                    ],
                    check=full_page("/minimal/feed?limit=50"),
                )
            )
            if s.wants("feed"):
                feed_rounds.append(
                    self.measure(
                        "vendor feed",
                        APP,
                        url,
                        "/healthz",
                        feed_requests,
                        check=full_page("/vendor/v1/intentions?limit=50"),
                    )
                )
        minimal, minimal_peak = median_round(minimal_rounds)
        self.baseline("baseline: minimal Flask+SQLAlchemy feed", minimal, minimal_peak, bare)

        if feed_rounds:
            feed, feed_peak = median_round(feed_rounds)
            self.target("1. vendor feed, 50 intentions", feed, feed_peak, minimal, "minimal", 0.90)
        writes = s.wants("token") or s.wants("publish") or s.wants("profile")
        if writes:
            write, write_peak = self.measure(
                "minimal Flask + SQLAlchemy write",
                "bench.baseline:minimal_write()",
                url,
                "/minimal/token",
                [
                    Request(
                        "POST",
                        "/minimal/token",
                        {"Authorization": basic(creds.client_id, creds.client_secret)},
                    )
                ],
            )
            self.baseline("baseline: minimal Flask+SQLAlchemy write", write, write_peak, bare)
        if s.wants("token"):
            self.token(url, creds, bare, write)
        if s.wants("publish"):
            self.publish(url, small_url, creds, small_creds, bare, write)
        if s.wants("profile"):
            self.profile(url, creds, bare, write)

    def token(self, url: str, creds: Credentials, bare: LoadResult, write: LoadResult) -> None:
        app = APP
        token_request = Request(
            "POST",
            "/oauth/token",
            {
                "Authorization": basic(creds.client_id, creds.client_secret),
                "Content-Type": "application/x-www-form-urlencoded",
            },
            "grant_type=client_credentials",
        )

        def token_check(server: Server) -> None:
            r = httpx.post(
                server.base + "/oauth/token",
                headers=token_request.headers,
                content=token_request.body,
                timeout=30,
            )
            r.raise_for_status()
            assert r.json()["access_token"].startswith("vrm_at_")

        token, token_peak = self.measure(
            "token endpoint", app, url, "/healthz", [token_request], check=token_check
        )
        self.target(
            "2. token endpoint, client_credentials", token, token_peak, bare, "bare", 0.25, write
        )

    def publish(
        self,
        url: str,
        small_url: str,
        creds: Credentials,
        small_creds: Credentials,
        bare: LoadResult,
        write: LoadResult,
    ) -> None:
        s = self.settings
        app = APP
        bodies = publish_bodies(max(20, len(creds.personal_tokens)))
        publish_requests = [
            Request(
                "POST",
                "/personal/v1/intentions",
                {
                    **bearer(creds.personal_tokens[n % len(creds.personal_tokens)]),
                    "Content-Type": "application/json",
                },
                json.dumps(body),
            )
            for n, body in enumerate(bodies)
        ]

        def publish_check(tokens: list[str]) -> Any:
            def check(server: Server) -> None:
                r = httpx.post(
                    server.base + "/personal/v1/intentions",
                    headers=bearer(tokens[0]),
                    json=bodies[0],
                    timeout=30,
                )
                if r.status_code != 201:
                    raise AssertionError(f"publish: {r.status_code} {r.text[:300]}")

            return check  # noqa: E306

        publish, publish_peak = self.measure(
            f"publish ({s.sizes.subscriptions} subscriptions)",
            app,
            url,
            "/healthz",
            publish_requests,
            check=publish_check(creds.personal_tokens),
        )
        self.target(
            f"3. publish, {s.sizes.subscriptions:,} subscriptions",
            publish,
            publish_peak,
            bare,
            "bare",
            0.20,
            write,
        )
        # Latency of one publication at a time (no queueing), 100% vs 1% of subscriptions.
        lone, lone_peak = self.measure(
            "publish, one at a time (full)",
            app,
            url,
            "/healthz",
            publish_requests,
            connections=1,
        )
        small_requests = [
            Request(
                r.method,
                r.path,
                {
                    **r.headers,
                    **bearer(small_creds.personal_tokens[n % len(small_creds.personal_tokens)]),
                },
                r.body,
            )
            for n, r in enumerate(publish_requests)
        ]
        lone_small, _ = self.measure(
            "publish, one at a time (1% subscriptions)",
            app,
            small_url,
            "/healthz",
            small_requests,
            check=publish_check(small_creds.personal_tokens),
            connections=1,
        )
        slower = lone.p50_ms / lone_small.p50_ms if lone_small.p50_ms else float("inf")
        self.report.rows.append(
            Row(
                f"3. publish p50, {s.sizes.subscriptions:,} vs {s.small_subscriptions:,} subs",
                slower,
                "x slower",
                ratio=slower,
                against=f"p50 {lone_small.p50_ms:.1f} ms",
                target="<= 2.00",
                met=slower <= 2.0,
                p50_ms=lone.p50_ms,
                p99_ms=lone.p99_ms,
                peak_mib=lone_peak,
                errors=lone.errors + lone_small.errors,
                note="1 connection, no queueing",
            )
        )

    def profile(self, url: str, creds: Credentials, bare: LoadResult, write: LoadResult) -> None:
        app = APP
        profile_requests = [
            Request(
                "GET",
                f"/vendor/v1/customers/{ref}/profile?purpose=ServiceProvision",
                bearer(creds.profile_token),
            )
            for ref in creds.customer_refs
        ]

        def profile_check(server: Server) -> None:
            r = httpx.get(
                server.base + profile_requests[0].path, headers=profile_requests[0].headers
            )
            r.raise_for_status()
            assert r.json()["profile"]["given_name"].startswith("Reader")

        profile, profile_peak = self.measure(
            "consented profile read",
            app,
            url,
            "/healthz",
            profile_requests,
            check=profile_check,
        )
        self.target(
            "5. consented profile read + access log",
            profile,
            profile_peak,
            bare,
            "bare",
            0.25,
            write,
        )

    def target(
        self,
        name: str,
        result: LoadResult,
        peak: float,
        base: LoadResult,
        against: str,
        least: float,
        write: LoadResult | None = None,
    ) -> None:
        """A row measured against ``base``; a workload that writes also shows its ratio
        to the minimal write route, the most any route that commits a row can reach."""
        ratio = result.rps / base.rps if base.rps else 0.0
        if write is not None and write.rps:
            against += f" ({result.rps / write.rps:.2f} x minimal write)"
        self.add(
            name,
            result,
            peak,
            ratio=ratio,
            against=against,
            target=f">= {least:.2f}",
            met=ratio >= least and result.errors == 0,
        )

    def webhooks(self, url: str) -> None:
        s = self.settings
        port = free_port()
        engine = make_engine(url)
        settings = {
            "ENV": "development",
            "WEBHOOK_SECRET_GRACE_HOURS": 24,
            "EVENT_RETENTION_DAYS": 30,
        }
        pairs = add_webhooks(
            engine, self.keyring, settings, f"http://127.0.0.1:{port}/hook/N", s.webhook_vendors
        )
        # Each endpoint has its own path, so the receiver knows which secret signed it.
        with engine.begin() as connection:
            from vrm.events.models import WebhookEndpoint

            for n, (vendor_id, _secret) in enumerate(pairs):
                connection.execute(
                    WebhookEndpoint.__table__.update()
                    .where(WebhookEndpoint.vendor_id == vendor_id)
                    .values(url=f"http://127.0.0.1:{port}/hook/{n}")
                )
        secrets_file = self.workdir / "secrets.json"
        secrets_file.write_text(json.dumps([secret for _, secret in pairs]))
        vendor_ids = [v for v, _ in pairs]
        receiver = subprocess.Popen(
            [sys.executable, "-m", "bench.receiver", str(port), str(secrets_file)], cwd=ROOT
        )
        worker_env = app_env(url, self.keys, self.workdir, port, VRM_ENV="development")
        worker_env.pop("VRM_ISSUER")

        def stats() -> dict[str, Any]:
            return httpx.get(f"http://127.0.0.1:{port}/stats", timeout=30).json()  # type: ignore[no-any-return]

        def until(count: int, seconds: float) -> dict[str, Any]:
            deadline = time.monotonic() + seconds
            while True:
                got = stats()
                if len(got["arrivals"]) >= count or time.monotonic() > deadline:
                    return got
                time.sleep(0.1)

        try:
            wait_for(f"http://127.0.0.1:{port}/stats")
            self.log(f"webhooks: {s.webhook_events} events queued for {len(pairs)} endpoints...")
            emit_events(engine, self.keyring, vendor_ids, s.webhook_events)
            worker = subprocess.Popen([str(BIN / "vrm"), "worker"], env=worker_env, cwd=ROOT)
            try:
                got = until(s.webhook_events, 60 + s.webhook_events / 20)
                times = sorted(got["arrivals"].values())
                span = times[-1] - times[0] if len(times) > 1 else 0.0
                rate = (len(times) - 1) / span if span else 0.0
                backlog_peak = peak_mib(worker.pid)
                self.log(f"webhooks: {rate:.0f} deliveries/s, {got['bad']} bad signatures")
                self.log(f"webhooks: {s.paced_rate:g} events/s for {s.paced_seconds:g} s...")
                committed = emit_paced(
                    engine, self.keyring, vendor_ids, s.paced_rate, s.paced_seconds
                )
                got = until(s.webhook_events + len(committed), 60)
                lags = sorted(
                    got["arrivals"][i] - t for i, t in committed.items() if i in got["arrivals"]
                )
                paced_peak = peak_mib(worker.pid)
            finally:
                worker.send_signal(signal.SIGTERM)
                try:
                    worker.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    worker.kill()
        finally:
            receiver.terminate()
            receiver.wait()
            engine.dispose()
        lost = len(committed) - len(lags)
        median_ms = statistics.median(lags) * 1000 if lags else 0.0
        p = (
            (lambda q: lags[min(len(lags) - 1, int(q * len(lags)))] * 1000)
            if lags
            else (lambda q: 0.0)
        )
        self.report.rows.append(
            Row(
                "4. webhook dispatch, backlog",
                rate,
                "deliveries/s",
                ratio=None,
                against="1 worker process",
                target=">= 300/s",
                met=rate >= 300 and got["bad"] == 0,
                peak_mib=backlog_peak,
                errors=got["bad"],
                note=f"{s.webhook_events} events, {len(pairs)} endpoints, signatures checked",
            )
        )
        self.report.rows.append(
            Row(
                f"4. webhook commit->delivery at {s.paced_rate:g}/s",
                p(0.95),
                "ms p95",
                target="p95 < 2000 ms",
                met=bool(lags) and p(0.95) < 2000 and lost == 0,
                p50_ms=p(0.50),
                p99_ms=p(0.99),
                peak_mib=paced_peak,
                errors=lost,
                note=f"{len(committed)} events, median {median_ms:.0f} ms",
            )
        )


# The table


def table(report: Report) -> str:
    def num(value: float | None, digits: int = 1) -> str:
        return "" if value is None else f"{value:,.{digits}f}"

    lines = [
        f"### {report.database}",
        "",
        "| workload | measured | vs baseline | target | met | p50 ms | p99 ms "
        "| peak MiB/process | errors |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in report.rows:
        ratio = (
            f"{r.ratio:.2f} x {r.against}"
            if r.ratio is not None and r.unit == "req/s"
            else r.against
        )
        met = "" if r.met is None else ("yes" if r.met else "**no**")
        lines.append(
            f"| {r.workload} | {num(r.value)} {r.unit} | {ratio} | {r.target} | {met} "
            f"| {num(r.p50_ms)} | {num(r.p99_ms)} | {num(r.peak_mib, 0)} | {r.errors} |"
        )
    facts = report.facts
    lines += [
        "",
        f"Seeded in {facts.get('seed_seconds')} s: {facts.get('counts')}; load from "
        f"{facts.get('generator')}, {facts.get('connections')} connections, "
        f"{facts.get('seconds')} s per workload; gunicorn {facts.get('gunicorn')}; "
        f"{facts.get('cpus')} CPUs.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--smoke", action="store_true", help="tiny data set, seconds of load")
    parser.add_argument("--seconds", type=float, help="load per workload (default 10)")
    parser.add_argument("--python-load", action="store_true", help="never use wrk")
    parser.add_argument("--sqlite-only", action="store_true")
    parser.add_argument("--postgresql-only", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument(
        "--only",
        help=f"comma-separated workloads to run ({','.join(WORKLOADS)}); baselines always run",
    )
    args = parser.parse_args(argv)
    settings = Settings.smoke() if args.smoke else Settings.full()
    if args.seconds:
        settings.seconds = args.seconds
    settings.force_python = args.python_load
    if args.only:
        chosen = frozenset(w.strip() for w in args.only.split(","))
        if chosen - set(WORKLOADS):
            parser.error(f"--only: unknown workload(s) {sorted(chosen - set(WORKLOADS))}")
        settings.only = chosen
    if not load.have_wrk() and not args.python_load:
        print(
            "wrk not found (scripts/install-bench-tools.sh); using the Python generator",
            file=sys.stderr,
        )
    backends = [] if args.postgresql_only else ["sqlite"]
    if os.environ.get("VRM_BENCH_DATABASE_URL") and not args.sqlite_only:
        backends.append("postgresql")
    reports = []
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="vrm-bench-") as workdir:
            reports.append(Bench(settings, backend, Path(workdir)).run())
    print("\n\n".join(table(r) for r in reports))
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "database": r.database,
                        "facts": r.facts,
                        "rows": [row.__dict__ for row in r.rows],
                    }
                    for r in reports
                ],
                indent=2,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
