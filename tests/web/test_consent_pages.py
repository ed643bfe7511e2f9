"""The terms, consents, consent-request and access-log pages: through Flask's test client
(CSRF on every new form, ownership, errors next to their inputs) and in a real browser
(approve a narrowed request, withdraw, and see a tampered access log reported)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from html import unescape
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Page, expect
from sqlalchemy import select, update

from tests.conftest import Account
from tests.web.test_browser import field, log_in
from tests.web.test_pages import csrf_from, web_login
from vrm.audit.models import AuditEvent
from vrm.consents.models import Consent, ConsentEvent
from vrm.consents.service import ConsentService
from vrm.errors import Forbidden
from vrm.terms.roster import DEFAULT_TERMS, ROSTER
from vrm.terms.service import TermsService
from vrm.vendors.models import Vendor
from vrm.vendors.service import VendorService

PROFILE = "/personal/v1/profile"
VENDOR_SCOPE = "consents:request profile:read"


@dataclass
class Asked:
    """A vendor that accepted the person's default terms, and its request to the person."""

    vendor: Vendor
    customer_ref: str
    consent_id: uuid.UUID


def vendor_asks(
    app: Flask,
    person_id: str,
    *,
    name: str = "Velo",
    fields: tuple[str, ...] = ("given_name", "phone"),
    purposes: tuple[str, ...] = ("CustomerCare",),
    days: int | None = 30,
    message: str | None = "So we can call you",
) -> Asked:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        vendors = VendorService(session, rt.keyring)
        vendor, _client, _secret = vendors.create_vendor(name, scope=VENDOR_SCOPE)
        TermsService(session, rt.keyring).set_for_vendor(vendor.id, list(DEFAULT_TERMS))
        relationship = vendors.relate(vendor.id, uuid.UUID(person_id))
        consent = ConsentService(session, rt.keyring).request(
            vendor, relationship.customer_ref, list(fields), list(purposes), days, message
        )
        return Asked(vendor, relationship.customer_ref, consent.id)


def consent_row(app: Flask, consent_id: uuid.UUID) -> Consent:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        consent = session.get(Consent, consent_id)
        assert consent is not None
        return consent


def receipts_of(app: Flask, consent_id: uuid.UUID) -> list[ConsentEvent]:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        return list(
            session.scalars(
                select(ConsentEvent)
                .where(ConsentEvent.consent_id == consent_id)
                .order_by(ConsentEvent.seq)
            )
        )


def approve(app: Flask, person_id: str, asked: Asked, **narrowed: object) -> None:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        ConsentService(session, rt.keyring).approve(
            uuid.UUID(person_id), asked.consent_id, **narrowed
        )


def read_profile(app: Flask, asked: Asked, purpose: str = "CustomerCare") -> dict[str, object]:
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        return ConsentService(session, rt.keyring).read_profile(
            asked.vendor, asked.customer_ref, purpose
        )


def fill_profile(client: FlaskClient, account: Account) -> None:
    response = client.patch(
        PROFILE,
        json={"given_name": "Ada", "family_name": "Lovelace", "phone": "+33612345678"},
        headers=account.auth,
    )
    assert response.status_code == 200, response.json


def text_of(response: object) -> str:
    return unescape(response.get_data(as_text=True))  # type: ignore[attr-defined]


def input_tag(html: str, input_id: str) -> str:
    match = re.search(rf'<input[^>]*\bid="{re.escape(input_id)}"[^>]*>', html, re.S)
    assert match, f"no input #{input_id}"
    return match.group(0)


# Log-in gates


@pytest.mark.parametrize("path", ["/terms", "/consents", "/consent-requests", "/access-log"])
def test_pages_need_a_session(client: FlaskClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/login")


def test_nav_links_to_the_new_pages(client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    html = client.get("/profile").get_data(as_text=True)
    for path in ("/consents", "/consent-requests", "/terms", "/access-log"):
        assert f'href="{path}"' in html


# Terms


def test_terms_page_shows_the_roster_and_the_current_choice(
    client: FlaskClient, ada: Account
) -> None:
    web_login(client, ada.email)
    response = client.get("/terms")
    assert response.status_code == 200
    html = text_of(response)
    for term in ROSTER:
        assert term.title in html
        assert term.text in html
        assert f"<code>{term.code}</code>" in html
        tag = input_tag(html, f"t-{term.code}")
        assert 'type="checkbox"' in tag and f'value="{term.code}"' in tag
        assert (" checked" in tag) == (term.code in DEFAULT_TERMS)
        assert f'<label for="t-{term.code}">' in html
    assert 'value="90"' in input_tag(html, "f-consent_default_days")
    assert 'value="365"' in input_tag(html, "f-consent_max_days")


def test_terms_are_saved(app: Flask, client: FlaskClient, ada: Account) -> None:
    web_login(client, ada.email)
    token = csrf_from(client, "/terms")
    chosen = ["service-delivery-analytics", "deletion-and-portability"]
    response = client.post(
        "/terms",
        data={
            "terms": chosen,
            "consent_default_days": "30",
            "consent_max_days": "60",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/terms?saved=1")
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        stored = TermsService(session, rt.keyring).of_person(uuid.UUID(ada.id))
        assert [t["code"] for t in stored.terms] == chosen
        assert (stored.consent_default_days, stored.consent_max_days) == (30, 60)
    html = text_of(client.get("/terms?saved=1"))
    assert "Your terms are saved." in html
    assert " checked" in input_tag(html, "t-service-delivery-analytics")
    assert " checked" not in input_tag(html, "t-service-delivery-only")
    assert 'value="30"' in input_tag(html, "f-consent_default_days")


@pytest.mark.parametrize(
    ("data", "field_name", "message"),
    [
        ({"consent_default_days": "30", "consent_max_days": "60"}, "terms", "at least one term"),
        (
            {"terms": ["intentions-only"], "consent_default_days": "90", "consent_max_days": "30"},
            "consent_default_days",
            "cannot be longer than the maximum",
        ),
        (
            {"terms": ["intentions-only"], "consent_default_days": "9", "consent_max_days": "9999"},
            "consent_max_days",
            "Choose between 1 and 3650 days",
        ),
        (
            {"terms": ["intentions-only"], "consent_default_days": "ten", "consent_max_days": "30"},
            "consent_default_days",
            "whole number",
        ),
        (
            {"terms": ["made-up"], "consent_default_days": "9", "consent_max_days": "30"},
            "terms",
            "not a term on the roster",
        ),
    ],
)
def test_terms_errors_are_shown_next_to_their_field(
    app: Flask, client: FlaskClient, ada: Account, data: dict, field_name: str, message: str
) -> None:
    web_login(client, ada.email)
    token = csrf_from(client, "/terms")
    response = client.post("/terms", data={**data, "csrf_token": token})
    assert response.status_code == 422
    html = text_of(response)
    error = re.search(rf'<p class="error" id="f-{field_name}-error">([^<]*)</p>', html)
    assert error and message in error.group(1)
    if field_name == "terms":
        tag = input_tag(html, "t-intentions-only")
        assert 'aria-invalid="true"' in tag and "f-terms-error" in tag
    else:
        tag = input_tag(html, f"f-{field_name}")
        assert 'aria-invalid="true"' in tag and f"f-{field_name}-error" in tag
        # What the person typed comes back.
        assert f'value="{data[field_name]}"' in tag
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        stored = TermsService(session, rt.keyring).of_person(uuid.UUID(ada.id))
        assert stored.updated_at is None  # nothing saved


# CSRF on every new form


def _new_posts(asked: Asked) -> list[tuple[str, dict]]:
    return [
        ("/terms", {"terms": ["intentions-only"], "consent_default_days": "5",
                    "consent_max_days": "10"}),
        (f"/consent-requests/{asked.consent_id}/approve", {"fields": ["given_name"],
                                                            "purposes": ["CustomerCare"]}),
        (f"/consent-requests/{asked.consent_id}/deny", {}),
        (f"/consents/{asked.consent_id}/withdraw", {}),
    ]  # fmt: skip


@pytest.mark.parametrize("index", range(4), ids=["terms", "approve", "deny", "withdraw"])
@pytest.mark.parametrize("csrf_token", [None, "forged-token"], ids=["missing", "forged"])
def test_new_forms_refuse_a_post_without_csrf(
    app: Flask, client: FlaskClient, ada: Account, index: int, csrf_token: str | None
) -> None:
    asked = vendor_asks(app, ada.id)
    if index == 3:
        approve(app, ada.id, asked)  # withdraw needs a given consent
    before = consent_row(app, asked.consent_id).state
    web_login(client, ada.email)
    client.get("/consent-requests")
    path, data = _new_posts(asked)[index]
    if csrf_token:
        data["csrf_token"] = csrf_token
    response = client.post(path, data=data)
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    assert consent_row(app, asked.consent_id).state == before
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        assert TermsService(session, rt.keyring).of_person(uuid.UUID(ada.id)).updated_at is None


# Another person's consents


def test_a_person_cannot_touch_another_persons_consents(
    app: Flask, client: FlaskClient, ada: Account, bob: Account
) -> None:
    fill_profile(client, ada)
    pending = vendor_asks(app, ada.id, name="Velo")
    given = vendor_asks(app, ada.id, name="Rail")
    approve(app, ada.id, given)
    events_before = {c: len(receipts_of(app, c)) for c in (pending.consent_id, given.consent_id)}

    web_login(client, bob.email)
    token = csrf_from(client, "/consent-requests")
    data = {"fields": ["given_name"], "purposes": ["CustomerCare"], "csrf_token": token}
    attempts = [
        client.post(f"/consent-requests/{pending.consent_id}/approve", data=data),
        client.post(f"/consent-requests/{pending.consent_id}/deny", data={"csrf_token": token}),
        client.post(f"/consents/{given.consent_id}/withdraw", data={"csrf_token": token}),
        client.get(f"/consents/{given.consent_id}/withdraw"),
        client.get(f"/consents/{given.consent_id}/receipts/1.jws"),
        client.get(f"/consents/{given.consent_id}/receipts/2.jws"),
        client.get(f"/consents/{pending.consent_id}/receipts/1.jws"),
    ]
    for response in attempts:
        assert response.status_code == 404, response.request.path
        assert "eyJ" not in response.get_data(as_text=True)  # no receipt leaks

    assert consent_row(app, pending.consent_id).state == "requested"
    assert consent_row(app, given.consent_id).state == "given"
    for consent_id, count in events_before.items():
        assert len(receipts_of(app, consent_id)) == count
    assert read_profile(app, given)["profile"] == {"given_name": "Ada", "phone": "+33612345678"}
    # Bob's pages show nothing of Ada's.
    for path in ("/consents", "/consent-requests", "/access-log"):
        html = text_of(client.get(path))
        assert "Velo" not in html and "Rail" not in html


def test_unknown_consents_and_receipts_are_not_found(
    app: Flask, client: FlaskClient, ada: Account
) -> None:
    asked = vendor_asks(app, ada.id)
    web_login(client, ada.email)
    token = csrf_from(client, "/consent-requests")
    made_up = uuid.uuid4()
    for path in (
        f"/consents/{made_up}/withdraw",
        f"/consent-requests/{made_up}/approve",
        f"/consent-requests/{made_up}/deny",
    ):
        assert client.post(path, data={"csrf_token": token}).status_code == 404, path
    assert client.get(f"/consents/{made_up}/withdraw").status_code == 404
    assert client.get(f"/consents/{made_up}/receipts/1.jws").status_code == 404
    assert client.get(f"/consents/{asked.consent_id}/receipts/2.jws").status_code == 404
    assert client.get(f"/consents/{asked.consent_id}/receipts/0.jws").status_code == 404


# Receipts


def test_the_owner_downloads_each_receipt_as_a_jws(
    app: Flask, client: FlaskClient, ada: Account
) -> None:
    asked = vendor_asks(app, ada.id)
    approve(app, ada.id, asked)
    web_login(client, ada.email)
    html = client.get("/consents").get_data(as_text=True)
    events = receipts_of(app, asked.consent_id)
    assert [e.type for e in events] == ["requested", "given"]
    keyring = app.extensions["vrm"].keyring
    for event in events:
        path = f"/consents/{asked.consent_id}/receipts/{event.seq}.jws"
        assert f'href="{path}"' in html
        response = client.get(path)
        assert response.status_code == 200
        assert response.mimetype == "application/jose"
        disposition = response.headers["Content-Disposition"]
        assert disposition.startswith("attachment;")
        assert ".jws" in disposition
        body = response.get_data(as_text=True)
        assert body == event.receipt
        payload = keyring.verify_jws(body)
        assert payload["record_id"] == str(asked.consent_id)
        assert payload["event"]["seq"] == event.seq
        assert payload["event"]["type"] == event.type


# Requests


def test_requests_page_shows_what_is_asked(app: Flask, client: FlaskClient, ada: Account) -> None:
    asked = vendor_asks(app, ada.id, days=None, purposes=("CustomerCare", "DirectMarketing"))
    web_login(client, ada.email)
    response = client.get("/consent-requests")
    assert response.status_code == 200
    html = text_of(response)
    prefix = f"r-{asked.consent_id}"
    assert "Velo asks for your consent" in html
    assert "So we can call you" in html
    for name in ("given_name", "phone"):
        tag = input_tag(html, f"{prefix}-field-{name}")
        assert 'type="checkbox"' in tag and " checked" in tag and 'name="fields"' in tag
        assert f'<label for="{prefix}-field-{name}">' in html
    for code, words in (
        ("CustomerCare", "Help you when you ask for support"),
        ("DirectMarketing", "Send you marketing messages"),
    ):
        tag = input_tag(html, f"{prefix}-purpose-{code}")
        assert " checked" in tag and 'name="purposes"' in tag
        assert f"{words}</label> <code>{code}</code>" in html
    # The vendor named no duration: the person's default is offered.
    assert 'value="90"' in input_tag(html, f"{prefix}-days")
    assert "your default is 90 days" in html


def test_approve_narrowed_from_the_page(app: Flask, client: FlaskClient, ada: Account) -> None:
    fill_profile(client, ada)
    asked = vendor_asks(app, ada.id)
    web_login(client, ada.email)
    token = csrf_from(client, "/consent-requests")
    response = client.post(
        f"/consent-requests/{asked.consent_id}/approve",
        data={
            "fields": ["given_name"],
            "purposes": ["CustomerCare"],
            "duration_days": "7",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/consents?approved=1")
    consent = consent_row(app, asked.consent_id)
    assert consent.state == "given"
    assert consent.fields == ["given_name"]
    assert (consent.expires_at - consent.given_at).days == 7
    assert read_profile(app, asked)["profile"] == {"given_name": "Ada"}


@pytest.mark.parametrize(
    ("data", "error_id", "message", "status"),
    [
        ({"purposes": ["CustomerCare"]}, "fields-error", "at least one profile field", 422),
        ({"fields": ["given_name"]}, "purposes-error", "at least one purpose", 422),
        (
            {"fields": ["given_name", "birth_date"], "purposes": ["CustomerCare"]},
            "fields-error",
            "was not asked for",
            422,
        ),
        (
            {"fields": ["given_name"], "purposes": ["CustomerCare"], "duration_days": "400"},
            "days-error",
            "30 days were asked for; approve that or fewer",
            422,
        ),
        (
            {"fields": ["given_name"], "purposes": ["CustomerCare"], "duration_days": "soon"},
            "days-error",
            "whole number",
            422,
        ),
    ],
    ids=["no-fields", "no-purposes", "wider", "too-long", "not-a-number"],
)
def test_approve_errors_are_shown_next_to_their_inputs(
    app: Flask,
    client: FlaskClient,
    ada: Account,
    data: dict,
    error_id: str,
    message: str,
    status: int,
) -> None:
    asked = vendor_asks(app, ada.id)
    web_login(client, ada.email)
    token = csrf_from(client, "/consent-requests")
    response = client.post(
        f"/consent-requests/{asked.consent_id}/approve", data={**data, "csrf_token": token}
    )
    assert response.status_code == status
    html = text_of(response)
    prefix = f"r-{asked.consent_id}"
    assert '<p class="error" role="alert">Your answer to Velo was not recorded: ' in html
    error = re.search(rf'<p class="error" id="{prefix}-{error_id}">([^<]*)</p>', html)
    assert error and message in error.group(1), html
    if error_id == "days-error":
        tag = input_tag(html, f"{prefix}-days")
        assert 'aria-invalid="true"' in tag and f"{prefix}-days-error" in tag
        assert f'value="{data["duration_days"]}"' in tag
    # The person's choices come back as they left them.
    phone = input_tag(html, f"{prefix}-field-phone")
    assert (" checked" in phone) == ("phone" in data.get("fields", []))
    assert consent_row(app, asked.consent_id).state == "requested"


def test_approve_when_the_vendor_no_longer_accepts_the_terms(
    app: Flask, client: FlaskClient, ada: Account
) -> None:
    asked = vendor_asks(app, ada.id)
    web_login(client, ada.email)
    token = csrf_from(client, "/terms")
    response = client.post(
        "/terms",
        data={
            "terms": ["service-delivery-only", "third-party-sharing"],
            "consent_default_days": "30",
            "consent_max_days": "60",
            "csrf_token": token,
        },
    )
    assert response.status_code == 302
    token = csrf_from(client, "/consent-requests")
    response = client.post(
        f"/consent-requests/{asked.consent_id}/approve",
        data={"fields": ["given_name"], "purposes": ["CustomerCare"], "csrf_token": token},
    )
    assert response.status_code == 409
    html = text_of(response)
    assert "Velo has not accepted the term 'third-party-sharing'" in html
    assert f'id="r-{asked.consent_id}-error"' in html
    assert consent_row(app, asked.consent_id).state == "requested"


def test_a_refused_approval_leaves_the_request_as_asked(
    app: Flask, client: FlaskClient, ada: Account
) -> None:
    asked = vendor_asks(app, ada.id)
    rt = app.extensions["vrm"]
    with rt.sessions() as session:
        TermsService(session, rt.keyring).set_for_person(
            uuid.UUID(ada.id), ["service-delivery-only", "third-party-sharing"], 30, 60
        )
    web_login(client, ada.email)
    token = csrf_from(client, "/consent-requests")
    response = client.post(
        f"/consent-requests/{asked.consent_id}/approve",
        data={"fields": ["given_name"], "purposes": ["CustomerCare"], "csrf_token": token},
    )
    assert response.status_code == 409
    assert consent_row(app, asked.consent_id).fields == ["given_name", "phone"]


def test_answering_twice_is_explained(app: Flask, client: FlaskClient, ada: Account) -> None:
    asked = vendor_asks(app, ada.id)
    web_login(client, ada.email)
    token = csrf_from(client, "/consent-requests")
    response = client.post(f"/consent-requests/{asked.consent_id}/deny", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/consent-requests?denied=1")
    assert consent_row(app, asked.consent_id).state == "refused"
    assert "Request denied" in text_of(client.get("/consent-requests?denied=1"))

    answers = {
        "approve": "This request is already refused",
        "deny": "This consent is already refused",
    }
    for action, why in answers.items():
        response = client.post(
            f"/consent-requests/{asked.consent_id}/{action}",
            data={"fields": ["given_name"], "purposes": ["CustomerCare"], "csrf_token": token},
        )
        assert response.status_code == 409
        assert f'<p class="error" role="alert">Your answer was not recorded: {why}' in text_of(
            response
        )
    assert consent_row(app, asked.consent_id).state == "refused"
    html = text_of(client.get("/consents"))
    assert "Denied" in html


# Consents and withdrawal


def test_consents_page_groups_per_vendor(app: Flask, client: FlaskClient, ada: Account) -> None:
    velo = vendor_asks(app, ada.id, name="Velo")
    rail = vendor_asks(app, ada.id, name="Rail", fields=("contact_email",), days=10)
    waiting = vendor_asks(app, ada.id, name="Shop")
    approve(app, ada.id, velo, fields=["given_name"])
    approve(app, ada.id, rail)
    web_login(client, ada.email)
    html = text_of(client.get("/consents"))
    assert html.count("<h2 ") == 2
    assert "Velo</h2>" in html and "Rail</h2>" in html
    assert "1 request waiting for your answer" in html
    assert str(waiting.consent_id) not in html
    assert "Help you when you ask for support <code>CustomerCare</code>" in html
    assert "Contact email" in html
    rail_row = consent_row(app, rail.consent_id)
    assert rail_row.expires_at.strftime("%Y-%m-%d") in html
    assert f'href="/consents/{velo.consent_id}/withdraw"' in html
    assert 'Withdraw<span class="visually-hidden"> consent to Velo</span>' in html


def test_withdraw_asks_to_confirm_then_withdraws(
    app: Flask, client: FlaskClient, ada: Account
) -> None:
    fill_profile(client, ada)
    asked = vendor_asks(app, ada.id)
    approve(app, ada.id, asked)
    web_login(client, ada.email)
    page = client.get(f"/consents/{asked.consent_id}/withdraw")
    assert page.status_code == 200
    assert "Withdraw your consent to Velo?" in text_of(page)
    assert consent_row(app, asked.consent_id).state == "given"
    token = csrf_from(client, f"/consents/{asked.consent_id}/withdraw")
    response = client.post(f"/consents/{asked.consent_id}/withdraw", data={"csrf_token": token})
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/consents?withdrawn=1")
    assert consent_row(app, asked.consent_id).state == "withdrawn"
    with pytest.raises(Forbidden):
        read_profile(app, asked)
    # A second withdrawal is explained, not a crash.
    response = client.post(f"/consents/{asked.consent_id}/withdraw", data={"csrf_token": token})
    assert response.status_code == 409
    assert "This consent is already withdrawn" in text_of(response)


# Access log


def test_access_log_lists_entries_newest_first(
    app: Flask, client: FlaskClient, ada: Account
) -> None:
    fill_profile(client, ada)
    asked = vendor_asks(app, ada.id)
    approve(app, ada.id, asked)
    read_profile(app, asked)
    web_login(client, ada.email)
    html = text_of(client.get("/access-log"))
    seqs = [int(s) for s in re.findall(r'<tr data-seq="(\d+)"', html)]
    assert seqs == sorted(seqs, reverse=True) and len(seqs) >= 4
    assert "The log is intact" in html
    assert "<td>Read your profile</td>" in html
    assert "Help you when you ask for support<br><code>CustomerCare</code>" in html


def test_access_log_pages_back_to_older_entries(
    app: Flask, client: FlaskClient, ada: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("vrm.web.consents.LOG_PAGE_SIZE", 2)
    asked = vendor_asks(app, ada.id)
    approve(app, ada.id, asked)  # three entries: terms accepted, consent requested, given
    web_login(client, ada.email)
    first = text_of(client.get("/access-log"))
    assert re.findall(r'<tr data-seq="(\d+)"', first) == ["3", "2"]
    assert "its 3 entries hold together" in first
    older = re.search(r'<a href="(/access-log\?before=\d+)">Older entries</a>', first)
    assert older
    second = text_of(client.get(older.group(1)))
    assert re.findall(r'<tr data-seq="(\d+)"', second) == ["1"]
    assert "Older entries" not in second and "Newest entries" in second
    assert client.get("/access-log?before=nonsense").status_code == 422


def test_access_log_reports_a_changed_entry(app: Flask, client: FlaskClient, ada: Account) -> None:
    fill_profile(client, ada)
    asked = vendor_asks(app, ada.id)
    approve(app, ada.id, asked)
    tamper(app, ada.id, seq=2)
    web_login(client, ada.email)
    html = text_of(client.get("/access-log"))
    assert "The log is broken at entry 2: its content does not match its hash" in html
    assert '<tr data-seq="2" class="broken">' in html


def tamper(app: Flask, person_id: str, seq: int) -> None:
    """Change one stored access-log entry behind the service's back."""
    with app.extensions["vrm"].engine.begin() as connection:
        result = connection.execute(
            update(AuditEvent)
            .where(AuditEvent.person_id == uuid.UUID(person_id), AuditEvent.seq == seq)
            .values(purpose="DirectMarketing")
        )
        assert result.rowcount == 1


# In a browser


def browse_as(page: Page, account: Account) -> None:
    log_in(page, account.email)
    expect(page).to_have_url(re.compile(r"/profile$"))


@pytest.mark.browser
def test_browser_approve_a_narrowed_request(
    app: Flask, client: FlaskClient, page: Page, ada: Account
) -> None:
    fill_profile(client, ada)
    asked = vendor_asks(app, ada.id)
    browse_as(page, ada)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Requests").click()
    request = page.get_by_role("region", name="Velo asks for your consent")
    expect(request).to_contain_text("So we can call you")
    expect(field(page, "Given name")).to_be_checked()
    expect(field(page, "Phone")).to_be_checked()
    expect(page.get_by_label("Help you when you ask for support")).to_be_checked()
    expect(field(page, "For how many days")).to_have_value("30")
    field(page, "Phone").uncheck()
    request.get_by_role("button", name="Approve").click()

    expect(page).to_have_url(re.compile(r"/consents\?approved=1$"))
    expect(page.get_by_role("status")).to_contain_text("Consent given")
    consent = page.locator(f'article[data-consent="{asked.consent_id}"]')
    expect(consent.locator('dd[data-field="state"]')).to_have_text("Given")
    expect(consent.locator('dd[data-field="fields"]')).to_have_text("Given name")
    expect(consent.locator('dd[data-field="purposes"]')).to_contain_text("CustomerCare")
    expires = consent_row(app, asked.consent_id).expires_at
    expect(consent.locator('dd[data-field="expires_at"]')).to_have_text(
        expires.strftime("%Y-%m-%d")
    )

    assert read_profile(app, asked) == {
        "customer_ref": asked.customer_ref,
        "purpose": "CustomerCare",
        "profile": {"given_name": "Ada"},
    }

    # The receipt of the approval downloads as a file.
    with page.expect_download() as download:
        consent.get_by_role("link", name=re.compile(r"^Receipt 2: given")).click()
    receipt = download.value
    assert receipt.suggested_filename.endswith("-2-given.jws")
    payload = app.extensions["vrm"].keyring.verify_jws(Path(receipt.path()).read_text())
    assert payload["data_categories"] == ["given_name"]
    assert payload["state"] == "given"


@pytest.mark.browser
def test_browser_withdraw_a_consent(
    app: Flask, client: FlaskClient, page: Page, ada: Account
) -> None:
    fill_profile(client, ada)
    asked = vendor_asks(app, ada.id)
    approve(app, ada.id, asked)
    assert read_profile(app, asked)["profile"] == {"given_name": "Ada", "phone": "+33612345678"}
    browse_as(page, ada)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Consents").click()
    page.get_by_role("link", name="Withdraw consent to Velo").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Withdraw your consent to Velo?")
    page.get_by_role("button", name="Withdraw consent to Velo").click()

    expect(page).to_have_url(re.compile(r"/consents\?withdrawn=1$"))
    expect(page.get_by_role("status")).to_contain_text("Consent withdrawn")
    consent = page.locator(f'article[data-consent="{asked.consent_id}"]')
    expect(consent.locator('dd[data-field="state"]')).to_have_text("Withdrawn")
    expect(page.get_by_role("link", name="Withdraw consent to Velo")).to_have_count(0)
    expect(consent.get_by_role("link", name=re.compile(r"^Receipt 3: withdrawn"))).to_be_visible()

    with pytest.raises(Forbidden):
        read_profile(app, asked)


@pytest.mark.browser
def test_browser_access_log_and_its_chain_check(
    app: Flask, client: FlaskClient, page: Page, ada: Account
) -> None:
    fill_profile(client, ada)
    asked = vendor_asks(app, ada.id)
    approve(app, ada.id, asked, fields=["given_name"])
    read_profile(app, asked)
    browse_as(page, ada)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Access log").click()
    expect(page.locator("#chain-check")).to_contain_text("intact")
    rows = page.locator("tbody tr")
    newest = rows.first
    expect(newest.get_by_role("cell").nth(2)).to_have_text("Velo")
    expect(newest.get_by_role("cell").nth(3)).to_contain_text("Read your profile")
    expect(newest.get_by_role("cell").nth(4)).to_have_text("Given name")
    expect(newest.get_by_role("cell").nth(5)).to_contain_text("CustomerCare")
    count = rows.count()
    assert count >= 4
    seqs = [int(rows.nth(i).get_attribute("data-seq") or 0) for i in range(count)]
    assert seqs == list(range(count, 0, -1))
    expect(page.get_by_role("alert")).to_have_count(0)

    broken = count - 1  # an older entry, not the newest
    tamper(app, ada.id, seq=broken)
    page.reload()
    check = page.get_by_role("alert")
    expect(check).to_contain_text(f"broken at entry {broken}")
    expect(check).to_contain_text("its content does not match its hash")
    expect(page.locator(f'tr[data-seq="{broken}"]')).to_have_class("broken")
    expect(page.locator(f'tr[data-seq="{broken}"]')).to_contain_text("(broken)")


@pytest.mark.browser
def test_browser_deny_a_request(app: Flask, client: FlaskClient, page: Page, ada: Account) -> None:
    asked = vendor_asks(app, ada.id)
    browse_as(page, ada)
    page.goto("/consent-requests")
    page.get_by_role("region", name="Velo asks for your consent").get_by_role(
        "button", name="Deny"
    ).click()

    expect(page).to_have_url(re.compile(r"/consent-requests\?denied=1$"))
    expect(page.get_by_role("status")).to_have_text("Request denied. Nothing was shared.")
    expect(page.get_by_text("No vendor is waiting for your answer.")).to_be_visible()
    assert consent_row(app, asked.consent_id).state == "refused"
    with pytest.raises(Forbidden):
        read_profile(app, asked)
