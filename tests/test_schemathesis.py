"""Schemathesis against the real app over HTTP: every operation, every check, then the links.

Bounded by ``VRM_FUZZ_EXAMPLES`` (examples per operation); ``make fuzz`` runs it far longer.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

import httpx
import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ensure_resource_availability,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
    use_after_free,
)

from tests.conftest import PASSWORD, basic, make_account
from tests.vendor_api.conftest import create_vendor
from vrm.vendors.scopes import SCOPES

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = int(os.environ.get("VRM_FUZZ_EXAMPLES", "5"))
# The bounded run in `make test` is the same every time; `make fuzz` explores afresh.
DERANDOMIZE = "VRM_FUZZ_EXAMPLES" not in os.environ
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    ignored_auth,
    missing_required_header,
    unsupported_method,
    # Stateful: what a link says was created can be read, and what was deleted stays gone.
    ensure_resource_availability,
    use_after_free,
]
FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=DERANDOMIZE,
    suppress_health_check=list(HealthCheck),
)

schema = schemathesis.openapi.from_path(ROOT / "openapi.yaml").exclude(
    # The consent screen is an HTML page for the person's browser, not an API operation.
    path="/oauth/authorize"
)
# Unknown query parameters are ignored, as OpenAPI allows and most HTTP APIs do (a cache
# buster, a newer client's filter); Schemathesis means to skip negations made only of extra
# parameters, but misses some (odd or empty names) and reports them as accepted bad data.
schema.config.generation.update(allow_extra_parameters=False)
# The tests send real credentials (Credentials.headers_for); random Authorization values would
# replace them, and a negated (removed) one cannot be told from the real header sent instead.
# Requests without or with bad credentials are the ignored_auth check's business.
schema.config.generation.update(with_security_parameters=False)


class Credentials:
    """A person with a token and a vendor with a token holding every scope, on the live app."""

    def __init__(self, app: Flask, base_url: str) -> None:
        self.base_url = base_url
        person = make_account(app.test_client(), "fuzz@example.org")
        self.email, self.person_token = person.email, person.token
        vendor = create_vendor(app, "Fuzz Shop")
        self.client_basic = (
            "Basic "
            + base64.b64encode(f"{vendor.client_id}:{vendor.client_secret}".encode()).decode()
        )
        response = httpx.post(
            f"{base_url}/oauth/token",
            data={"grant_type": "client_credentials", "scope": " ".join(SCOPES)},
            headers={"Authorization": self.client_basic},
        )
        assert response.status_code == 200, response.text
        self.vendor_token = response.json()["access_token"]

    def headers_for(self, method: str, path: str) -> dict[str, str]:
        if (method.upper(), path) == ("POST", "/personal/v1/tokens"):
            return basic(self.email, PASSWORD)
        if path.startswith("/personal/"):
            return {"Authorization": f"Bearer {self.person_token}"}
        if path.startswith("/vendor/"):
            return {"Authorization": f"Bearer {self.vendor_token}"}
        if path in ("/oauth/token", "/oauth/revoke", "/oauth/introspect"):
            return {"Authorization": self.client_basic}
        return {}


@pytest.fixture
def credentials(app: Flask, live_server: str) -> Credentials:
    return Credentials(app, live_server)


@schema.parametrize()
@FUZZ_SETTINGS
def test_every_operation_keeps_its_contract(case: schemathesis.Case, credentials: Credentials):
    headers = {**credentials.headers_for(case.method, case.path), **(case.headers or {})}
    case.call_and_validate(base_url=credentials.base_url, headers=headers, checks=CHECKS)


def test_the_linked_workflows_keep_the_contract(credentials: Credentials):
    class Workflow(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: schemathesis.Case) -> dict:
            headers = {**credentials.headers_for(case.method, case.path), **(case.headers or {})}
            return {"base_url": credentials.base_url, "headers": headers}

        def validate_response(self, response, case, additional_checks=(), **kwargs) -> None:
            case.validate_response(
                response, checks=CHECKS, headers=self.get_call_kwargs(case)["headers"]
            )

    Workflow.run(
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            derandomize=DERANDOMIZE,
            suppress_health_check=list(HealthCheck),
        )
    )
