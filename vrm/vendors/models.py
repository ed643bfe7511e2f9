"""Vendors and the OAuth 2 records about them. Secrets, codes and tokens are kept only as
SHA-256 digests; what Authlib needs from each record is a method here."""

from __future__ import annotations

import hmac
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from vrm import clock
from vrm.crypto import token_digest
from vrm.db import Base, UUIDPk
from vrm.vendors import scopes


class Vendor(Base):
    __tablename__ = "vendors"

    id: Mapped[UUIDPk]
    name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(500))
    privacy_policy_url: Mapped[str | None] = mapped_column(String(500))
    contact_email: Mapped[str | None] = mapped_column(String(254))
    created_at: Mapped[datetime]


class OAuthClient(Base):
    """A vendor's OAuth client (confidential: it authenticates with its secret)."""

    __tablename__ = "oauth_clients"

    id: Mapped[UUIDPk]
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_digest: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    grant_types: Mapped[list[str]] = mapped_column(JSON)
    scope: Mapped[str] = mapped_column(Text)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]

    # Authlib's ClientMixin

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        # RFC 9700: with several registered URIs the client must name one.
        return self.redirect_uris[0] if len(self.redirect_uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        """The scope to grant, or None when the client asks for one it was not given."""
        if not scope:
            return self.scope  # client_credentials without a scope: all the client may have
        allowed = set(scopes.parse(self.scope))
        wanted = scopes.parse(scope)
        return " ".join(wanted) if all(s in allowed for s in wanted) else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match, no prefixes or patterns (RFC 9700 section 4.1.3).
        return redirect_uri in self.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.secret_digest, token_digest(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if endpoint == "token":
            return method == self.token_endpoint_auth_method
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.grant_types


class AuthorizationCode(Base):
    __tablename__ = "oauth_authorization_codes"

    id: Mapped[UUIDPk]
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    redirect_uri: Mapped[str] = mapped_column(String(500))
    scope: Mapped[str] = mapped_column(Text)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(10))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

    # Authlib's AuthorizationCodeMixin

    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope


class OAuthToken(Base):
    """An access token, with its refresh token when the grant gives one.

    Tokens that descend from one authorization share a ``family_id``: reuse of a rotated
    refresh token revokes the whole family (RFC 9700 section 4.14.2).
    """

    __tablename__ = "oauth_tokens"
    __table_args__ = (Index("ix_oauth_tokens_family_id", "family_id"),)

    id: Mapped[UUIDPk]
    client_pk: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_clients.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    # The access token's scope; a refresh may narrow it for one access token.
    scope: Mapped[str] = mapped_column(Text)
    # The whole grant's scope, which every refresh token of the family keeps (RFC 6749 6).
    grant_scope: Mapped[str | None] = mapped_column(Text)
    access_digest: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    family_id: Mapped[uuid.UUID]
    code_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    issued_at: Mapped[datetime]
    access_expires_at: Mapped[datetime]
    refresh_expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    # Set when the refresh token was exchanged for a new one; using it again is reuse.
    rotated_at: Mapped[datetime | None]

    # Authlib's TokenMixin. The store attaches the OAuthClient as ``client`` (not a column).

    client = None
    vendor = None  # the client's vendor, when the token was looked up with it
    presented_refresh = False

    @property
    def whole_scope(self) -> str:
        return self.grant_scope if self.grant_scope is not None else self.scope

    def check_client(self, client: OAuthClient) -> bool:
        return self.client_pk == client.id

    def get_scope(self) -> str:
        return self.scope

    def get_expires_in(self) -> int:
        return int((self.access_expires_at - self.issued_at).total_seconds())

    def get_expires_at(self) -> int:
        return int(self.access_expires_at.timestamp())

    def is_expired(self) -> bool:
        return self.access_expires_at <= clock.now()

    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    def get_user(self) -> Any:
        return self.person_id

    def get_client(self) -> Any:
        return self.client


class RegistrationToken(Base):
    """An initial access token for dynamic client registration (RFC 7591), issued by the
    operator; single use. With a vendor, the new client joins that vendor."""

    __tablename__ = "oauth_registration_tokens"

    id: Mapped[UUIDPk]
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    vendor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE")
    )
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]


class Relationship(Base):
    """A person and a vendor that know each other, and the person's pseudonym there."""

    __tablename__ = "vendor_relationships"
    __table_args__ = (
        UniqueConstraint("vendor_id", "person_id"),
        UniqueConstraint("vendor_id", "customer_ref"),
    )

    id: Mapped[UUIDPk]
    vendor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("vendors.id", ondelete="CASCADE"))
    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), index=True
    )
    customer_ref: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime]


class VendorBlock(Base):
    """A person's block of a vendor: it matches none of their intentions and, later,
    cannot write to them."""

    __tablename__ = "vendor_blocks"

    person_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("persons.id", ondelete="CASCADE"), primary_key=True
    )
    vendor_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vendors.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    created_at: Mapped[datetime]
