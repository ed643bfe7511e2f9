"""The ``vrm`` command."""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
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
@click.option("--with-worker", is_flag=True, help="Also run the periodic jobs in this process.")
def serve(host: str, port: int, with_worker: bool) -> None:
    """Serve the app with the built-in threaded server (use gunicorn in production)."""
    from werkzeug.serving import run_simple

    from vrm.app import create_app

    app = create_app()
    if with_worker:
        from vrm.worker import start_in_background

        start_in_background(app)
    click.echo(f"VRM listening on http://{host}:{port}/")
    run_simple(host, port, app, threaded=True, use_reloader=False, use_debugger=False)


@main.command()
@click.option("--once", is_flag=True, help="Run every job once and exit.")
def worker(once: bool) -> None:
    """Run the periodic jobs (consent expiry, ...) and deliver webhooks; run as many
    workers as you like, each job still runs once per period."""
    import logging

    from vrm.app import create_app
    from vrm.worker import run_forever, run_once

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    app = create_app()
    if once:
        click.echo(json.dumps(run_once(app)))
    else:
        run_forever(app)


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


@keys.command("new")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def keys_new(path: Path) -> None:
    """Write a new keyring to PATH (readable by its owner only), for VRM_KEYS_FILE; never
    over an existing file, whose keys may be all that can read a database."""
    from vrm.crypto import KeyMaterial, Keyring

    if path.exists():
        raise click.ClickException(f"{path} exists; a keyring is never overwritten")
    Keyring(KeyMaterial.generate(), path).save()
    click.echo(f"wrote a new keyring to {path}; back it up apart from the database")


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


@keys.command("rotate-signing")
def keys_rotate_signing() -> None:
    """Sign new records with a new Ed25519 key; old keys stay published so old receipts
    keep verifying."""
    import secrets

    from vrm.crypto import new_key_id

    ring = _keyring_app().extensions["vrm"].keyring
    previous = ring.material.signing_active
    kid = "s" + new_key_id()
    ring.material.signing_keys[kid] = secrets.token_bytes(32)
    ring.material.signing_active = kid
    ring.save()
    click.echo(json.dumps({"active": kid, "previous": previous}))


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


@main.group()
def vendor() -> None:
    """Vendors and their OAuth clients."""


@vendor.command("create")
@click.option("--name", required=True)
@click.option(
    "--redirect-uri",
    "redirect_uris",
    multiple=True,
    help="Exact redirect URI for the authorization code flow; repeatable.",
)
@click.option(
    "--scope",
    "scope_list",
    multiple=True,
    help="A scope the client may ask for; repeatable. Default: every vendor scope.",
)
@click.option("--website")
@click.option("--privacy-policy-url")
@click.option("--contact-email")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def vendor_create(
    name: str,
    redirect_uris: tuple[str, ...],
    scope_list: tuple[str, ...],
    website: str | None,
    privacy_policy_url: str | None,
    contact_email: str | None,
    as_json: bool,
) -> None:
    """Create a vendor with one OAuth client; the client secret is printed once."""
    from vrm.errors import ValidationFailed
    from vrm.vendors.service import VendorService

    rt = _keyring_app().extensions["vrm"]
    with rt.sessions() as session:
        try:
            created, client, secret = VendorService(session, rt.keyring).create_vendor(
                name,
                redirect_uris=redirect_uris,
                scope=" ".join(scope_list),
                website=website,
                privacy_policy_url=privacy_policy_url,
                contact_email=contact_email,
            )
        except ValidationFailed as error:
            raise click.ClickException(error.detail) from None
    result = {"vendor_id": str(created.id), "client_id": client.client_id, "client_secret": secret}
    if as_json:
        click.echo(json.dumps(result))
    else:
        for key, value in result.items():
            click.echo(f"{key}: {value}")


@vendor.command("registration-token")
@click.option("--vendor-id", type=click.UUID, help="Clients registered join this vendor.")
@click.option("--days", type=click.IntRange(1, 90), default=7, show_default=True)
def vendor_registration_token(vendor_id: uuid.UUID | None, days: int) -> None:
    """Issue a single-use initial access token for /oauth/register (RFC 7591)."""
    from vrm.errors import NotFound
    from vrm.vendors.service import VendorService

    rt = _keyring_app().extensions["vrm"]
    with rt.sessions() as session:
        try:
            secret = VendorService(session, rt.keyring).issue_registration_token(vendor_id, days)
        except NotFound as error:
            raise click.ClickException(error.detail) from None
    click.echo(json.dumps({"registration_token": secret, "expires_in_days": days}))


@main.command()
@click.option(
    "--if-empty",
    is_flag=True,
    help="Do nothing when any person has an account (make run uses this).",
)
@click.option(
    "--new-secrets",
    is_flag=True,
    help="Give each demo vendor a new OAuth client and print its secret.",
)
@click.option(
    "--base-url",
    default=lambda: f"http://127.0.0.1:{os.environ.get('PORT', '5000')}",
    show_default="http://127.0.0.1:PORT",
    help="Where the app is served, for the login URL printed.",
)
def demo(if_empty: bool, new_secrets: bool, base_url: str) -> None:
    """Make the demo data if missing (idempotent); print its credentials as JSON.

    The demo person logs in as demo@vrm.example with a fixed password. A vendor's client
    secret is shown only when it is made; later runs print null (see --new-secrets).
    """
    from vrm import demo as demo_data

    rt = _keyring_app().extensions["vrm"]
    if if_empty and not demo_data.database_is_empty(rt):
        click.echo(
            "The database has accounts already: no demo data added "
            "(`vrm demo` adds it, or prints the demo login if it is there).",
            err=True,
        )
        return
    try:
        result = demo_data.run(rt, base_url=base_url, new_secrets=new_secrets)
    except demo_data.DemoError as error:
        raise click.ClickException(str(error)) from None
    click.echo(json.dumps(result, indent=2))
    person = result["person"]
    click.echo(
        f"Demo ready: log in at {person['login_url']} as {person['email']} "
        f"with the password {person['password']}; the API is described at "
        f"{base_url.rstrip('/')}/docs",
        err=True,
    )


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
