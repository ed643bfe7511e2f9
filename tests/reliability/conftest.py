"""What the reliability tests share: a private PostgreSQL cluster they may stop and restart
(the shared server on 5432 never is), a private Redis, VRM under gunicorn and `vrm worker`
as real subprocesses configured only through ``VRM_*`` variables, a local webhook receiver,
and small helpers to drive them over HTTP. Every process started here is stopped in the
fixture's teardown, even when the test fails."""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import FAST_ARGON2, PASSWORD
from tests.webhooks.conftest import Receiver, receiver_on
from vrm.crypto import KeyMaterial, Keyring
from vrm.db import make_engine, make_sessionmaker
from vrm.vendors.service import VendorService

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PG_BIN = Path("/usr/lib/postgresql/15/bin")
PROBLEM_JSON = "application/problem+json"

on_postgres = pytest.mark.skipif(
    not os.environ.get("VRM_TEST_DATABASE_URL"),
    reason="the PostgreSQL pass only (VRM_TEST_DATABASE_URL)",
)
on_sqlite = pytest.mark.skipif(
    bool(os.environ.get("VRM_TEST_DATABASE_URL")),
    reason="the SQLite pass only: it uses its own database file whatever the pass",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], Any], timeout: float, what: str, every: float = 0.1) -> Any:
    """The first truthy result of ``check``, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what}")
        time.sleep(every)


def stop_process(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace`` seconds."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
    process.wait(timeout=10)


# VRM as subprocesses


def new_keys() -> str:
    return KeyMaterial.generate().to_json()


def create_vendor(database_url: str, keys: str, name: str) -> tuple[uuid.UUID, str, str]:
    """A vendor with one OAuth client, made directly in the database (as `vrm vendor
    create` does); its id, client id and client secret."""
    engine = make_engine(database_url)
    try:
        with make_sessionmaker(engine)() as session:
            service = VendorService(session, Keyring(KeyMaterial.from_json(keys)))
            vendor, client, secret = service.create_vendor(name)
            return vendor.id, client.client_id, secret
    finally:
        engine.dispose()


def vrm_env(database_url: str, keys: str, instance: Path, **extra: str) -> dict[str, str]:
    """The environment of a `vrm` or gunicorn process: the settings in ``VRM_*`` variables
    only (none inherited from this process), quick password hashing and webhook timing."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRM_")}
    env.update(
        {
            "VRM_ENV": "test",  # plain http to the loopback receiver is allowed
            "VRM_DATABASE_URL": database_url,
            "VRM_KEYS": keys,
            "VRM_INSTANCE_PATH": str(instance),
            "VRM_LOGIN_RATE_LIMIT": "10000 per minute",
            "VRM_SIGNUP_RATE_LIMIT": "10000 per minute",
            "VRM_WEBHOOK_TIMEOUT_S": "2",
            "VRM_WEBHOOK_LEASE_S": "7",
            "VRM_WEBHOOK_POLL_MS": "50",
            "PYTHONPATH": str(ROOT),
            **{f"VRM_{name}": str(value) for name, value in FAST_ARGON2.items()},
            **extra,
        }
    )
    return env


def run_vrm(env: dict[str, str], *args: str) -> str:
    """Run ``vrm ARGS`` to completion; its standard output."""
    done = subprocess.run(
        [sys.executable, "-m", "vrm.cli", *args],
        env=env,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"vrm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@dataclass
class Server:
    """A running gunicorn; ``output()`` is what it has logged so far."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def gunicorn(
    env: dict[str, str], log: Path, *, workers: int = 2, threads: int = 4
) -> Iterator[Server]:
    """``gunicorn 'vrm.app:create_app()'`` on a free port, up once /healthz answers at all
    (a 503 is an answer: the database may be down on purpose)."""
    port = free_port()
    command = [
        str(BIN / "gunicorn"),
        *("--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads)),
        *("--bind", f"127.0.0.1:{port}", "--graceful-timeout", "10", "--log-level", "warning"),
        "vrm.app:create_app()",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )
    server = Server(process, port, log)
    try:

        def answers() -> bool:
            assert process.poll() is None, f"gunicorn exited:\n{server.output()}"
            try:
                httpx.get(server.url + "/healthz", timeout=2)
            except httpx.TransportError:
                return False
            return True

        wait_until(answers, timeout=60, what="gunicorn answers", every=0.2)
        yield server
    finally:
        stop_process(process)


@contextmanager
def vrm_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`vrm worker` (periodic jobs and webhook delivery), its output in ``log``."""
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "vrm.cli", "worker"],
            env=env,
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        yield process
    finally:
        stop_process(process)


# A private PostgreSQL cluster


@dataclass
class PostgresCluster:
    """A cluster of its own (initdb into a temporary directory, trust auth, a free port),
    run as the ``postgres`` user; the tests may stop and restart it at will."""

    root: Path
    port: int

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def logfile(self) -> Path:
        return self.root / "server.log"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def as_postgres(self, program: str, *args: str, timeout: float = 120) -> None:
        done = subprocess.run(
            ["runuser", "-u", "postgres", "--", str(PG_BIN / program), *args],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, f"{program} failed:\n{done.stdout}\n{done.stderr}"

    def init(self) -> None:
        self.as_postgres(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c fsync=off -c full_page_writes=off -c synchronous_commit=off"
        )
        self.as_postgres(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            options,
        )

    def stop(self, mode: str = "fast") -> None:
        self.as_postgres("pg_ctl", "stop", "-w", "-t", "60", "-m", mode, "-D", str(self.data))

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def create_database(self, prefix: str = "vrm") -> str:
        """A new, empty database; its URL."""
        name = f"{prefix}_{secrets.token_hex(4)}"
        admin = create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
        finally:
            admin.dispose()
        return self.url(name)


@pytest.fixture(scope="module")
def private_postgres() -> Iterator[PostgresCluster]:
    if not (PG_BIN / "initdb").exists() or os.geteuid() != 0:
        pytest.skip("needs PostgreSQL 15 binaries and root (to run them as postgres)")
    root = Path(tempfile.mkdtemp(prefix="vrm-pg-"))
    shutil.chown(root, "postgres", "postgres")
    cluster = PostgresCluster(root, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.running():
            cluster.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)


# A private Redis


@dataclass
class RedisServer:
    """``redis-server`` without persistence on a free port, stopped and started at will."""

    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        command += ["--save", "", "--appendonly", "no"]
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
            )

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_until(answers, timeout=10, what="redis-server answers")

    def kill(self) -> None:
        """Gone at once, as a crashed server or a cut network would be."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisServer]:
    if shutil.which("redis-server") is None:
        pytest.skip("needs redis-server")
    server = RedisServer(free_port(), tmp_path / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()


# A webhook receiver


@pytest.fixture
def webhook_receiver() -> Iterator[Receiver]:
    """A local endpoint recording every request (``Receiver`` of the webhook tests), with
    room for many connections at once."""
    with receiver_on() as made:
        yield made


# Talking to the running service


def basic(user: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (response.status_code, response.text)
    return response.json() if response.content else None


@dataclass
class Person:
    id: str
    email: str
    auth: dict[str, str]  # the bearer header of a personal token


def new_person(http: httpx.Client, email: str) -> Person:
    """A new account, with a personal token."""
    account = http.post("/personal/v1/accounts", json={"email": email, "password": PASSWORD})
    made = http.post("/personal/v1/tokens", json={"name": "tests"}, headers=basic(email, PASSWORD))
    return Person(expect(account, 201)["id"], email, bearer(expect(made, 201)["token"]))


def sign_up(http: httpx.Client, email: str) -> dict[str, str]:
    """A new account; the bearer header of a personal token for it."""
    return new_person(http, email).auth


def every_item(http: httpx.Client, path: str, headers: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a paged list, following ``next_cursor``."""
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"limit": 100}
    while True:
        page = expect(http.get(path, params=query, headers=headers), 200)
        items.extend(page["data"])
        if not page.get("next_cursor"):
            return items
        query["cursor"] = page["next_cursor"]


def vendor_token(http: httpx.Client, client_id: str, secret: str, scope: str) -> dict[str, str]:
    """The bearer header of a client-credentials token."""
    response = http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        headers=basic(client_id, secret),
    )
    return bearer(expect(response, 200)["access_token"])


@dataclass
class Outcome:
    """One request made under load: its answer, or the transport error instead."""

    what: str
    started: float
    status: int | None = None
    content_type: str = ""
    retry_after: str | None = None
    body: str = ""
    error: str | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @classmethod
    def of(cls, what: str, started: float, response: httpx.Response) -> Outcome:
        return cls(
            what,
            started,
            response.status_code,
            response.headers.get("content-type", ""),
            response.headers.get("retry-after"),
            response.text,
        )


# One request of a load thread: what it was, and the answer.
Step = Callable[[httpx.Client, int], tuple[str, httpx.Response]]


@dataclass
class Load:
    """Threads calling ``step`` in a loop until stopped; every outcome is kept."""

    outcomes: list[Outcome] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    threads: list[threading.Thread] = field(default_factory=list)

    def run(self, step: Step, base: str, count: int, **client: Any) -> None:
        """Start ``count`` threads, each with its own client, calling ``step(http, i)``."""
        for _ in range(count):
            thread = threading.Thread(target=self._loop, args=(step, base, client), daemon=True)
            self.threads.append(thread)
            thread.start()

    def _loop(self, step: Step, base: str, client: dict[str, Any]) -> None:
        with httpx.Client(base_url=base, timeout=60, **client) as http:
            i = 0
            while not self.stop.is_set():
                started = time.monotonic()
                try:
                    what, response = step(http, i)
                    outcome = Outcome.of(what, started, response)
                except httpx.TransportError as error:
                    outcome = Outcome("?", started, error=f"{error.__class__.__name__}: {error}")
                with self.lock:
                    self.outcomes.append(outcome)
                i += 1

    def finish(self) -> list[Outcome]:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=90)
        assert not any(t.is_alive() for t in self.threads), "a load thread is stuck"
        return list(self.outcomes)
