from __future__ import annotations

import re
from pathlib import Path

import yaml

from vrm.openapi import render

ROOT = Path(__file__).resolve().parent.parent


def test_the_committed_openapi_yaml_is_what_the_code_generates():
    committed = (ROOT / "openapi.yaml").read_text()
    assert committed == render(), "openapi.yaml is stale: run `vrm openapi` and commit it"


def test_every_api_route_is_documented(app):
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    documented = {(path, method.upper()) for path, item in spec["paths"].items() for method in item}
    api_prefixes = ("/personal/", "/vendor/", "/oauth/", "/.well-known/", "/healthz")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(api_prefixes):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (path, method) in documented, f"{method} {rule.rule} is not in openapi.yaml"


def test_errors_are_documented_as_problem_json():
    spec = yaml.safe_load((ROOT / "openapi.yaml").read_text())
    default_error = spec["components"]["responses"]["DEFAULT_ERROR"]
    assert list(default_error["content"]) == ["application/problem+json"]
    assert spec["openapi"].startswith("3.1")
    secured = spec["paths"]["/personal/v1/profile"]["get"]["security"]
    assert secured == [{"personalToken": []}]
