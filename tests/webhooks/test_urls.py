"""Where a webhook may point. In test and development: https anywhere, plain http only to
a loopback host. In production: https only, to a host whose every address is public,
checked when the endpoint is saved and again before each attempt, with the connection
pinned to the address that was checked. DNS is faked (it is the edge of the world), and
so is the vendor's server (an httpx MockTransport)."""

from __future__ import annotations

import ipaddress
import json
import socket
import types
import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from flask import Flask

from tests.consents.conftest import VendorApi
from tests.webhooks.conftest import add_endpoint
from vrm import clock
from vrm.errors import ValidationFailed
from vrm.events import signing, urls
from vrm.events.delivery import Dispatcher, Job, Sender
from vrm.events.urls import check_url

WEBHOOKS = "/vendor/v1/webhooks"
PROBLEM_JSON = "application/problem+json"
PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:4700:4700::1111"


class FakeDns:
    """``getaddrinfo`` over a table of names; an IP literal resolves to itself, as the
    real one does, and an unknown name fails to resolve."""

    def __init__(self) -> None:
        self.table: dict[str, list[str]] = {}
        self.asked: list[str] = []

    def __call__(self, host: str, port: int, *args: Any, **kwargs: Any) -> list[tuple]:
        self.asked.append(host)
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            if host.lower() not in self.table:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = self.table[host.lower()]
        found = []
        for address in addresses:
            bare = address.split("%")[0]
            if ipaddress.ip_address(bare).version == 6:
                found.append((socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0)))
            else:
                found.append((socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)))
        return found


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """Name resolution as vrm.events.urls sees it; the rest of the process keeps the real
    one (the test database and the receiver are untouched)."""
    fake = FakeDns()
    monkeypatch.setattr(
        urls, "socket", types.SimpleNamespace(getaddrinfo=fake, SOCK_STREAM=socket.SOCK_STREAM)
    )
    return fake


def refused_url(url: str, *, production: bool) -> str:
    with pytest.raises(ValidationFailed) as caught:
        check_url(url, production=production)
    assert caught.value.status == 422
    assert [e["field"] for e in caught.value.errors] == ["url"]
    return caught.value.detail


# Test and development


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://127.0.0.1/hook",
        "http://127.8.9.10:8080/hook",
        "http://[::1]:8080/hook",
        "http://localhost:8080/hook",
        "http://LOCALHOST/hook",
        "http://localhost.localdomain/hook",
        "https://hooks.example.com/vrm",
        "https://hooks.example.com:8443/vrm?source=vrm",
        "https://10.1.2.3/vrm",
        "HTTPS://hooks.example.com/vrm",
    ],
)
def test_in_development_https_goes_anywhere_and_http_to_loopback(dns, url):
    assert check_url(url, production=False) == url
    assert dns.asked == []  # nothing is resolved outside production


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/vrm",
        "http://10.0.0.1/vrm",
        "http://192.168.1.10:8080/vrm",
        "http://[fe80::1]/vrm",
        "http://localhost.example.com/vrm",
        "http://127.0.0.1.nip.io/vrm",
        "http://0.0.0.0:8080/vrm",
    ],
)
def test_in_development_http_to_anything_but_loopback_is_refused(dns, url):
    assert "https" in refused_url(url, production=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://169.254.169.254/latest/meta-data/",
        "http://169.254.169.254/latest/meta-data/",
        "https://[fd00:ec2::254]/latest/meta-data/",
        "https://100.100.100.200/latest/meta-data/",
    ],
)
def test_a_metadata_service_is_refused_in_every_environment(dns, url):
    refused_url(url, production=False)
    refused_url(url, production=True)


@pytest.mark.parametrize("url", ["https://[::1", "https://[", "http://[fe80::1%eth0"])
def test_a_malformed_ip_literal_is_refused_naming_url(dns, url):
    refused_url(url, production=False)
    refused_url(url, production=True)


@pytest.mark.parametrize(
    "url",
    [
        "https://user:secret@hooks.example.com/vrm",
        "https://user@hooks.example.com/vrm",
        "https://:secret@hooks.example.com/vrm",
        "http://user:secret@127.0.0.1:8080/vrm",
        "https://hooks.example.com/vrm#fragment",
        "https://hooks.example.com:0x1bb/vrm",
        "https://hooks.example.com:65536/vrm",
        "ftp://hooks.example.com/vrm",
        "javascript:alert(1)",
        "file:///etc/passwd",
        "https:///vrm",
        "//hooks.example.com/vrm",
        "hooks.example.com",
    ],
)
@pytest.mark.parametrize("production", [False, True])
def test_urls_with_credentials_fragments_or_no_https_host_are_refused(dns, url, production):
    dns.table["hooks.example.com"] = [PUBLIC_V4]
    refused_url(url, production=production)


# Production: http refused, every address must be public


def test_in_production_http_is_refused_even_to_loopback(dns):
    dns.table["hooks.example.com"] = [PUBLIC_V4]
    for url in ("http://127.0.0.1:8080/hook", "http://localhost/hook", "http://hooks.example.com/"):
        assert "https" in refused_url(url, production=True)


@pytest.mark.parametrize(
    "address",
    [
        PUBLIC_V4,
        "8.8.8.8",
        "1.1.1.1",
        PUBLIC_V6,
        "2a00:1450:4001:82b::200e",
        "::ffff:93.184.216.34",  # judged as the IPv4 address it maps
    ],
)
def test_in_production_a_host_with_a_public_address_is_accepted(dns, address):
    dns.table["hooks.example.com"] = [address]
    url = "https://hooks.example.com/vrm"
    assert check_url(url, production=True) == url
    assert dns.asked == ["hooks.example.com"]


def test_in_production_a_host_with_several_public_addresses_is_accepted(dns):
    dns.table["hooks.example.com"] = [PUBLIC_V4, "1.1.1.1", PUBLIC_V6]
    assert check_url("https://hooks.example.com/", production=True)


NOT_PUBLIC = [
    # private (RFC 1918)
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "172.31.255.254",
    "192.168.0.1",
    "192.168.255.254",
    # loopback
    "127.0.0.1",
    "127.10.20.30",
    "::1",
    # link-local
    "169.254.0.1",
    "169.254.255.254",
    "fe80::1",
    "fe80::1%eth0",
    "febf:ffff::1",
    # metadata services
    "169.254.169.254",
    "fd00:ec2::254",
    "100.100.100.200",
    # unique-local
    "fc00::1",
    "fd12:3456:789a::1",
    # carrier-grade NAT
    "100.64.0.1",
    "100.127.255.254",
    # unspecified
    "0.0.0.0",
    "::",
    # multicast
    "224.0.0.1",
    "239.255.255.250",
    "ff02::1",
    "ff0e::1",
    # IPv4-mapped IPv6 of non-public addresses
    "::ffff:10.0.0.1",
    "::ffff:192.168.1.1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    # other reserved ranges
    "0.1.2.3",
    "192.0.2.10",
    "198.18.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "2001:db8::1",
    # IPv6 forms that carry or reach an IPv4 address, and deprecated site-local
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b:1::1",
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::7f00:1",  # IPv4-compatible 127.0.0.1
    "fec0::1",
]


@pytest.mark.parametrize("address", NOT_PUBLIC)
def test_in_production_a_host_resolving_to_a_non_public_address_is_refused(dns, address):
    dns.table["internal.example.com"] = [address]
    detail = refused_url("https://internal.example.com/vrm", production=True)
    assert "internal.example.com" in detail


@pytest.mark.parametrize("address", [a for a in NOT_PUBLIC if "%" not in a])
def test_in_production_a_non_public_address_literal_is_refused(dns, address):
    literal = f"[{address}]" if ":" in address else address
    refused_url(f"https://{literal}/vrm", production=True)


@pytest.mark.parametrize(
    "addresses",
    [
        [PUBLIC_V4, "10.0.0.7"],
        ["10.0.0.7", PUBLIC_V4],
        [PUBLIC_V6, "fd00::7"],
        [PUBLIC_V4, PUBLIC_V6, "::ffff:192.168.0.7"],
    ],
)
def test_in_production_a_host_resolving_to_public_and_private_addresses_is_refused(dns, addresses):
    dns.table["mixed.example.com"] = addresses
    refused_url("https://mixed.example.com/vrm", production=True)


def test_in_production_a_host_that_does_not_resolve_is_refused(dns):
    assert "does not resolve" in refused_url("https://nowhere.example.com/", production=True)


def test_in_production_an_explicit_port_is_checked_too(dns):
    dns.table["hooks.example.com"] = [PUBLIC_V4]
    assert check_url("https://hooks.example.com:8443/vrm", production=True)
    dns.table["internal.example.com"] = ["10.0.0.1"]
    refused_url("https://internal.example.com:8443/vrm", production=True)


# The same rules through the API


@pytest.fixture
def production(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The running app judges webhook URLs as in production."""
    monkeypatch.setitem(app.extensions["vrm"].settings, "ENV", "production")


def assert_refused_naming_url(response: Any) -> None:
    assert response.status_code == 422, response.json
    assert response.mimetype == PROBLEM_JSON
    assert [e["field"] for e in response.json["errors"]] == ["url"]


def test_the_api_in_test_mode_takes_loopback_http_and_https_anywhere(dns, hooks_vendor):
    for url in (
        "http://127.0.0.1:8080/hook",
        "http://[::1]:8080/hook",
        "http://localhost:8080/hook",
        "https://hooks.example.com/vrm",
    ):
        assert add_endpoint(hooks_vendor, url)["url"] == url
    for url in ("http://hooks.example.com/vrm", "https://169.254.169.254/", "https://u:p@h.io/"):
        assert_refused_naming_url(hooks_vendor.post(WEBHOOKS, json={"url": url}))
    assert dns.asked == []


@pytest.mark.parametrize("address", ["10.0.0.1", "169.254.169.254", "::1", "100.64.0.1"])
def test_the_api_in_production_refuses_a_host_resolving_to_a_private_address(
    dns, production, hooks_vendor, address
):
    dns.table["internal.example.com"] = [address]
    response = hooks_vendor.post(WEBHOOKS, json={"url": "https://internal.example.com/vrm"})
    assert_refused_naming_url(response)
    assert "internal.example.com" in response.json["detail"]
    assert hooks_vendor.get(WEBHOOKS).json["data"] == []


def test_the_api_in_production_refuses_plain_http_even_to_loopback(dns, production, hooks_vendor):
    assert_refused_naming_url(hooks_vendor.post(WEBHOOKS, json={"url": "http://127.0.0.1:9/h"}))
    assert_refused_naming_url(hooks_vendor.post(WEBHOOKS, json={"url": "http://localhost/h"}))


def test_the_api_in_production_refuses_a_name_with_one_private_address_among_public_ones(
    dns, production, hooks_vendor
):
    dns.table["mixed.example.com"] = [PUBLIC_V4, "192.168.0.9"]
    assert_refused_naming_url(
        hooks_vendor.post(WEBHOOKS, json={"url": "https://mixed.example.com/vrm"})
    )


def test_the_api_in_production_accepts_a_public_host_and_checks_a_changed_url(
    dns, production, hooks_vendor
):
    dns.table["hooks.example.com"] = [PUBLIC_V4, PUBLIC_V6]
    dns.table["internal.example.com"] = ["172.20.0.3"]
    made = add_endpoint(hooks_vendor, "https://hooks.example.com/vrm")
    assert dns.asked == ["hooks.example.com"]

    path = f"{WEBHOOKS}/{made['id']}"
    moved = hooks_vendor.client.patch(
        path, json={"url": "https://internal.example.com/vrm"}, headers=hooks_vendor.auth
    )
    assert_refused_naming_url(moved)
    assert hooks_vendor.get(path).json["url"] == "https://hooks.example.com/vrm"


# At delivery time: checked again, and pinned to the checked address


class Vendor:
    """The vendor's server: records each request and answers 204."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        return httpx.Response(204)


@pytest.fixture
def vendor_server() -> Vendor:
    return Vendor()


@pytest.fixture
def sender_for(vendor_server: Vendor) -> Iterator[Callable[..., Sender]]:
    made: list[Sender] = []

    def make(env: str = "production") -> Sender:
        sender = Sender(
            {"ENV": env, "WEBHOOK_TIMEOUT_S": 5}, transport=httpx.MockTransport(vendor_server)
        )
        made.append(sender)
        return sender

    yield make
    for sender in made:
        sender.close()


def job(url: str, secret: str | None = None) -> Job:
    body = json.dumps({"id": "e1", "type": "consent.given", "data": {}}).encode()
    return Job(
        delivery_id=uuid.uuid4(),
        claim_token=uuid.uuid4(),
        attempt=1,
        message_id=str(uuid.uuid4()),
        endpoint_id=uuid.uuid4(),
        url=url,
        secrets=[secret or signing.new_secret()],
        body=body,
    )


@pytest.mark.parametrize("address", ["10.0.0.7", "127.0.0.1", "169.254.169.254", "fd00::1"])
def test_a_host_that_now_resolves_to_a_private_address_is_not_sent_to(
    dns, sender_for, vendor_server, address
):
    # The URL was accepted when it pointed at a public address; DNS has changed since.
    dns.table["hooks.example.com"] = [address]
    outcome = sender_for().send(job("https://hooks.example.com/vrm"))
    assert outcome.status_code is None and not outcome.succeeded
    assert outcome.error is not None and "non-public address" in outcome.error
    assert vendor_server.requests == []
    assert dns.asked == ["hooks.example.com"]


def test_a_host_that_no_longer_resolves_is_not_sent_to(dns, sender_for, vendor_server):
    outcome = sender_for().send(job("https://gone.example.com/vrm"))
    assert outcome.error is not None and "does not resolve" in outcome.error
    assert vendor_server.requests == []


def test_a_public_host_is_reached_at_the_checked_address_with_its_own_name(
    dns, sender_for, vendor_server
):
    dns.table["hooks.example.com"] = [PUBLIC_V4]
    secret = signing.new_secret()
    sent = job("https://hooks.example.com:8443/in/vrm?source=vrm", secret)
    outcome = sender_for().send(sent)
    assert outcome.status_code == 204 and outcome.succeeded and outcome.error is None

    [request] = vendor_server.requests
    assert str(request.url) == f"https://{PUBLIC_V4}:8443/in/vrm?source=vrm"
    assert request.headers["host"] == "hooks.example.com:8443"
    assert request.extensions["sni_hostname"] == "hooks.example.com"
    assert request.method == "POST" and request.content == sent.body
    # Still a Standard Webhooks request, signed over id.timestamp.body.
    assert request.headers["webhook-id"] == sent.message_id
    assert request.headers["content-type"] == "application/json"
    timestamp = int(request.headers["webhook-timestamp"])
    assert request.headers["webhook-signature"] == signing.signature(
        secret, sent.message_id, timestamp, sent.body
    )


def test_a_public_ipv6_host_is_reached_at_the_bracketed_address(dns, sender_for, vendor_server):
    dns.table["hooks.example.com"] = [PUBLIC_V6]
    assert sender_for().send(job("https://hooks.example.com/vrm")).succeeded
    [request] = vendor_server.requests
    assert str(request.url) == f"https://[{PUBLIC_V6}]/vrm"
    assert request.headers["host"] == "hooks.example.com"
    assert request.extensions["sni_hostname"] == "hooks.example.com"


def test_a_url_without_a_path_is_pinned_to_the_root(dns, sender_for, vendor_server):
    dns.table["hooks.example.com"] = [PUBLIC_V4]
    assert sender_for().send(job("https://hooks.example.com")).succeeded
    [request] = vendor_server.requests
    assert str(request.url) == f"https://{PUBLIC_V4}/"
    assert request.headers["host"] == "hooks.example.com"


def test_outside_production_the_sender_resolves_nothing_and_sends_as_given(
    dns, sender_for, vendor_server
):
    outcome = sender_for("test").send(job("http://127.0.0.1:8080/hook"))
    assert outcome.succeeded
    [request] = vendor_server.requests
    assert str(request.url) == "http://127.0.0.1:8080/hook"
    assert request.headers["host"] == "127.0.0.1:8080"
    assert "sni_hostname" not in request.extensions
    assert dns.asked == []


def test_the_dispatcher_records_a_refused_address_and_sends_once_dns_is_public_again(
    app: Flask, dns, vendor_server, hooks_vendor: VendorApi, frozen_clock
):
    made = add_endpoint(hooks_vendor, "https://hooks.example.com/vrm")  # test mode: no DNS
    hooks_vendor.post(f"{WEBHOOKS}/{made['id']}/test")
    rt = app.extensions["vrm"]
    settings = {
        **rt.settings,
        "ENV": "production",
        "WEBHOOK_TIMEOUT_S": 1,
        "WEBHOOK_LEASE_S": 4,
        "WEBHOOK_POLL_MS": 20,
    }
    dispatcher = Dispatcher(
        rt.sessions, rt.keyring, settings, transport=httpx.MockTransport(vendor_server)
    )
    try:
        dns.table["hooks.example.com"] = ["10.0.0.7"]  # rebound to an internal address
        assert dispatcher.deliver_due() == 1
        assert vendor_server.requests == []
        [delivery] = hooks_vendor.get(f"{WEBHOOKS}/{made['id']}/deliveries").json["data"]
        assert delivery["state"] == "pending"
        assert delivery["last_status_code"] is None
        # The vendor learns the address is refused, not which internal address it is.
        assert "non-public" in delivery["last_error"]
        assert "10.0.0.7" not in delivery["last_error"]
        assert delivery["attempts"][0]["error"] == delivery["last_error"]

        dns.table["hooks.example.com"] = [PUBLIC_V4]
        frozen_clock[0] = clock.now() + timedelta(minutes=5)
        assert dispatcher.deliver_due() == 1
    finally:
        dispatcher.close()
    [request] = vendor_server.requests
    assert str(request.url) == f"https://{PUBLIC_V4}/vrm"
    assert request.headers["host"] == "hooks.example.com"
    assert request.headers["webhook-id"] == delivery["event_id"]
    [done] = hooks_vendor.get(f"{WEBHOOKS}/{made['id']}/deliveries").json["data"]
    assert done["state"] == "succeeded" and done["attempt_count"] == 2
