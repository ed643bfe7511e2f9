"""Running Alembic from VRM: ``vrm db upgrade`` is a deploy step, never done by the app."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from vrm import config as vrm_config
from vrm.db import make_engine

ROOT = Path(__file__).resolve().parent.parent


def database_url(alembic_config: Config | None = None) -> str:
    """The URL given to Alembic, else VRM's configured one, else the embedded SQLite file."""
    if alembic_config is not None and alembic_config.attributes.get("url"):
        return alembic_config.attributes["url"]
    settings = vrm_config.load()
    if settings["DATABASE_URL"]:
        return settings["DATABASE_URL"]
    from vrm.app import default_database_url

    instance = Path(settings["INSTANCE_PATH"] or Path.cwd() / "instance").resolve()
    instance.mkdir(parents=True, exist_ok=True)
    return default_database_url(instance)


def alembic_config(url: str | None = None) -> Config:
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.attributes["configure_logging"] = False
    if url:
        cfg.attributes["url"] = url
    return cfg


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def drift(url: str | None = None) -> list[Any]:
    """Differences between the models and the migrated database (empty when in step)."""
    from vrm.models import Base

    engine = make_engine(url or database_url())
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
