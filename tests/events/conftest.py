"""What the event tests share: the intention tests' three vendors, and a vendor's events
read back from its feed."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Flask

from tests.conftest import Account
from tests.consents.conftest import VendorApi
from tests.intentions.conftest import acme, globex, initech  # noqa: F401 - shared fixtures
from vrm.events.feed import EventFeed


def feed_page(
    app: Flask, vendor: VendorApi, cursor: str | None = None, limit: int = 1000
) -> tuple[list[dict[str, Any]], str, bool]:
    """One page of the vendor's events feed: (events, next cursor, more)."""
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        return EventFeed(session, rt.keyring).page(vendor.id, cursor=cursor, limit=limit)


def events(app: Flask, vendor: VendorApi) -> list[dict[str, Any]]:
    """Every event the vendor has, oldest first."""
    found, _, more = feed_page(app, vendor)
    assert not more
    return found


def kinds(app: Flask, vendor: VendorApi) -> list[str]:
    return [event["type"] for event in events(app, vendor)]


def data_of(app: Flask, vendor: VendorApi, event_type: str) -> list[dict[str, Any]]:
    """The data of each of the vendor's events of one type, oldest first."""
    return [e["data"] for e in events(app, vendor) if e["type"] == event_type]


def ref(app: Flask, vendor: VendorApi, person: Account) -> str:
    """The person's customer_ref at this vendor."""
    return app.extensions["vrm"].keyring.pseudonym(vendor.id, uuid.UUID(person.id))
