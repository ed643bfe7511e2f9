"""The ``vrm`` command."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click


@click.group()
def main() -> None:
    """VRM: a customer-controlled relationship platform."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option(
    "--port",
    type=int,
    default=lambda: int(os.environ.get("PORT", "5000")),
    show_default="PORT or 5000",
)
def serve(host: str, port: int) -> None:
    """Serve the app with the built-in threaded server (use gunicorn in production)."""
    from werkzeug.serving import run_simple

    from vrm.app import create_app

    app = create_app()
    click.echo(f"VRM listening on http://{host}:{port}/")
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@main.group()
def db() -> None:
    """Database migrations."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION (a deploy step; the app never migrates itself)."""
    from vrm.migrate import database_url, upgrade

    url = database_url()
    upgrade(url, revision)
    click.echo(f"database at {_redact(url)} is at {revision}")


@db.command("check")
def db_check() -> None:
    """Fail when the models and the migrated database differ."""
    from vrm.migrate import drift

    differences = drift()
    if differences:
        for difference in differences:
            click.echo(repr(difference), err=True)
        sys.exit(1)
    click.echo("models and migrations agree")


@main.group()
def keys() -> None:
    """The encryption keyring."""


def _keyring_app():  # type: ignore[no-untyped-def]
    from vrm.app import create_app

    return create_app()


@keys.command("list")
def keys_list() -> None:
    """Show each key id, whether it is active, and how many values it protects."""
    from vrm.keyrotation import count_by_key

    app = _keyring_app()
    rt = app.extensions["vrm"]
    counts = count_by_key(rt.engine)
    listing = [
        {"kid": kid, "active": kid == rt.keyring.active_kid, "values": counts.get(kid, 0)}
        for kid in rt.keyring.material.keys
    ]
    click.echo(json.dumps(listing, indent=2))


@keys.command("rotate")
def keys_rotate() -> None:
    """Add a new active key, then re-encrypt every stored value under it, while serving."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from vrm.crypto import RELOAD_INTERVAL_S, new_key_id
    from vrm.keyrotation import reencrypt_all

    app = _keyring_app()
    rt = app.extensions["vrm"]
    ring = rt.keyring
    previous = ring.active_kid
    kid = new_key_id()
    ring.material.keys[kid] = AESGCM.generate_key(bit_length=256)
    ring.material.active = kid
    ring.save()
    # Give running processes time to notice the new file before the sweep starts.
    time.sleep(RELOAD_INTERVAL_S * 2)
    moved = reencrypt_all(rt.engine, ring)
    click.echo(json.dumps({"active": kid, "previous": previous, "reencrypted": moved}))


@keys.command("retire")
@click.argument("kid")
def keys_retire(kid: str) -> None:
    """Remove a key that no stored value uses any more."""
    from vrm.keyrotation import assert_unused

    app = _keyring_app()
    rt = app.extensions["vrm"]
    ring = rt.keyring
    if kid not in ring.material.keys:
        raise click.ClickException(f"no key {kid} in the keyring")
    if kid == ring.active_kid:
        raise click.ClickException("the active key cannot be retired; rotate first")
    try:
        assert_unused(rt.engine, kid)
    except RuntimeError as exc:
        raise click.ClickException(str(exc)) from None
    del ring.material.keys[kid]
    ring.save()
    click.echo(json.dumps({"retired": kid}))


@main.command()
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("openapi.yaml"),
    show_default=True,
)
def openapi(output: Path) -> None:
    """Write the OpenAPI document generated from the code."""
    from vrm.openapi import render

    output.write_text(render())
    click.echo(f"wrote {output}")


def _redact(url: str) -> str:
    """A URL fit for output: no password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


if __name__ == "__main__":
    main()
