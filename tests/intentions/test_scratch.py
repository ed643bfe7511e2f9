from tests.consents.conftest import fill_profile, make_vendor


def test_flow(app, client, ada):
    acme = make_vendor(app, client, "Acme")
    globex = make_vendor(app, client, "Globex")
    r = acme.post(
        "/vendor/v1/subscriptions",
        json={
            "categories": ["sports/cycling"],
            "regions": ["FR-IDF"],
            "price": {"currency": "EUR", "max": "1000"},
        },
    )
    assert r.status_code == 201, r.json
    r = globex.post("/vendor/v1/subscriptions", json={"categories": ["electronics"]})
    assert r.status_code == 201, r.json
    fill_profile(client, ada)
    r = client.post(
        "/personal/v1/intentions",
        headers=ada.auth,
        json={
            "title": "A gravel bike",
            "category": "sports/cycling/bicycles",
            "keywords": ["Gravel"],
            "price": {"min": "300", "max": "800.50", "currency": "EUR"},
            "location": {"region": "FR-75C", "city": "Paris"},
            "disclose": ["given_name"],
        },
    )
    assert r.status_code == 201, r.json
    print(r.json)
    iid = r.json["id"]
    assert r.json["matched_vendors"] == 1
    f = acme.get("/vendor/v1/intentions")
    assert f.status_code == 200, f.json
    print(f.json)
    assert globex.get("/vendor/v1/intentions").json["data"] == []
    assert globex.get(f"/vendor/v1/intentions/{iid}").status_code == 404
    o = acme.post(
        f"/vendor/v1/intentions/{iid}/offers",
        json={"price": "700", "currency": "EUR", "description": "Nice bike"},
    )
    print(o.json)
    assert o.status_code == 422
    o = acme.post(
        f"/vendor/v1/intentions/{iid}/offers",
        json={
            "price": "700",
            "currency": "EUR",
            "description": "Nice bike",
            "accepted_terms": ["service-delivery-only", "deletion-and-portability"],
        },
    )
    assert o.status_code == 201, o.json
    offers = client.get(f"/personal/v1/intentions/{iid}/offers", headers=ada.auth)
    print(offers.json)
    a = client.post(
        f"/personal/v1/offers/{o.json['id']}/accept",
        headers=ada.auth,
        json={"fields": ["given_name", "family_name"]},
    )
    assert a.status_code == 200, a.json
    print(a.json)
    assert (
        client.get(f"/personal/v1/intentions/{iid}", headers=ada.auth).json["matched_vendors"] == 1
    )
    assert acme.get("/vendor/v1/intentions").json["data"] == []
    p = acme.read(a.json["customer_ref"])
    print(p.json)
    # new subscription backfill + patch + block
    r = client.post(
        "/personal/v1/intentions",
        headers=ada.auth,
        json={"title": "Laptop", "category": "electronics/computers/laptops"},
    )
    iid2 = r.json["id"]
    assert [i["id"] for i in globex.get("/vendor/v1/intentions").json["data"]] == [iid2]
    r = client.patch(
        f"/personal/v1/intentions/{iid2}",
        headers=ada.auth,
        json={
            "category": "sports/cycling/e-bikes",
            "location": {"country": "FR", "region": "FR-IDF"},
            "price": {"currency": "EUR", "max": "900"},
        },
    )
    assert r.status_code == 200, r.json
    assert globex.get("/vendor/v1/intentions").json["data"] == []
    assert [i["id"] for i in acme.get("/vendor/v1/intentions").json["data"]] == [iid2]
    b = client.post("/personal/v1/blocks", headers=ada.auth, json={"vendor_id": str(acme.id)})
    assert b.status_code == 201, b.json
    assert acme.get("/vendor/v1/intentions").json["data"] == []
    print(client.get("/personal/v1/blocks", headers=ada.auth).json)
    d = client.delete(f"/personal/v1/intentions/{iid2}", headers=ada.auth)
    assert d.json["state"] == "withdrawn"
    bad = client.post(
        "/personal/v1/intentions",
        headers=ada.auth,
        json={
            "title": "x",
            "category": "nope",
        },
    )
    print(bad.json)
    bad = client.post(
        "/personal/v1/intentions",
        headers=ada.auth,
        json={"title": "x", "category": "sports", "price": {"currency": "XXY", "min": "1"}},
    )
    print(bad.json)
    bad = client.post(
        "/personal/v1/intentions",
        headers=ada.auth,
        json={
            "title": "x",
            "category": "sports",
            "price": {"currency": "EUR", "min": "10", "max": "1"},
        },
    )
    print(bad.json)
    bad = client.post(
        "/personal/v1/intentions",
        headers=ada.auth,
        json={"title": "x", "category": "sports", "expires_at": "2030-01-01T00:00:00Z"},
    )
    print(bad.json)
    print(client.get("/personal/v1/export", headers=ada.auth).status_code)
