"""openapi.yaml is a whole contract: valid 3.1, every route, security, errors, examples, links."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest
import yaml
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from tests.vendor_api.conftest import create_vendor

ROOT = Path(__file__).resolve().parent.parent
SPEC = yaml.safe_load((ROOT / "openapi.yaml").read_text())
METHODS = {"get", "put", "post", "patch", "delete"}
OPERATIONS = [
    (path, method, operation)
    for path, item in SPEC["paths"].items()
    for method, operation in item.items()
    if method in METHODS
]
# The consent screen is a web page (HTML, the person's session); it is documented for
# integrators to start the flow there, not as an API operation.
CONSENT_SCREEN = "/oauth/authorize"
API_OPERATIONS = [op for op in OPERATIONS if op[0] != CONSENT_SCREEN]
PUBLIC = {
    ("/healthz", "get"),
    ("/personal/v1/accounts", "post"),
    ("/.well-known/oauth-authorization-server", "get"),
    ("/.well-known/jwks.json", "get"),
}
# RFC 6749/7009/7662/7591 endpoints answer errors in the OAuth format, not problem+json.
OAUTH_ENDPOINTS = {"/oauth/token", "/oauth/revoke", "/oauth/introspect", "/oauth/register"}


def _ids(operations):
    return [f"{method.upper()} {path}" for path, method, _ in operations]


def node_ref_parts(ref: str) -> list[str]:
    return [part.replace("~1", "/").replace("~0", "~") for part in ref.lstrip("#/").split("/")]


def resolve(node: dict) -> dict:
    """Follow local ``$ref``s to the object they name."""
    while isinstance(node, dict) and "$ref" in node:
        target = SPEC
        for part in node_ref_parts(node["$ref"]):
            target = target[part]
        node = target
    return node


def test_openapi_yaml_validates_as_openapi_3_1():
    assert SPEC["openapi"].startswith("3.1")
    validate(SPEC, cls=OpenAPIV31SpecValidator)


def test_every_api_route_in_the_url_map_is_in_the_spec(app):
    documented = {(path, method.upper()) for path, method, _ in OPERATIONS}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(("/personal/", "/vendor/", "/oauth/")):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {rule.rule} is not in openapi.yaml"


@pytest.mark.parametrize(("path", "method", "operation"), API_OPERATIONS, ids=_ids(API_OPERATIONS))
def test_every_operation_states_its_security_or_is_explicitly_public(path, method, operation):
    assert "security" in operation, "say who may call it, or security: [] when anyone may"
    if operation["security"] == []:
        assert (path, method) in PUBLIC, "a public operation must be one of the known ones"
    if path.startswith("/vendor/") and path != "/vendor/v1/me":  # /me: any vendor token
        assert all(
            scopes for requirement in operation["security"] for scopes in requirement.values()
        ), "vendor operations list the OAuth scopes they need"


@pytest.mark.parametrize(("path", "method", "operation"), API_OPERATIONS, ids=_ids(API_OPERATIONS))
def test_every_operation_documents_its_errors_as_problem_json(path, method, operation):
    responses = operation["responses"]
    assert "default" in responses
    if operation["security"]:
        assert "401" in responses or path in OAUTH_ENDPOINTS
    errors = {status: resolve(r) for status, r in responses.items() if not status.startswith("2")}
    for status, response in errors.items():
        content = response.get("content", {})
        if path in OAUTH_ENDPOINTS and status != "default" and status != "429":
            assert list(content) == ["application/json"], (status, "RFC 6749 errors")
        else:
            assert list(content) == ["application/problem+json"], status
            assert content["application/problem+json"]["schema"] == {
                "$ref": "#/components/schemas/Problem"
            }


BODIES = [op for op in OPERATIONS if "requestBody" in op[2]]


@pytest.mark.parametrize(("path", "method", "operation"), BODIES, ids=_ids(BODIES))
def test_every_request_body_has_an_example_its_schema_accepts(path, method, operation):
    for media_type, media in operation["requestBody"]["content"].items():
        assert "example" in media, media_type
        schema = {**media["schema"], "components": SPEC["components"]}
        validator = OAS31Validator(schema, format_checker=OAS31Validator.FORMAT_CHECKER)
        errors = [
            f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(media["example"])
        ]
        assert not errors, errors


def test_creating_operations_link_to_what_they_created():
    links = SPEC["paths"]["/personal/v1/consents"]["post"]["responses"]["201"]["links"]
    assert links["get"]["operationRef"] == "#/paths/~1personal~1v1~1consents~1{consent_id}/get"
    assert links["get"]["parameters"] == {"consent_id": "$response.body#/id"}
    for pair in [
        ("/personal/v1/intentions", "/personal/v1/intentions/{intention_id}"),
        ("/personal/v1/conversations", "/personal/v1/conversations/{conversation_id}"),
        ("/vendor/v1/subscriptions", "/vendor/v1/subscriptions/{subscription_id}"),
        ("/vendor/v1/webhooks", "/vendor/v1/webhooks/{endpoint_id}"),
        ("/vendor/v1/intentions/{intention_id}/offers", "/vendor/v1/offers/{offer_id}"),
    ]:
        refs = {
            link["operationRef"]
            for link in SPEC["paths"][pair[0]]["post"]["responses"]["201"]["links"].values()
        }
        assert f"#/paths/{pair[1].replace('/', '~1')}/get" in refs, pair


def test_every_link_names_an_existing_operation_and_its_path_parameters():
    for _path, _method, operation in OPERATIONS:
        for response in operation["responses"].values():
            for link in resolve(response).get("links", {}).values():
                _, _, target_path, target_method = link["operationRef"].split("/")
                target_path = target_path.replace("~1", "/").replace("~0", "~")
                assert target_method in SPEC["paths"][target_path]
                assert set(link["parameters"]) == set(re.findall(r"\{(\w+)\}", target_path))


# Regressions for what Schemathesis found (tests/test_schemathesis.py).


def _vendor_auth(app, client) -> tuple[dict[str, str], dict[str, str]]:
    vendor = create_vendor(app, "Regression Shop")
    client_auth = {
        "Authorization": "Basic "
        + base64.b64encode(f"{vendor.client_id}:{vendor.client_secret}".encode()).decode()
    }
    token = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "intentions:read"},
        headers=client_auth,
    )
    assert token.status_code == 200, token.json
    return client_auth, {"Authorization": f"Bearer {token.json['access_token']}"}


def test_a_creating_post_without_its_required_body_is_refused(app, client):
    _, bearer = _vendor_auth(app, client)
    response = client.post("/vendor/v1/subscriptions", headers=bearer)
    assert response.status_code == 422
    assert response.content_type == "application/problem+json"
    assert response.json["errors"] == [{"field": "body", "message": "Send a JSON body"}]
    assert client.post("/vendor/v1/subscriptions", json={}, headers=bearer).status_code == 201


def test_introspection_without_a_token_answers_its_documented_400(app, client):
    client_auth, _ = _vendor_auth(app, client)
    response = client.post("/oauth/introspect", headers=client_auth)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    documented = SPEC["paths"]["/oauth/introspect"]["post"]["responses"]["400"]
    assert list(documented["content"]) == ["application/json"]


def test_oauth_forms_are_documented_to_ignore_unknown_parameters_and_hints(app, client):
    client_auth, _ = _vendor_auth(app, client)
    response = client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "intentions:read", "extra": "1"},
        headers=client_auth,
    )
    assert response.status_code == 200  # RFC 6749 section 3.2
    schemas = SPEC["components"]["schemas"]
    assert schemas["TokenRequest"]["additionalProperties"] is True
    assert schemas["TokenHint"]["additionalProperties"] is True
    hinted = {"token": response.json["access_token"], "token_type_hint": "AAA"}
    assert client.post("/oauth/revoke", data=hinted, headers=client_auth).status_code == 200
    assert "enum" not in schemas["TokenHint"]["properties"]["token_type_hint"]


def test_decimal_amounts_are_documented_as_the_strings_they_are_answered_as():
    price = SPEC["components"]["schemas"]["OfferIn"]["properties"]["price"]
    assert price["type"] == ["string", "number"]
    assert SPEC["components"]["schemas"]["PriceRange"]["properties"]["min"]["type"] == [
        "string",
        "number",
        "null",
    ]
