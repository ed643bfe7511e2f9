"""Profile one workload in-process with pyinstrument: ``python -m bench.profile WORKLOAD
[--requests N] [--scale S]`` with WORKLOAD one of feed, token, publish, profile. Seeds a
fresh SQLite database (``--scale`` of the full data set), then prints where the time of N
requests went, through the Flask test client (no HTTP server, no load generator)."""

from __future__ import annotations

import argparse
import base64
import tempfile
from pathlib import Path
from typing import Any

from flask import Flask
from pyinstrument import Profiler

from bench.seed import Credentials, Seeder, Sizes, publish_bodies
from vrm.app import create_app
from vrm.crypto import KeyMaterial, Keyring
from vrm.db import make_engine
from vrm.migrate import upgrade


def seeded_app(workdir: str, scale: float) -> tuple[Flask, str, Credentials]:
    """A fresh SQLite database under ``workdir`` seeded with ``scale`` of the full data
    set, and the app over it, configured as in production."""
    full = Sizes()
    sizes = Sizes(
        persons=max(100, int(full.persons * scale)),
        vendors=max(20, int(full.vendors * scale)),
        subscriptions=max(200, int(full.subscriptions * scale)),
        intentions=max(500, int(full.intentions * scale)),
        readers=20,
    )
    url = f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"
    upgrade(url)
    keys = KeyMaterial.generate().to_json()
    creds = Seeder(make_engine(url), Keyring(KeyMaterial.from_json(keys)), sizes).run()
    app = create_app(
        {"ENV": "production", "ISSUER": "http://bench", "DATABASE_URL": url, "KEYS": keys,
         "INSTANCE_PATH": workdir, "OAUTH_TOKEN_RATE_LIMIT": "1000000 per minute"}
    )  # fmt: skip
    return app, url, creds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("workload", choices=["feed", "token", "publish", "profile"])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--scale", type=float, default=0.1)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        app, _url, creds = seeded_app(workdir, args.scale)
        client = app.test_client()
        basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
        bodies = publish_bodies(args.requests)

        def call(n: int) -> Any:
            if args.workload == "feed":
                token = creds.feed_tokens[n % len(creds.feed_tokens)]
                return client.get(
                    "/vendor/v1/intentions?limit=50", headers={"Authorization": f"Bearer {token}"}
                )
            if args.workload == "token":
                return client.post(
                    "/oauth/token",
                    headers={"Authorization": f"Basic {basic}"},
                    data={"grant_type": "client_credentials"},
                )
            if args.workload == "publish":
                token = creds.personal_tokens[n % len(creds.personal_tokens)]
                return client.post(
                    "/personal/v1/intentions",
                    headers={"Authorization": f"Bearer {token}"},
                    json=bodies[n],
                )
            ref = creds.customer_refs[n % len(creds.customer_refs)]
            return client.get(
                f"/vendor/v1/customers/{ref}/profile?purpose=ServiceProvision",
                headers={"Authorization": f"Bearer {creds.profile_token}"},
            )

        for n in range(5):  # warm up
            assert call(n).status_code < 300, call(n).get_data(as_text=True)
        profiler = Profiler(interval=0.0005)
        profiler.start()
        for n in range(args.requests):
            call(n)
        profiler.stop()
        print(profiler.output_text(unicode=False, color=False, show_all=False))


if __name__ == "__main__":
    main()
