"""A client generated from openapi.yaml by a standard generator drives a whole vendor flow.

openapi-python-client (a `test` extra) generates a package from the spec at test time, with
``--fail-on-warning``, so a part of the contract it cannot understand fails here. The vendor
side of the flow uses nothing but that package against the live server: the
client-credentials token (the generated ``AuthenticatedClient`` sends client_secret_basic,
as the spec's ``clientBasic`` scheme says), terms, a subscription, the feed, an offer, a
consent request, the profile read, a message, a webhook endpoint and its deliveries. The
person's side (sign-up, profile, an intention, approving the request) uses the Flask test
client, as the other tests do.
"""

from __future__ import annotations

import base64
import importlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest
from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import make_account
from tests.consents.conftest import fill_profile
from tests.intentions.conftest import publish
from tests.vendor_api.conftest import create_vendor
from vrm.terms.roster import DEFAULT_TERMS

SPEC = Path(__file__).resolve().parent.parent / "openapi.yaml"
PACKAGE = "vrm_generated_client"
TIMEOUT = httpx.Timeout(10)
GENERATOR = Path(sys.executable).parent / "openapi-python-client"


@pytest.fixture(scope="session")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModuleType]:
    """The package openapi-python-client generates from openapi.yaml, imported."""
    root = tmp_path_factory.mktemp("generated")
    # The generator formats its output with ruff, which lives beside it in the venv.
    env = {**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(SPEC),
            "--output-path",
            str(root / PACKAGE),
            "--meta",
            "none",
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, f"openapi-python-client failed:\n{done.stdout}\n{done.stderr}"
    sys.path.insert(0, str(root))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(root))
        for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
            del sys.modules[name]


def api(name: str) -> Any:
    """A generated operation module, e.g. ``api("vendor_consents.put_vendor_v1_terms")``."""
    return importlib.import_module(f"{PACKAGE}.api.{name}")


def models() -> Any:
    return importlib.import_module(f"{PACKAGE}.models")


def test_a_generated_client_drives_a_whole_vendor_flow(
    app: Flask, client: FlaskClient, live_server: str, generated: ModuleType
) -> None:
    m = models()
    creds = create_vendor(app, "Generated Cycles")
    # trust_env=False: no proxy from the environment between us and 127.0.0.1.
    http = {"trust_env": False}

    # The token: client_credentials, client_secret_basic.
    basic = base64.b64encode(f"{creds.client_id}:{creds.client_secret}".encode()).decode()
    as_client = generated.AuthenticatedClient(
        base_url=live_server, token=basic, prefix="Basic", httpx_args=http, timeout=TIMEOUT
    )
    issued = api("oauth.post_oauth_token").sync(
        client=as_client,
        body=m.TokenRequest(grant_type=m.TokenRequestGrantType.CLIENT_CREDENTIALS),
    )
    assert isinstance(issued, m.TokenResponse), issued
    assert issued.token_type.lower() == "bearer"
    assert issued.access_token.startswith("vrm_at_")
    vendor = generated.AuthenticatedClient(
        base_url=live_server, token=issued.access_token, httpx_args=http, timeout=TIMEOUT
    )

    me = api("vendor_me.get_vendor_v1_me").sync(client=vendor)
    assert isinstance(me, m.Me), me
    assert isinstance(me.vendor, m.Vendor)
    assert me.vendor.id == creds.vendor_id

    # Terms and a subscription.
    terms = api("vendor_consents.put_vendor_v1_terms").sync(
        client=vendor,
        body=m.VendorTermsIn(accepted=[m.VendorTermsInAcceptedItem(c) for c in DEFAULT_TERMS]),
    )
    assert isinstance(terms, m.VendorTerms), terms
    subscription = api("vendor_intentions.post_vendor_v1_subscriptions").sync(
        client=vendor,
        body=m.SubscriptionIn(categories=[m.SubscriptionInCategoriesItem.SPORTS]),
    )
    assert isinstance(subscription, m.Subscription), subscription

    # A person publishes an intention; it is in the vendor's feed, pseudonymously.
    ada = make_account(client, "ada.generated@example.org")
    fill_profile(client, ada)
    intention = publish(client, ada, title="A gravel bike, generated")
    feed = api("vendor_intentions.get_vendor_v1_intentions").sync(client=vendor, limit=10)
    assert isinstance(feed, m.MatchedIntentionPage), feed
    assert [item.id for item in feed.data] == [uuid.UUID(intention["id"])]
    matched = feed.data[0]
    assert isinstance(matched, m.MatchedIntention)
    assert matched.title == "A gravel bike, generated"
    customer_ref = matched.customer_ref
    assert customer_ref and ada.id not in customer_ref

    # An offer.
    offer = api("vendor_intentions.post_vendor_v1_intentions_intention_id_offers").sync(
        matched.id,
        client=vendor,
        body=m.OfferIn(
            # The spec's `type: [string, number]` becomes `float` in the generated model;
            # the decimal string the README recommends goes through as well.
            price="650.00",
            currency="EUR",
            description="Steel gravel bike, delivered within a week",
            accepted_terms=[m.OfferInAcceptedTermsItem(c) for c in DEFAULT_TERMS],
        ),
    )
    assert isinstance(offer, m.Offer), offer
    assert offer.intention_id == matched.id
    assert offer.state == m.OfferState.OPEN
    assert offer.customer_ref == customer_ref
    listed = client.get(f"/personal/v1/intentions/{intention['id']}/offers", headers=ada.auth)
    assert [o["id"] for o in listed.json["data"]] == [str(offer.id)]

    # The person accepts it: now the vendor knows them (a vendor may only ask a customer
    # it has a relationship with), and a conversation is open.
    accepted = client.post(f"/personal/v1/offers/{offer.id}/accept", json={}, headers=ada.auth)
    assert accepted.status_code == 200, accepted.json
    seen = api("vendor_intentions.get_vendor_v1_offers_offer_id").sync(offer.id, client=vendor)
    assert isinstance(seen, m.Offer), seen
    assert seen.state == m.OfferState.ACCEPTED

    # A consent request, which the person approves; then the profile read.
    asked = api("vendor_consents.post_vendor_v1_consent_requests").sync(
        client=vendor,
        body=m.ConsentRequest(
            customer_ref=customer_ref,
            fields=[m.ConsentRequestFieldsItem.GIVEN_NAME],
            purposes=[m.ConsentRequestPurposesItem.SERVICEPROVISION],
            message="To put your name on the delivery",
        ),
    )
    assert isinstance(asked, m.Consent), asked
    assert asked.state == m.ConsentState.REQUESTED
    approved = client.post(
        f"/personal/v1/consent-requests/{asked.id}/approve", json={}, headers=ada.auth
    )
    assert approved.status_code == 200, approved.json
    consent = api("vendor_consents.get_vendor_v1_consents_consent_id").sync(asked.id, client=vendor)
    assert isinstance(consent, m.Consent), consent
    assert consent.state == m.ConsentState.GIVEN
    profile = api("vendor_consents.get_vendor_v1_customers_customer_ref_profile").sync(
        customer_ref,
        client=vendor,
        purpose=m.GetVendorV1CustomersCustomerRefProfilePurpose.SERVICEPROVISION,
    )
    assert isinstance(profile, m.SharedProfile), profile
    assert profile.customer_ref == customer_ref
    assert profile.profile.to_dict() == {"given_name": "Ada"}

    # Accepting the offer opened a conversation; the vendor writes in it.
    conversations = api("vendor_conversations.get_vendor_v1_conversations").sync(client=vendor)
    assert isinstance(conversations, m.VendorConversationPage), conversations
    [conversation] = [c for c in conversations.data if c.offer_id == offer.id]
    assert isinstance(conversation, m.VendorConversation)
    assert conversation.customer_ref == customer_ref
    assert conversation.can_write is True
    message = api("vendor_conversations.post_vendor_v1_conversations_conversation_id_messages")
    said = message.sync(
        conversation.id, client=vendor, body=m.MessageIn(text="Your bike ships on Monday.")
    )
    assert isinstance(said, m.Message), said
    assert said.conversation_id == conversation.id
    assert said.sender == m.MessageSender.VENDOR
    inbox = client.get(f"/personal/v1/conversations/{conversation.id}/messages", headers=ada.auth)
    assert inbox.status_code == 200, inbox.json
    assert "Your bike ships on Monday." in [item["text"] for item in inbox.json["data"]]

    # A webhook endpoint, a test event, and its deliveries.
    endpoint = api("vendor_events.post_vendor_v1_webhooks").sync(
        client=vendor, body=m.WebhookIn(url="http://127.0.0.1:9/generated-hook")
    )
    assert isinstance(endpoint, m.WebhookWithSecret), endpoint
    assert endpoint.secret.startswith("whsec_")
    sent = api("vendor_events.post_vendor_v1_webhooks_endpoint_id_test").sync(
        endpoint.id, client=vendor
    )
    assert isinstance(sent, m.Delivery), sent
    assert sent.event_type == "webhook.test"
    deliveries = api("vendor_events.get_vendor_v1_webhooks_endpoint_id_deliveries").sync(
        endpoint.id, client=vendor
    )
    assert isinstance(deliveries, m.DeliveryPage), deliveries
    assert [d.id for d in deliveries.data] == [sent.id]

    # And the events feed has what happened, in the generated types.
    events = api("vendor_events.get_vendor_v1_events").sync(client=vendor, limit=100)
    assert isinstance(events, m.EventPage), events
    kinds = {str(e.type_) for e in events.data}
    assert {"intention.matched", "consent_request.approved"} <= kinds, kinds
