from __future__ import annotations

import uuid
from datetime import timedelta

from vrm.vendors.service import VendorService


def test_the_vendor_list_pages_newest_first(client, app, ada, bob, frozen_clock):
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        service = VendorService(session, rt.keyring)
        for name in ("First", "Second", "Third"):
            frozen_clock[0] += timedelta(seconds=1)
            vendor, _, _ = service.create_vendor(name)
            service.relate(vendor.id, uuid.UUID(ada.id))
    first = client.get("/personal/v1/vendors?limit=2", headers=ada.auth).json
    assert [v["name"] for v in first["data"]] == ["Third", "Second"]
    rest = client.get(
        f"/personal/v1/vendors?limit=2&cursor={first['next_cursor']}", headers=ada.auth
    ).json
    assert [v["name"] for v in rest["data"]] == ["First"]
    assert rest["next_cursor"] is None
    assert client.get("/personal/v1/vendors", headers=bob.auth).json["data"] == []
