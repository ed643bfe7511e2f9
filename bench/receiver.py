"""A local webhook receiver for the dispatch workload: HTTP/1.1 with keep-alive on asyncio,
answering 204 at once, checking each Standard Webhooks signature and noting when each
``webhook-id`` arrived. ``GET /stats`` returns what it saw.

Run as ``python -m bench.receiver PORT SECRETS_JSON`` (a list of ``whsec_`` secrets; the
endpoint ``/hook/N`` signs with the N-th)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import sys
import time


class Receiver:
    def __init__(self, secrets: list[str]):
        self.keys = [base64.b64decode(s.removeprefix("whsec_")) for s in secrets]
        self.arrivals: dict[str, float] = {}
        self.deliveries = 0
        self.bad = 0

    def check(self, path: str, headers: dict[str, str], body: bytes) -> None:
        message_id = headers.get("webhook-id", "")
        signed = f"{message_id}.{headers.get('webhook-timestamp', '')}.".encode() + body
        try:
            key = self.keys[int(path.rsplit("/", 1)[1])]
        except (ValueError, IndexError):
            self.bad += 1
            return
        expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        offered = [s.partition(",")[2] for s in headers.get("webhook-signature", "").split()]
        if not any(hmac.compare_digest(expected, s) for s in offered):
            self.bad += 1
        self.deliveries += 1
        self.arrivals.setdefault(message_id, time.time())

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    name, sep, value = line.partition(":")
                    if sep:
                        headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                if method == "GET" and path == "/stats":
                    payload = json.dumps(
                        {"arrivals": self.arrivals, "deliveries": self.deliveries, "bad": self.bad}
                    ).encode()
                    writer.write(
                        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                        + f"Content-Length: {len(payload)}\r\n\r\n".encode()
                        + payload
                    )
                else:
                    self.check(path, headers, body)
                    writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        finally:
            writer.close()


async def serve(port: int, secrets: list[str]) -> None:
    receiver = Receiver(secrets)
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", port, backlog=256)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    with open(sys.argv[2]) as handle:
        asyncio.run(serve(int(sys.argv[1]), json.load(handle)))
