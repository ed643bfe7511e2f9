"""What the webhook tests share: a real HTTP receiver the test scripts (answer codes, a
hang), vendors holding webhook tokens, and a dispatcher with short timeouts."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.consents.conftest import VendorApi, make_vendor
from vrm.events.delivery import Dispatcher

WEBHOOK_SCOPES = "webhooks:manage events:read consents:request profile:read"


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int
    at: float

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A local endpoint. ``script`` answers each request: a status code, or a number of
    seconds to hang (a float) before answering 200. Every request is kept."""

    port: int
    received: list[Received] = field(default_factory=list)
    script: Callable[[Received], int | float] = lambda _request: 200
    lock: threading.Lock = field(default_factory=threading.Lock)
    release: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 10, path: str | None = None) -> list[Received]:
        """Wait until ``count`` requests (to ``path``, if given) have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(path)
            if len(found) >= count:
                return found
            time.sleep(0.02)
        raise AssertionError(f"{len(self.to(path))} of {count} requests arrived in {timeout}s")

    def to(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if path is None or r.path == path]


def _handler(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            request = Received(
                self.path, {k.lower(): v for k, v in self.headers.items()}, body, 0, time.time()
            )
            answer = receiver.script(request)
            if isinstance(answer, float):
                # Hang until the test is over or the time passes; the client times out.
                receiver.release.wait(answer)
                answer = 200
            request.status = answer
            with receiver.lock:
                receiver.received.append(request)
            self.send_response(answer)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    return Handler


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(Receiver(0)))
    made = Receiver(server.server_port)
    server.RequestHandlerClass = _handler(made)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def hooks_vendor(app: Flask, client: FlaskClient) -> VendorApi:
    """A vendor whose token can manage webhooks and read events."""
    vendor = make_vendor(app, client, "Acme Shop")
    vendor.new_token(WEBHOOK_SCOPES)
    return vendor


def add_endpoint(vendor: VendorApi, url: str, **body: Any) -> dict[str, Any]:
    response = vendor.post("/vendor/v1/webhooks", json={"url": url, **body})
    assert response.status_code == 201, response.json
    return response.json


def quick_settings(app: Flask, **overrides: Any) -> dict[str, Any]:
    """The app's settings with the short webhook timeouts the delivery tests run with."""
    return {
        **app.extensions["vrm"].settings,
        "WEBHOOK_TIMEOUT_S": 1,
        "WEBHOOK_LEASE_S": 4,
        "WEBHOOK_POLL_MS": 20,
        **overrides,
    }


@pytest.fixture
def dispatcher_for(app: Flask) -> Iterator[Callable[..., Dispatcher]]:
    """Dispatchers on the test database; settings may be overridden (short timeouts)."""
    made: list[Dispatcher] = []

    def make(**overrides: Any) -> Dispatcher:
        rt = app.extensions["vrm"]
        dispatcher = Dispatcher(rt.sessions, rt.keyring, quick_settings(app, **overrides))
        made.append(dispatcher)
        return dispatcher

    yield make
    for dispatcher in made:
        dispatcher.close()


@contextmanager
def receiver_on(port: int = 0) -> Iterator[Receiver]:
    """A receiver like the ``receiver`` fixture's, on the given port, with room for many
    connections at once (the default listen backlog of 5 drops connections under load, and
    the client then waits a second to retry them)."""

    class Server(ThreadingHTTPServer):
        request_queue_size = 128
        daemon_threads = True

    made = Receiver(port)
    server = Server(("127.0.0.1", port), _handler(made))
    made.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield made
    finally:
        made.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
