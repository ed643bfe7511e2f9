"""VRM laid out as the README's "Running in production" says, on PostgreSQL: `vrm db upgrade`
as the deploy step, gunicorn serving ``vrm.app:create_app()`` with four workers, two
`vrm worker` processes, rate limits shared in Redis, every setting a ``VRM_*`` variable.
Then one journey over real HTTP: a person signs up and fills a profile, the operator
registers a vendor, the vendor subscribes and registers a webhook, the person publishes an
intention; the vendor's feed shows it, the webhook arrives once, signed, and a rate limit
counted across the four workers trips at its configured number.

The deployment helpers below are also what tests/reliability/test_races.py races against.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, make_url, text
from standardwebhooks.webhooks import Webhook

from tests.conftest import FAST_ARGON2, PASSWORD
from tests.reliability.conftest import (
    RedisServer,
    expect,
    free_port,
    on_postgres,
    sign_up,
    stop_process,
    vendor_token,
    wait_until,
)
from tests.webhooks.conftest import Receiver
from vrm.crypto import KeyMaterial

BIN = Path(sys.executable).parent
POSTGRES = os.environ.get("VRM_TEST_DATABASE_URL")
# Besides its VRM_* settings, a process gets only what any program needs to start.
PASSED_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")
# gunicorn's access log with the serving worker's pid first, so a test can tell who served,
# then the client address the app sees.
ACCESS_LOG_FORMAT = '%(p)s %(h)s "%(r)s" %(s)s'


@contextmanager
def scratch_database(directory: Path) -> Iterator[str]:
    """A new, empty database: on the PostgreSQL server of VRM_TEST_DATABASE_URL (dropped at
    the end), else an SQLite file in ``directory``."""
    if not POSTGRES:
        yield f"sqlite:///{directory / 'vrm.sqlite3'}"
        return
    name = "vrm_layout_" + secrets.token_hex(4)
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def start(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    """A process writing to ``log``."""
    with log.open("wb") as output:
        return subprocess.Popen(
            command, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=output, stderr=output
        )


def settings_environ(**settings: Any) -> dict[str, str]:
    """An environment holding VRM's settings and nothing else of this test run's."""
    env = {name: os.environ[name] for name in PASSED_THROUGH if name in os.environ}
    env.update({f"VRM_{name}": str(value) for name, value in settings.items()})
    return env


@dataclass
class Deployment:
    """One installation: its settings, its directory, and where gunicorn listens."""

    env: dict[str, str]
    directory: Path
    base: str
    database_url: str

    def vrm(self, *args: str, **settings: Any) -> str:
        """Run a `vrm` command as the operator would (``settings`` override VRM_* ones)."""
        env = {**self.env, **{f"VRM_{k}": str(v) for k, v in settings.items()}}
        done = subprocess.run(
            [str(BIN / "vrm"), *args],
            env=env,
            cwd=self.directory,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"vrm {' '.join(args)}: {done.stderr}"
        return done.stdout

    def log(self, name: str) -> str:
        return (self.directory / f"{name}.log").read_text(errors="replace")

    def http(self) -> httpx.Client:
        # trust_env=False: no proxy from the environment between the test and 127.0.0.1.
        return httpx.Client(base_url=self.base, trust_env=False, timeout=60)


def wait_until_healthy(base: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(base + "/healthz", timeout=2, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no answer on /healthz:\n{log.read_text(errors='replace')}")


def access_log(gunicorn_log: str, request_line: str) -> list[tuple[str, str]]:
    """(worker pid, client address) of each access log line showing ``request_line``."""
    pattern = re.compile(
        rf'^<(\d+)> (\S+) "{re.escape(request_line)} HTTP/1\.1" \d+$', re.MULTILINE
    )
    return pattern.findall(gunicorn_log)


@contextmanager
def deployment(
    directory: Path,
    database_url: str,
    *,
    web_workers: int,
    threads: int = 4,
    vrm_workers: int = 0,
    env: str = "production",
    **settings: Any,
) -> Iterator[Deployment]:
    """The README's layout: keys in a file only the service reads, `vrm db upgrade` once,
    then gunicorn and the `vrm worker` processes, every one configured by VRM_* alone and
    started outside the source tree. Argon2 runs at the OWASP floor to keep tests quick."""
    keys = directory / "keys.json"
    keys.write_text(KeyMaterial.generate().to_json())
    keys.chmod(0o600)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    deployed = Deployment(
        settings_environ(
            ENV=env,
            ISSUER=base,
            DATABASE_URL=database_url,
            KEYS_FILE=keys,
            INSTANCE_PATH=directory / "instance",
            **FAST_ARGON2,
            **settings,
        ),
        directory,
        base,
        database_url,
    )
    deployed.vrm("db", "upgrade")
    gunicorn = [
        str(BIN / "gunicorn"),
        "--workers",
        str(web_workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        # The TLS proxy in front is trusted for X-Forwarded-Proto and the PROXY protocol
        # (plain connections are still accepted).
        "--forwarded-allow-ips",
        "127.0.0.1",
        "--proxy-protocol",
        "--proxy-allow-from",
        "127.0.0.1",
        "--access-logfile",
        "-",
        "--access-logformat",
        ACCESS_LOG_FORMAT,
        "vrm.app:create_app()",
    ]
    log = directory / "gunicorn.log"
    processes = [start(gunicorn, deployed.env, directory, log)]
    try:
        for n in range(vrm_workers):
            worker = [str(BIN / "vrm"), "worker"]
            processes.append(start(worker, deployed.env, directory, directory / f"worker-{n}.log"))
        wait_until_healthy(base, processes[0], log)
        for n, worker_process in enumerate(processes[1:]):

            def started(n: int = n, process: subprocess.Popen[bytes] = worker_process) -> bool:
                assert process.poll() is None, deployed.log(f"worker-{n}")
                return "worker started" in deployed.log(f"worker-{n}")

            wait_until(started, timeout=90, what=f"vrm worker {n} starts")
        yield deployed
    finally:
        # All asked at once, then each waited for (SIGKILL after a grace period).
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            stop_process(process)


# The journey

TOKEN_LIMIT = 8
VENDOR_SCOPES = "intentions:read webhooks:manage"
EMAIL = "ada@example.org"


def through_proxy(base: str, client_address: str, path: str) -> bytes:
    """A GET as a proxy speaking the PROXY protocol (v1) forwards it; the raw answer."""
    port = int(base.rsplit(":", 1)[1])
    request = (
        f"PROXY TCP4 {client_address} 127.0.0.1 51234 {port}\r\n"
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request.encode())
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@on_postgres
def test_the_production_layout_serves_a_whole_journey(
    tmp_path: Path, private_redis: RedisServer, webhook_receiver: Receiver
) -> None:
    with ExitStack() as stack:
        database_url = stack.enter_context(scratch_database(tmp_path))
        vrm = stack.enter_context(
            deployment(
                tmp_path,
                database_url,
                web_workers=4,
                vrm_workers=2,
                # Production sends webhooks to public https hosts only (tests/webhooks
                # holds it to that); this receiver is on loopback, so the processes run
                # as development, with the production settings otherwise.
                env="development",
                RATELIMIT_STORAGE_URL=private_redis.url,
                OAUTH_TOKEN_RATE_LIMIT=f"{TOKEN_LIMIT} per minute",
            )
        )
        http = stack.enter_context(vrm.http())

        health = expect(http.get("/healthz"), 200)
        assert (health["status"], health["database"]) == ("ok", "ok")

        # The person signs up and fills in a profile.
        person = sign_up(http, EMAIL)
        profile = {"given_name": "Ada", "family_name": "Lovelace"}
        expect(http.patch("/personal/v1/profile", json=profile, headers=person), 200)
        assert expect(http.get("/personal/v1/profile", headers=person), 200)["given_name"] == "Ada"

        # The operator registers a vendor; the command needs no more than production has.
        creds = json.loads(
            vrm.vrm("vendor", "create", "--name", "Velo Shop", "--json", ENV="production")
        )
        vendor = vendor_token(http, creds["client_id"], creds["client_secret"], VENDOR_SCOPES)

        # The vendor registers a webhook endpoint and subscribes to cycling.
        endpoint = expect(
            http.post(
                "/vendor/v1/webhooks",
                json={"url": webhook_receiver.url(), "event_types": ["intention.matched"]},
                headers=vendor,
            ),
            201,
        )
        subscription = {"categories": ["sports/cycling"]}
        expect(http.post("/vendor/v1/subscriptions", json=subscription, headers=vendor), 201)

        # The person publishes; the vendor's feed shows it, under the vendor's pseudonym.
        intention = {"title": "A gravel bike", "category": "sports/cycling/bicycles"}
        published = expect(
            http.post("/personal/v1/intentions", json=intention, headers=person), 201
        )
        assert published["matched_vendors"] == 1
        feed = expect(http.get("/vendor/v1/intentions", headers=vendor), 200)["data"]
        assert [item["id"] for item in feed] == [published["id"]]

        # One of the two workers delivers it, once, signed with the endpoint's secret.
        [arrived] = webhook_receiver.wait_for(1, timeout=30)
        time.sleep(1)  # five polls of each worker: room for a second delivery, if any
        assert webhook_receiver.to() == [arrived]
        event = Webhook(endpoint["secret"]).verify(arrived.body, arrived.headers)
        assert event["type"] == "intention.matched"
        assert event["data"]["intention_id"] == published["id"]
        assert event["data"]["customer_ref"] == feed[0]["customer_ref"]
        deliveries = http.get(f"/vendor/v1/webhooks/{endpoint['id']}/deliveries", headers=vendor)
        assert [(d["state"], d["attempt_count"]) for d in expect(deliveries, 200)["data"]] == [
            ("succeeded", 1)
        ]

        # The token limit is counted in Redis, across the four workers: one token was
        # issued above, then each request goes on a new connection, which any worker may
        # accept.
        form = {"grant_type": "client_credentials", "scope": VENDOR_SCOPES}
        client_auth = (creds["client_id"], creds["client_secret"])
        answers = []
        for _ in range(TOKEN_LIMIT + 1):
            with vrm.http() as fresh:
                answers.append(fresh.post("/oauth/token", data=form, auth=client_auth))
        assert [a.status_code for a in answers] == [200] * (TOKEN_LIMIT - 1) + [429, 429]
        assert f'"oauth-token";q={TOKEN_LIMIT};w=60' in answers[-1].headers["RateLimit-Policy"]
        workers = {pid for pid, _ in access_log(vrm.log("gunicorn"), "POST /oauth/token")}
        assert len(workers) >= 2

        # Behind a proxy speaking the PROXY protocol, the client's own address reaches the
        # app (and so the per-address limits), not the proxy's.
        answer = through_proxy(vrm.base, "203.0.113.7", "/healthz?via=proxy")
        assert answer.startswith(b"HTTP/1.1 200 "), answer
        seen = wait_until(
            lambda: access_log(vrm.log("gunicorn"), "GET /healthz?via=proxy"),
            timeout=10,
            what="gunicorn logs the proxied request",
        )
        assert [address for _, address in seen] == ["203.0.113.7"]

        # The logs name requests, never a secret or the person.
        logs = "".join(vrm.log(name) for name in ("gunicorn", "worker-0", "worker-1"))
        personal_token = person["Authorization"].removeprefix("Bearer ")
        for kept in (creds["client_secret"], personal_token, PASSWORD, EMAIL, "Lovelace"):
            assert kept not in logs
