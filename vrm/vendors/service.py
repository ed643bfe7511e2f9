"""Vendors, their clients, and the person's side of each relationship."""

from __future__ import annotations

import ipaddress
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vrm import clock
from vrm.crypto import Keyring, new_token, token_digest
from vrm.db import insert_missing, write_transaction
from vrm.errors import NotFound, ValidationFailed
from vrm.pagination import Page, newest_first
from vrm.vendors import scopes
from vrm.vendors.models import (
    AuthorizationCode,
    OAuthClient,
    OAuthToken,
    RegistrationToken,
    Relationship,
    Vendor,
)

CLIENT_ID_PREFIX = "vrm_ci_"
CLIENT_SECRET_PREFIX = "vrm_cs_"
REGISTRATION_TOKEN_PREFIX = "vrm_iat_"
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post")
LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


HOSTNAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]")


def check_redirect_uri(uri: str, *, field_name: str = "redirect_uris") -> str:
    """An absolute https URI without a fragment or user info, whose host is a plain DNS
    name or IP literal; plain http only on the loopback interface (RFC 8252, local
    development). The origin ends up in the consent screen's CSP, so nothing else passes."""
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise ValidationFailed(f"{uri!r} must not have a fragment", field=field_name)
    try:
        port = parts.port
    except ValueError:
        raise ValidationFailed(f"{uri!r} has an invalid port", field=field_name) from None
    netloc_host = parts.netloc.rsplit(":", 1)[0] if port is not None else parts.netloc
    if (
        "@" in parts.netloc
        or port == 0
        or not parts.hostname
        or not HOSTNAME.fullmatch(netloc_host)
    ):
        raise ValidationFailed(f"{uri!r} must name a plain host", field=field_name)
    if parts.scheme == "https":
        return uri
    if parts.scheme == "http":
        host = parts.hostname
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host in LOOPBACK_HOSTS
        if loopback:
            return uri
    raise ValidationFailed(
        f"{uri!r} must be https (http only on the loopback interface)", field=field_name
    )


def origin_of(uri: str) -> str:
    """scheme://host[:port] of a URI that passed check_redirect_uri."""
    parts = urlsplit(uri)
    netloc_host = parts.netloc.rsplit(":", 1)[0] if parts.port else parts.netloc
    return f"{parts.scheme}://{netloc_host}" + (f":{parts.port}" if parts.port else "")


@dataclass
class AuthorizedApp:
    client_id: str
    name: str
    scope: str
    authorized_at: datetime


@dataclass
class VendorView:
    """A vendor as a person sees it in their list of relationships."""

    id: uuid.UUID
    name: str
    website: str | None
    privacy_policy_url: str | None
    since: datetime
    apps: list[AuthorizedApp] = field(default_factory=list)


# Built once: every read of a customer runs it.
_PERSON_FOR_REF = select(Relationship.person_id).where(
    Relationship.vendor_id == bindparam("vendor_id"),
    Relationship.customer_ref == bindparam("ref"),
)


class VendorService:
    def __init__(self, session: Session, keyring: Keyring):
        self.session = session
        self.keyring = keyring

    # Operators and registration

    def create_vendor(
        self,
        name: str,
        *,
        redirect_uris: list[str] | tuple[str, ...] = (),
        scope: str | None = None,
        website: str | None = None,
        privacy_policy_url: str | None = None,
        contact_email: str | None = None,
    ) -> tuple[Vendor, OAuthClient, str]:
        """Create a vendor and its first client together; the secret is returned once."""
        name = name.strip()
        if not name or len(name) > 200:
            raise ValidationFailed("Give the vendor a name of 1 to 200 characters", field="name")
        vendor = Vendor(
            id=uuid.uuid4(),
            name=name,
            website=website,
            privacy_policy_url=privacy_policy_url,
            contact_email=contact_email,
            created_at=clock.now(),
        )
        client, secret = self._new_client(
            vendor.id, name, redirect_uris, scope, None, "client_secret_basic"
        )
        with write_transaction(self.session):
            self.session.add(vendor)
            self.session.flush()
            self.session.add(client)
        return vendor, client, secret

    def add_client(
        self,
        vendor: Vendor,
        *,
        name: str | None = None,
        redirect_uris: list[str] | tuple[str, ...] = (),
        scope: str | None = None,
        grant_types: list[str] | None = None,
        auth_method: str = "client_secret_basic",
    ) -> tuple[OAuthClient, str]:
        """Give the vendor a new client; the secret is returned here once."""
        client, secret = self._new_client(
            vendor.id, name or vendor.name, redirect_uris, scope, grant_types, auth_method
        )
        with write_transaction(self.session):
            self.session.add(client)
        return client, secret

    def _new_client(
        self,
        vendor_id: uuid.UUID,
        name: str,
        redirect_uris: Any,
        scope: str | None,
        grant_types: list[str] | None,
        auth_method: str,
    ) -> tuple[OAuthClient, str]:
        uris = [check_redirect_uri(uri) for uri in redirect_uris]
        wanted = scopes.parse(scope) or list(scopes.SCOPES)
        bad = scopes.unknown(" ".join(wanted))
        if bad:
            raise ValidationFailed(f"Unknown scope {bad[0]!r}", field="scope")
        grants = list(grant_types or (GRANT_TYPES if uris else ("client_credentials",)))
        if any(g not in GRANT_TYPES for g in grants):
            raise ValidationFailed(
                f"Grant types are among {', '.join(GRANT_TYPES)}", field="grant_types"
            )
        if "authorization_code" in grants and not uris:
            raise ValidationFailed(
                "The authorization code grant needs a redirect URI", field="redirect_uris"
            )
        if auth_method not in AUTH_METHODS:
            raise ValidationFailed(
                f"Use one of {', '.join(AUTH_METHODS)}", field="token_endpoint_auth_method"
            )
        secret = new_token(CLIENT_SECRET_PREFIX)
        client = OAuthClient(
            id=uuid.uuid4(),
            vendor_id=vendor_id,
            client_id=new_token(CLIENT_ID_PREFIX)[:40],
            secret_digest=token_digest(secret),
            name=name[:200],
            redirect_uris=uris,
            grant_types=grants,
            scope=" ".join(wanted),
            token_endpoint_auth_method=auth_method,
            created_at=clock.now(),
        )
        return client, secret

    def issue_registration_token(self, vendor_id: uuid.UUID | None = None, days: int = 7) -> str:
        """An initial access token for one dynamic client registration."""
        if vendor_id is not None and self.session.get(Vendor, vendor_id) is None:
            raise NotFound("No such vendor")
        secret = new_token(REGISTRATION_TOKEN_PREFIX)
        now = clock.now()
        with write_transaction(self.session):
            self.session.add(
                RegistrationToken(
                    id=uuid.uuid4(),
                    digest=token_digest(secret),
                    vendor_id=vendor_id,
                    created_at=now,
                    expires_at=now + timedelta(days=days),
                )
            )
        return secret

    def registration_token_valid(self, secret: str) -> bool:
        row = self.session.scalar(
            select(RegistrationToken).where(RegistrationToken.digest == token_digest(secret))
        )
        return bool(row and row.used_at is None and row.expires_at > clock.now())

    def register_client(
        self, registration_secret: str, metadata: dict[str, Any]
    ) -> tuple[OAuthClient, str]:
        """Dynamic registration (RFC 7591): spend the initial access token, create the
        client, and the vendor too when the token names none; all or nothing."""
        now = clock.now()
        with write_transaction(self.session):
            claimed = self.session.execute(
                update(RegistrationToken)
                .where(
                    RegistrationToken.digest == token_digest(registration_secret),
                    RegistrationToken.used_at.is_(None),
                    RegistrationToken.expires_at > now,
                )
                .values(used_at=now)
                .returning(RegistrationToken.vendor_id)
            ).first()
            if claimed is None:
                raise NotFound("The initial access token is unknown, used or expired")
            vendor_id = claimed[0]
            name = (metadata.get("client_name") or "").strip()
            if vendor_id is None:
                if not name:
                    raise ValidationFailed("Name the vendor in client_name", field="client_name")
                contacts = metadata.get("contacts") or []
                vendor = Vendor(
                    id=uuid.uuid4(),
                    name=name[:200],
                    website=metadata.get("client_uri"),
                    privacy_policy_url=metadata.get("policy_uri"),
                    contact_email=contacts[0] if contacts else None,
                    created_at=now,
                )
                self.session.add(vendor)
                self.session.flush()
                vendor_id = vendor.id
            client, secret = self._new_client(
                vendor_id,
                name or "client",
                metadata.get("redirect_uris") or [],
                metadata.get("scope"),
                metadata.get("grant_types"),
                metadata.get("token_endpoint_auth_method") or "client_secret_basic",
            )
            self.session.add(client)
        return client, secret

    def get_vendor(self, vendor_id: uuid.UUID) -> Vendor | None:
        return self.session.get(Vendor, vendor_id)

    # Relationships and pseudonyms

    def relate(self, vendor_id: uuid.UUID, person_id: uuid.UUID) -> Relationship:
        """The relationship between a vendor and a person, begun if new."""
        existing = self._relationship(vendor_id, person_id)
        if existing:
            return existing
        try:
            with write_transaction(self.session):
                relationship = Relationship(
                    id=uuid.uuid4(),
                    vendor_id=vendor_id,
                    person_id=person_id,
                    customer_ref=self.keyring.pseudonym(vendor_id, person_id),
                    created_at=clock.now(),
                )
                self.session.add(relationship)
        except IntegrityError:  # begun at the same moment by another request
            relationship = self._relationship(vendor_id, person_id)
            assert relationship is not None
        return relationship

    def relate_within(self, vendor_id: uuid.UUID, person_id: uuid.UUID) -> None:
        """Begin the relationship if new, inside the caller's write transaction."""
        insert_missing(
            self.session,
            Relationship,
            [
                {
                    "id": uuid.uuid4(),
                    "vendor_id": vendor_id,
                    "person_id": person_id,
                    "customer_ref": self.keyring.pseudonym(vendor_id, person_id),
                    "created_at": clock.now(),
                }
            ],
        )

    def _relationship(self, vendor_id: uuid.UUID, person_id: uuid.UUID) -> Relationship | None:
        return self.session.scalar(
            select(Relationship).where(
                Relationship.vendor_id == vendor_id, Relationship.person_id == person_id
            )
        )

    def customer_ref(self, vendor_id: uuid.UUID, person_id: uuid.UUID) -> str:
        return self.keyring.pseudonym(vendor_id, person_id)

    def person_for_ref(self, vendor_id: uuid.UUID, customer_ref: str) -> uuid.UUID | None:
        """Resolve a ref at this vendor only; another vendor's ref resolves to nothing."""
        return self.session.scalar(_PERSON_FOR_REF, {"vendor_id": vendor_id, "ref": customer_ref})

    # The person's side

    def vendors_of(
        self, person_id: uuid.UUID, *, limit: int = 10_000, cursor: str | None = None
    ) -> Page[VendorView]:
        """Vendors the person has a relationship with (newest first) and the apps they
        authorised."""
        page = newest_first(
            self.session,
            select(Relationship).where(Relationship.person_id == person_id),
            Relationship.created_at,
            Relationship.id,
            limit=limit,
            cursor=cursor,
        )
        by_id = {
            vendor.id: vendor
            for vendor in self.session.scalars(
                select(Vendor).where(Vendor.id.in_([rel.vendor_id for rel in page.data]))
            )
        }
        views = {
            rel.vendor_id: VendorView(
                rel.vendor_id,
                by_id[rel.vendor_id].name,
                by_id[rel.vendor_id].website,
                by_id[rel.vendor_id].privacy_policy_url,
                rel.created_at,
            )
            for rel in page.data
        }
        now = clock.now()
        live = self.session.execute(
            select(OAuthToken, OAuthClient)
            .join(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
            .where(
                OAuthToken.person_id == person_id,
                OAuthToken.revoked_at.is_(None),
                OAuthClient.vendor_id.in_(list(views)),
            )
            .order_by(OAuthToken.issued_at)
        ).all()
        apps: dict[tuple[uuid.UUID, str], AuthorizedApp] = {}
        for token, client in live:
            alive = token.access_expires_at > now or (
                token.refresh_digest
                and token.rotated_at is None
                and token.refresh_expires_at
                and token.refresh_expires_at > now
            )
            if alive and client.vendor_id in views:
                apps.setdefault(
                    (client.vendor_id, client.client_id),
                    AuthorizedApp(client.client_id, client.name, token.scope, token.issued_at),
                )
        for (vendor_id, _), app in apps.items():
            views[vendor_id].apps.append(app)
        return Page(list(views.values()), page.next_cursor)

    def revoke_authorizations(self, person_id: uuid.UUID, vendor_id: uuid.UUID) -> int:
        """Revoke every token the person gave this vendor's apps; effective at once."""
        if self._relationship(vendor_id, person_id) is None:
            raise NotFound("No such vendor among yours")
        clients = select(OAuthClient.id).where(OAuthClient.vendor_id == vendor_id)
        now = clock.now()
        with write_transaction(self.session):
            # Spend codes not yet exchanged too, or one could still become a token.
            self.session.execute(
                update(AuthorizationCode)
                .where(
                    AuthorizationCode.person_id == person_id,
                    AuthorizationCode.client_pk.in_(clients),
                    AuthorizationCode.used_at.is_(None),
                )
                .values(used_at=now)
            )
            result = self.session.execute(
                update(OAuthToken)
                .where(
                    OAuthToken.person_id == person_id,
                    OAuthToken.client_pk.in_(clients),
                    OAuthToken.revoked_at.is_(None),
                )
                .values(revoked_at=now)
            )
        return result.rowcount
