from __future__ import annotations

import pytest

from vrm import config
from vrm.app import create_app
from vrm.crypto import KeyringError


def test_environment_variables_override_defaults():
    settings = config.load(environ={"VRM_MAX_CONTENT_LENGTH": "1024", "VRM_ENV": "test"})
    assert settings["MAX_CONTENT_LENGTH"] == 1024
    assert settings["ENV"] == "test"


def test_a_non_integer_is_refused_with_the_variable_named():
    with pytest.raises(config.ConfigError, match="VRM_MAX_CONTENT_LENGTH"):
        config.load(environ={"VRM_MAX_CONTENT_LENGTH": "lots"})


def test_argon2_below_the_owasp_minimum_is_refused():
    with pytest.raises(config.ConfigError, match="ARGON2_MEMORY_KIB"):
        config.load({"ARGON2_MEMORY_KIB": 1024}, environ={})


def test_production_refuses_to_start_without_configured_keys(tmp_path):
    with pytest.raises(KeyringError, match="production"):
        create_app(
            {
                "ENV": "production",
                "INSTANCE_PATH": str(tmp_path),
                "DATABASE_URL": "sqlite://",
                "ISSUER": "https://vrm.example",
            }
        )
    assert not (tmp_path / "keys.json").exists()


def test_development_generates_keys_once_with_a_warning(tmp_path, caplog):
    create_app({"ENV": "development", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"})
    assert "generated development keys" in caplog.text
    keys = (tmp_path / "keys.json").read_text()
    assert oct((tmp_path / "keys.json").stat().st_mode)[-3:] == "600"
    caplog.clear()
    create_app({"ENV": "development", "INSTANCE_PATH": str(tmp_path), "DATABASE_URL": "sqlite://"})
    assert (tmp_path / "keys.json").read_text() == keys
    assert "generated development keys" not in caplog.text


def test_production_sets_secure_cookies_and_hsts(tmp_path, keys_json):
    app = create_app(
        {
            "ENV": "production",
            "KEYS": keys_json,
            "ISSUER": "https://vrm.example",
            "INSTANCE_PATH": str(tmp_path),
            "DATABASE_URL": f"sqlite:///{tmp_path / 'p.sqlite3'}",
        }
    )
    assert app.config["SESSION_COOKIE_SECURE"] is True
    response = app.test_client().get("/login")
    assert "max-age" in response.headers["Strict-Transport-Security"]


def test_production_needs_a_configured_issuer(tmp_path, keys_json):
    with pytest.raises(config.ConfigError, match="VRM_ISSUER"):
        create_app(
            {
                "ENV": "production",
                "KEYS": keys_json,
                "INSTANCE_PATH": str(tmp_path),
                "DATABASE_URL": "sqlite://",
            }
        )


def test_the_job_ledger_must_outlive_two_of_the_longest_periods():
    with pytest.raises(config.ConfigError, match="VRM_JOB_RUN_RETENTION_DAYS"):
        config.load(environ={"VRM_PURGE_PERIOD_S": "864000", "VRM_JOB_RUN_RETENTION_DAYS": "7"})
    settings = config.load(environ={"VRM_PURGE_PERIOD_S": "86400"})
    assert settings["JOB_RUN_RETENTION_DAYS"] == 7
