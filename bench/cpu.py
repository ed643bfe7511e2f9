"""CPU time per request of each workload and its baselines, in-process: ``python -m bench.cpu
[--requests N] [--scale S] [--rounds R]``.

The same requests as ``make bench`` go through the Flask test client (no server, no load
generator), in alternating rounds, and each figure is the median over the rounds of the
process CPU time per request. On a machine that is busy with other work, throughput swings
with the load; CPU time per request moves much less, so this is the tool for telling
whether a change made a path cheaper. ``make bench`` remains the measure of the targets."""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

from bench.baseline import bare, minimal, minimal_write
from bench.profile import seeded_app
from bench.seed import publish_bodies


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu")
    parser.add_argument("--requests", type=int, default=200, help="per workload and round")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        app, url, creds = seeded_app(workdir, args.scale)
        os.environ["VRM_DATABASE_URL"] = url
        clients = {
            "bare": bare().test_client(),
            "minimal": minimal().test_client(),
            "write": minimal_write().test_client(),
            "app": app.test_client(),
        }
        basic = {
            "Authorization": "Basic "
            + base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
        }
        bodies = publish_bodies(args.requests * args.rounds + 10)
        served = iter(range(10**9))

        def bearer(token: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {token}"}

        def feed_of(client: str, path: str) -> Callable[[int], Any]:
            return lambda n: clients[client].get(
                path, headers=bearer(creds.feed_tokens[n % len(creds.feed_tokens)])
            )

        workloads: dict[str, Callable[[int], Any]] = {
            "bare": lambda n: clients["bare"].get("/bare"),
            "minimal feed": feed_of("minimal", "/minimal/feed?limit=50"),
            "minimal write": lambda n: clients["write"].post("/minimal/token", headers=basic),
            "1. feed": feed_of("app", "/vendor/v1/intentions?limit=50"),
            "2. token": lambda n: clients["app"].post(
                "/oauth/token", headers=basic, data={"grant_type": "client_credentials"}
            ),
            "3. publish": lambda n: clients["app"].post(
                "/personal/v1/intentions",
                headers=bearer(creds.personal_tokens[n % len(creds.personal_tokens)]),
                json=bodies[next(served)],
            ),
            "5. profile read": lambda n: clients["app"].get(
                f"/vendor/v1/customers/{creds.customer_refs[n % len(creds.customer_refs)]}"
                "/profile?purpose=ServiceProvision",
                headers=bearer(creds.profile_token),
            ),
        }
        for name, call in workloads.items():  # warm up, and check each answers
            for n in range(5):
                response = call(n)
                assert response.status_code < 300, (name, response.get_data(as_text=True))
        spent: dict[str, list[float]] = {name: [] for name in workloads}
        for _ in range(args.rounds):
            for name, call in workloads.items():
                began = time.process_time()
                for n in range(args.requests):
                    call(n)
                spent[name].append((time.process_time() - began) / args.requests * 1000)
        ms = {name: statistics.median(values) for name, values in spent.items()}
        against = {
            "minimal feed": "bare",
            "minimal write": "bare",
            "1. feed": "minimal feed",
            "2. token": "minimal write",
            "3. publish": "minimal write",
            "5. profile read": "minimal write",
        }
        print("| workload | CPU ms/request | requests per CPU-second vs |")
        print("|---|---|---|")
        for name, value in ms.items():
            ratios = [f"{ms['bare'] / value:.2f} x bare"] if name != "bare" else []
            if name in against and against[name] != "bare":
                ratios.append(f"{ms[against[name]] / value:.2f} x {against[name]}")
            print(f"| {name} | {value:.3f} | {', '.join(ratios)} |")


if __name__ == "__main__":
    main()
