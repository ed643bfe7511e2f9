"""The commands of the README, run as a user runs them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

VRM = [sys.executable, "-m", "vrm.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRM_")}
    env["VRM_INSTANCE_PATH"] = str(tmp_path / "instance")
    return env


def test_db_upgrade_then_serve_answers_healthz_and_pages(tmp_path):
    env = clean_env(tmp_path)
    upgrade = subprocess.run(
        [*VRM, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert upgrade.returncode == 0, upgrade.stderr
    assert (tmp_path / "instance" / "vrm.sqlite3").exists()
    check = subprocess.run(
        [*VRM, "db", "check"], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    assert check.returncode == 0, check.stdout + check.stderr

    port = free_port()
    server = subprocess.Popen(
        [*VRM, "serve", "--port", str(port)],
        env={**env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                health = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"
        assert "Sign up" in httpx.get(f"{base}/signup").text
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_port_comes_from_the_environment(tmp_path):
    env = clean_env(tmp_path)
    port = free_port()
    subprocess.run([*VRM, "db", "upgrade"], env=env, capture_output=True, timeout=120, check=True)
    server = subprocess.Popen(
        [*VRM, "serve"],
        env={**env, "PORT": str(port)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            raise AssertionError("vrm serve did not listen on $PORT")
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_keys_new_writes_a_private_keyring_the_app_starts_with_and_never_overwrites(tmp_path):
    keys = tmp_path / "keys.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("VRM_")}
    made = subprocess.run([*VRM, "keys", "new", str(keys)], env=env, capture_output=True)
    assert made.returncode == 0, made.stderr
    assert keys.stat().st_mode & 0o777 == 0o600
    original = keys.read_text()

    env |= {
        "VRM_ENV": "production",
        "VRM_ISSUER": "https://vrm.example",
        "VRM_KEYS_FILE": str(keys),
        "VRM_DATABASE_URL": f"sqlite:///{tmp_path / 'vrm.sqlite3'}",
        "VRM_INSTANCE_PATH": str(tmp_path),
    }
    upgraded = subprocess.run([*VRM, "db", "upgrade"], env=env, capture_output=True)
    assert upgraded.returncode == 0, upgraded.stderr
    listed = subprocess.run([*VRM, "keys", "list"], env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert [k["active"] for k in json.loads(listed.stdout)] == [True]

    again = subprocess.run([*VRM, "keys", "new", str(keys)], env=env, capture_output=True)
    assert again.returncode != 0 and b"never overwritten" in again.stderr
    assert keys.read_text() == original
