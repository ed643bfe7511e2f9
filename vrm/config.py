"""Configuration: defaults in code, then ``VRM_*`` environment variables, then a dict.

Nothing here touches the disk or the network; the app factory does that.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from limits import parse_many

# The OWASP floor for argon2id (m=19 MiB, t=2, p=1); configuration may only go above it.
ARGON2_FLOOR = {"ARGON2_MEMORY_KIB": 19_456, "ARGON2_TIME_COST": 2, "ARGON2_PARALLELISM": 1}

DEFAULTS: dict[str, Any] = {
    "ENV": "development",
    # None means an SQLite file under the instance folder.
    "DATABASE_URL": None,
    "INSTANCE_PATH": None,
    # The OAuth issuer identifier, exactly as published; None means this request's origin.
    "ISSUER": None,
    # Path of the JSON keyring; production may pass the JSON itself in VRM_KEYS instead.
    "KEYS_FILE": None,
    "KEYS": None,
    "MAX_CONTENT_LENGTH": 64 * 1024,
    "RATELIMIT_STORAGE_URL": "memory://",
    # Names this deployment's counters in a shared store, so two deployments on one Redis
    # database never count together.
    "RATELIMIT_KEY_PREFIX": "vrm",
    "LOGIN_RATE_LIMIT": "10 per minute",
    "SIGNUP_RATE_LIMIT": "20 per hour",
    # Generous ceilings against abuse, not quotas (Flask-Limiter notation, "N per period"):
    # tokens issued at /oauth/token per client (and refused attempts per address),
    "OAUTH_TOKEN_RATE_LIMIT": "300 per minute",
    # personal access tokens created per account (API and web page together),
    "PERSONAL_TOKEN_RATE_LIMIT": "60 per hour",
    # offers made per vendor,
    "OFFER_RATE_LIMIT": "300 per minute",
    # messages written per vendor, and per person (API and web page together).
    "MESSAGE_RATE_LIMIT": "120 per minute",
    # RFC 9106's second recommended profile, well above the OWASP floor.
    "ARGON2_MEMORY_KIB": 65_536,
    "ARGON2_TIME_COST": 3,
    "ARGON2_PARALLELISM": 4,
    "PAGE_SIZE_DEFAULT": 20,
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    # Webhook delivery (vrm worker): a whole attempt ends within the timeout; a claimed
    # delivery is leased for LEASE seconds, after which another worker sends it again
    # (same webhook-id).
    "WEBHOOK_TIMEOUT_S": 10,
    "WEBHOOK_LEASE_S": 60,
    "WEBHOOK_CONCURRENCY": 32,
    # At most this many deliveries in flight to one endpoint, across every worker.
    "WEBHOOK_ENDPOINT_CONCURRENCY": 4,
    "WEBHOOK_POLL_MS": 200,
    # An endpoint failing without a single success for this long is disabled.
    "WEBHOOK_DISABLE_AFTER_HOURS": 72,
    # After a secret rotation the old secret keeps signing (beside the new) this long.
    "WEBHOOK_SECRET_GRACE_HOURS": 24,
    "EVENT_RETENTION_DAYS": 30,
    # Periodic jobs (vrm worker), each run once per period however many workers run:
    # expiring consents, intentions and offers every EXPIRY_PERIOD_S, the purges every
    # PURGE_PERIOD_S; the record of which worker ran what is kept JOB_RUN_RETENTION_DAYS.
    "EXPIRY_PERIOD_S": 60,
    "PURGE_PERIOD_S": 3600,
    "JOB_RUN_RETENTION_DAYS": 7,
}

_INTS = {name for name, value in DEFAULTS.items() if isinstance(value, int)}


class ConfigError(RuntimeError):
    """The configuration cannot run the service."""


def from_environ(environ: Mapping[str, str]) -> dict[str, Any]:
    """Read every known setting from ``VRM_<NAME>`` variables."""
    found: dict[str, Any] = {}
    for name in DEFAULTS:
        raw = environ.get(f"VRM_{name}")
        if raw is None or raw == "":
            continue
        if name in _INTS:
            try:
                found[name] = int(raw)
            except ValueError:
                raise ConfigError(f"VRM_{name} must be an integer, got {raw!r}") from None
        else:
            found[name] = raw
    return found


def load(
    overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """Merge defaults, the environment and explicit overrides, then check the result."""
    settings = dict(DEFAULTS)
    settings.update(from_environ(os.environ if environ is None else environ))
    settings.update(overrides or {})
    if settings["ENV"] not in {"development", "production", "test"}:
        raise ConfigError("VRM_ENV must be development, production or test")
    if settings["ENV"] == "production" and not settings["ISSUER"]:
        # Otherwise the issuer would follow each request's Host header.
        raise ConfigError("VRM_ENV=production needs VRM_ISSUER, the public origin")
    if settings["WEBHOOK_LEASE_S"] <= 3 * settings["WEBHOOK_TIMEOUT_S"]:
        # The lease must outlast an attempt (its timeout) with room for resolving the
        # host and recording the result, or a slow success would be sent again.
        raise ConfigError("VRM_WEBHOOK_LEASE_S must exceed three times VRM_WEBHOOK_TIMEOUT_S")
    for name in (
        "WEBHOOK_TIMEOUT_S",
        "WEBHOOK_CONCURRENCY",
        "WEBHOOK_ENDPOINT_CONCURRENCY",
        "EXPIRY_PERIOD_S",
        "PURGE_PERIOD_S",
        "JOB_RUN_RETENTION_DAYS",
    ):
        if settings[name] < 1:
            raise ConfigError(f"VRM_{name} must be at least 1")
    longest = max(settings["EXPIRY_PERIOD_S"], settings["PURGE_PERIOD_S"])
    if settings["JOB_RUN_RETENTION_DAYS"] * 86_400 <= 2 * longest:
        # A purge would forget the claim of a period still running, which would then run
        # again: the ledger must outlive at least two of the longest periods.
        raise ConfigError(
            "VRM_JOB_RUN_RETENTION_DAYS must be longer than two of the longest job periods"
        )
    for name in (n for n in settings if n.endswith("_RATE_LIMIT")):
        try:
            parse_many(settings[name])
        except ValueError:
            raise ConfigError(
                f"VRM_{name} must be a rate such as '10 per minute', got {settings[name]!r}"
            ) from None
    for name, floor in ARGON2_FLOOR.items():
        if settings[name] < floor:
            raise ConfigError(f"VRM_{name} must be at least {floor} (OWASP minimum for argon2id)")
    return settings
