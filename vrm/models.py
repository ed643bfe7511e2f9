"""Every model, imported once so the metadata is complete (for Alembic and key rotation)."""

from vrm.accounts.models import Person, PersonalToken, WebSession
from vrm.db import Base
from vrm.profile.models import ProfileAttribute, ProfileRevision
from vrm.vendors.models import (
    AuthorizationCode,
    OAuthClient,
    OAuthToken,
    RegistrationToken,
    Relationship,
    Vendor,
)

__all__ = [
    "AuthorizationCode",
    "OAuthClient",
    "OAuthToken",
    "RegistrationToken",
    "Relationship",
    "Vendor",
    "Base",
    "Person",
    "PersonalToken",
    "ProfileAttribute",
    "ProfileRevision",
    "WebSession",
]
