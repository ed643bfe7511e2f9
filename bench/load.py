"""Driving load from a separate process: wrk (Debian's package) with a generated Lua
script, or, where wrk is not installed, a small threaded Python generator with the same
output (good enough for the smoke run; the real benchmark wants wrk)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

MARK = "BENCH_JSON "


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: str = ""


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    generator: str

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def _lua_string(text: str) -> str:
    level = "=" * 3
    assert f"]{level}]" not in text
    return f"[{level}[{text}]{level}]"


def lua_script(requests: list[Request]) -> str:
    def spec(r: Request) -> str:
        body = _lua_string(r.body) if r.body else "nil"
        headers = ", ".join(f"[ {_lua_string(k)} ]={_lua_string(v)}" for k, v in r.headers.items())
        return (
            f"{{method={_lua_string(r.method)}, path={_lua_string(r.path)}, "
            f"body={body}, headers={{{headers}}}}}"
        )

    specs = ",\n".join(spec(r) for r in requests)
    return (
        "local specs = {\n" + specs + "\n}\n"
        """
local reqs = {}
local i = 0
function init(args)
  for k, s in ipairs(specs) do
    reqs[k] = wrk.format(s.method, s.path, s.headers, s.body)
  end
  i = math.random(#reqs)
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"errors":%d}\\n',
    "BENCH_JSON ", summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
"""
    )


def have_wrk() -> bool:
    return shutil.which("wrk") is not None


def run(
    base_url: str,
    requests: list[Request],
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    force_python: bool = False,
) -> LoadResult:
    if have_wrk() and not force_python:
        return _wrk(base_url, requests, seconds=seconds, connections=connections, threads=threads)
    return _python(base_url, requests, seconds=seconds, connections=connections)


def _wrk(
    base_url: str, requests: list[Request], *, seconds: float, connections: int, threads: int
) -> LoadResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as handle:
        handle.write(lua_script(requests))
        script = handle.name
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{max(connections, threads)}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "30s",
                "-s",
                script,
                base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        Path(script).unlink()
    line = next(x for x in out.splitlines() if x.startswith(MARK))
    doc = json.loads(line[len(MARK) :])
    return LoadResult(
        requests=doc["requests"],
        seconds=doc["duration_us"] / 1e6,
        p50_ms=doc["p50_us"] / 1000,
        p99_ms=doc["p99_us"] / 1000,
        errors=doc["errors"],
        generator="wrk",
    )


def _python(
    base_url: str, requests: list[Request], *, seconds: float, connections: int
) -> LoadResult:
    """The fallback, in a child process so it never shares a GIL with anything measured."""
    spec = {
        "base_url": base_url,
        "requests": [r.__dict__ for r in requests],
        "seconds": seconds,
        "connections": connections,
    }
    out = subprocess.run(
        [sys.executable, "-m", "bench.load"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return LoadResult(**json.loads(out))


def _generate(spec: dict[str, Any]) -> dict[str, Any]:
    import http.client

    parts = urlsplit(spec["base_url"])
    reqs = [Request(**r) for r in spec["requests"]]
    deadline = time.monotonic() + spec["seconds"]
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker(offset: int) -> None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        mine: list[float] = []
        n = offset
        while time.monotonic() < deadline:
            r = reqs[n % len(reqs)]
            n += 1
            started = time.perf_counter()
            try:
                conn.request(r.method, r.path, body=r.body or None, headers=r.headers)
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    with lock:
                        errors[0] += 1
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                with lock:
                    errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                continue
            mine.append(time.perf_counter() - started)
        with lock:
            latencies.extend(mine)

    started = time.monotonic()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(spec["connections"])]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0
        )

    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors[0],
        "generator": "python",
    }


if __name__ == "__main__":
    print(json.dumps(_generate(json.load(sys.stdin))))
