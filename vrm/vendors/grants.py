"""Persistence of OAuth grants, with the RFC 9700 rules that need the database:
single-use codes whose replay revokes what they issued, and rotating refresh tokens whose
reuse revokes the whole family. Each claim is one atomic UPDATE, so two concurrent
requests can never both spend the same code or refresh token."""

from __future__ import annotations

import hmac
import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from vrm import clock
from vrm.crypto import token_digest
from vrm.db import write_transaction
from vrm.vendors.models import AuthorizationCode, OAuthClient, OAuthToken, Vendor

log = logging.getLogger(__name__)

ACCESS_TOKEN_PREFIX = "vrm_at_"
REFRESH_TOKEN_PREFIX = "vrm_rt_"
CODE_LIFETIME = timedelta(minutes=10)
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)
REFRESH_TOKEN_LIFETIME = timedelta(days=30)

# Built once rather than per request: every API request finds its token, and every token
# request its client.
_CLIENT = select(OAuthClient).where(OAuthClient.client_id == bindparam("client_id"))
_INSERT_TOKEN = insert(OAuthToken.__table__)
_BY_ACCESS_DIGEST = (
    select(OAuthToken, OAuthClient, Vendor)
    .outerjoin(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
    .outerjoin(Vendor, Vendor.id == OAuthClient.vendor_id)
    .where(OAuthToken.access_digest == bindparam("digest"))
)


class GrantStore:
    def __init__(self, session: Session):
        self.session = session

    def client(self, client_id: str | None) -> OAuthClient | None:
        if not client_id:
            return None
        return self.session.scalar(_CLIENT, {"client_id": client_id})

    def _attach(self, token: OAuthToken | None) -> OAuthToken | None:
        if token is not None:
            token.client = self.session.get(OAuthClient, token.client_pk)
        return token

    # Authorization codes

    def save_code(
        self,
        code: str,
        client: OAuthClient,
        person_id: uuid.UUID,
        redirect_uri: str,
        scope: str,
        challenge: str,
        method: str,
    ) -> None:
        now = clock.now()
        with write_transaction(self.session):
            self.session.add(
                AuthorizationCode(
                    id=uuid.uuid4(),
                    digest=token_digest(code),
                    client_pk=client.id,
                    person_id=person_id,
                    redirect_uri=redirect_uri,
                    scope=scope,
                    code_challenge=challenge,
                    code_challenge_method=method,
                    created_at=now,
                    expires_at=now + CODE_LIFETIME,
                )
            )

    def claim_code(self, code: str, client: OAuthClient) -> AuthorizationCode | None:
        """Spend a code. A code already spent is a replay: the tokens it issued are revoked."""
        now = clock.now()
        digest = token_digest(code)
        with write_transaction(self.session):
            spent = self.session.execute(
                update(AuthorizationCode)
                .where(
                    AuthorizationCode.digest == digest,
                    AuthorizationCode.used_at.is_(None),
                    AuthorizationCode.client_pk == client.id,
                )
                .values(used_at=now)
            ).rowcount
            row = self.session.scalar(
                select(AuthorizationCode).where(AuthorizationCode.digest == digest)
            )
            if row is None or row.client_pk != client.id:
                return None
            if not spent:
                # Every token descended from the code, refreshed ones included.
                families = select(OAuthToken.family_id).where(OAuthToken.code_id == row.id)
                revoked = self.session.execute(
                    update(OAuthToken)
                    .where(OAuthToken.family_id.in_(families), OAuthToken.revoked_at.is_(None))
                    .values(revoked_at=now)
                ).rowcount
                log.warning("authorization code replayed; %d token(s) revoked", revoked)
                return None
        if row.expires_at <= now:
            return None
        return row

    # Tokens

    def save_token(
        self,
        token: dict[str, Any],
        client: OAuthClient,
        person_id: uuid.UUID | None,
        *,
        family_id: uuid.UUID | None = None,
        code_id: uuid.UUID | None = None,
        grant_scope: str | None = None,
    ) -> None:
        now = clock.now()
        refresh = token.get("refresh_token")
        # A plain INSERT: issuing is the hot path of the token endpoint, and nothing else
        # in the request reads the new row back through the ORM.
        with write_transaction(self.session):
            self.session.execute(
                _INSERT_TOKEN,
                dict(
                    id=uuid.uuid4(),
                    client_pk=client.id,
                    person_id=person_id,
                    scope=token.get("scope", ""),
                    grant_scope=grant_scope or token.get("scope", ""),
                    access_digest=token_digest(token["access_token"]),
                    refresh_digest=token_digest(refresh) if refresh else None,
                    family_id=family_id or uuid.uuid4(),
                    code_id=code_id,
                    issued_at=now,
                    access_expires_at=now + timedelta(seconds=int(token["expires_in"])),
                    refresh_expires_at=now + REFRESH_TOKEN_LIFETIME if refresh else None,
                    revoked_at=None,
                    rotated_at=None,
                ),
            )

    def by_access_token(self, access_token: str) -> OAuthToken | None:
        if not access_token.startswith(ACCESS_TOKEN_PREFIX):
            return None
        # One query for the token, its client and the client's vendor: the request reads
        # all three, and the later lookups of the client and vendor by primary key then
        # come from the session's identity map without another round trip.
        found = self.session.execute(
            _BY_ACCESS_DIGEST, {"digest": token_digest(access_token)}
        ).first()
        if found is None:
            return None
        token, _client, vendor = found
        # Held here because the identity map only keeps objects someone references.
        token.vendor = vendor
        return self._attach(token)

    def by_any_token(self, token: str) -> OAuthToken | None:
        """Find a token by its access or refresh secret (revocation, introspection);
        ``presented_refresh`` tells which of the two was presented."""
        digest = token_digest(token)
        row = self._attach(
            self.session.scalar(
                select(OAuthToken).where(
                    or_(OAuthToken.access_digest == digest, OAuthToken.refresh_digest == digest)
                )
            )
        )
        if row is not None:
            row.presented_refresh = row.refresh_digest is not None and hmac.compare_digest(
                row.refresh_digest, digest
            )
        return row

    def is_active(self, row: OAuthToken) -> bool:
        """Whether the secret that found ``row`` (access or refresh) still works."""
        now = clock.now()
        if row.revoked_at is not None:
            return False
        if row.presented_refresh:
            return row.rotated_at is None and bool(
                row.refresh_expires_at and row.refresh_expires_at > now
            )
        return row.access_expires_at > now

    def claim_refresh_token(self, refresh_token: str) -> OAuthToken | None:
        """Spend a refresh token for rotation. A spent one being used again means it leaked:
        the whole family of tokens is revoked and nothing is issued."""
        now = clock.now()
        digest = token_digest(refresh_token)
        with write_transaction(self.session):
            claimed = self.session.execute(
                update(OAuthToken)
                .where(
                    OAuthToken.refresh_digest == digest,
                    OAuthToken.rotated_at.is_(None),
                    OAuthToken.revoked_at.is_(None),
                )
                .values(rotated_at=now)
            ).rowcount
            row = self.session.scalar(select(OAuthToken).where(OAuthToken.refresh_digest == digest))
            if row is None:
                return None
            if not claimed:
                if row.rotated_at is not None:
                    self._revoke_family(row.family_id, now)
                    log.warning("rotated refresh token reused; token family revoked")
                return None
        if row.refresh_expires_at is None or row.refresh_expires_at <= now:
            return None
        return self._attach(row)

    def revoke(self, row: OAuthToken, *, family: bool) -> None:
        now = clock.now()
        with write_transaction(self.session):
            if family:
                self._revoke_family(row.family_id, now)
            else:
                self.session.execute(
                    update(OAuthToken).where(OAuthToken.id == row.id).values(revoked_at=now)
                )

    def _revoke_family(self, family_id: uuid.UUID, now: Any) -> None:
        self.session.execute(
            update(OAuthToken)
            .where(OAuthToken.family_id == family_id, OAuthToken.revoked_at.is_(None))
            .values(revoked_at=now)
        )
