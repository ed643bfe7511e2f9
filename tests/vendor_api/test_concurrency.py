"""Single use under concurrency: codes, refresh tokens and initial access tokens are each
spent by one atomic UPDATE, so of many simultaneous requests exactly one wins."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import httpx
from flask import Flask

from tests.conftest import Account
from tests.vendor_api.conftest import Browser, VendorCreds, authorize, exchange
from vrm.vendors.service import VendorService

RACERS = 6


def race(live_server: str, send: Callable[[httpx.Client], httpx.Response]) -> list[int]:
    """Send the same request from several threads at once; their status codes."""
    barrier = threading.Barrier(RACERS)

    def one(_: int) -> int:
        with httpx.Client(base_url=live_server, trust_env=False, timeout=30) as client:
            barrier.wait()
            return send(client).status_code

    with ThreadPoolExecutor(RACERS) as pool:
        return sorted(pool.map(one, range(RACERS)))


def test_a_code_redeemed_at_once_many_times_issues_tokens_once(
    live_server: str, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    auth = authorize(live_server, browser, vendor, ada)
    form = {
        "grant_type": "authorization_code",
        "code": auth.code,
        "redirect_uri": vendor.redirect_uri,
        "code_verifier": auth.code_verifier,
    }
    statuses = race(
        live_server,
        lambda c: c.post("/oauth/token", data=form, auth=(vendor.client_id, vendor.client_secret)),
    )
    assert statuses == [200] + [400] * (RACERS - 1)


def test_a_refresh_token_used_at_once_many_times_rotates_once(
    live_server: str, browser: Browser, vendor: VendorCreds, ada: Account
) -> None:
    tokens = exchange(live_server, vendor, authorize(live_server, browser, vendor, ada))
    form = {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
    statuses = race(
        live_server,
        lambda c: c.post("/oauth/token", data=form, auth=(vendor.client_id, vendor.client_secret)),
    )
    assert statuses == [200] + [400] * (RACERS - 1)


def test_an_initial_access_token_used_at_once_many_times_registers_once(
    app: Flask, live_server: str
) -> None:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        token = VendorService(session, rt.keyring).issue_registration_token()
    statuses = race(
        live_server,
        lambda c: c.post(
            "/oauth/register",
            json={"client_name": "Racer"},
            headers={"Authorization": f"Bearer {token}"},
        ),
    )
    assert statuses == [201] + [401] * (RACERS - 1)
