"""Accounts: sign-up, authentication, and personal access tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vrm import clock
from vrm.accounts.models import Person, PersonalToken, WebSession
from vrm.accounts.passwords import Passwords
from vrm.crypto import Keyring, aad_for, new_token, token_digest
from vrm.db import write_transaction
from vrm.errors import Conflict, InvalidCredentials, NotFound, ValidationFailed
from vrm.i18n import N_, gettext, translate
from vrm.pagination import Page, newest_first

TOKEN_PREFIX = "vrm_pat_"
WEB_SESSION_PREFIX = "vrm_ws_"
WEB_SESSION_LIFETIME = timedelta(hours=12)
TOKEN_NAME_MAX = 100
TOKEN_LIFETIME_MAX_DAYS = 366
# last_used_at is a hint for the person, not an audit trail: write it at most this often.
LAST_USED_GRANULARITY = timedelta(minutes=5)


# email_validator's messages (English) that name no character or length, for the catalog:
# translated where they are raised; the others (which quote the address) stay English.
EMAIL_MESSAGES = [
    N_("An email address must have an @-sign."),
    N_("There must be something before the @-sign."),
    N_("There must be something after the @-sign."),
    N_("An email address cannot have two periods in a row."),
    N_("An email address cannot start with a period."),
    N_("An email address cannot have a period immediately before the @-sign."),
    N_("An email address cannot have a period immediately after the @-sign."),
    N_("An email address cannot have a hyphen immediately after the @-sign."),
    N_("An email address cannot end with a period."),
    N_("An email address cannot end with a hyphen."),
    N_("An email address cannot have a period and a hyphen next to each other."),
    N_("The part after the @-sign is not valid. It should have a period."),
    N_("The part after the @-sign is not valid. It is not within a valid top-level domain."),
    N_(
        "The part after the @-sign is a special-use or reserved name that cannot be used"
        " with email."
    ),
    N_("The email address contains an invalid character."),
    N_("The email address contains invalid characters before the @-sign."),
    N_("Internationalized characters before the @-sign are not supported."),
    N_("Quoting the part before the @-sign is not allowed here."),
    N_("A bracketed IP address after the @-sign is not allowed here."),
    N_("A display name and angle brackets around the email address are not permitted here."),
    N_("There can't be anything after the email address."),
    N_(
        'The email address has the "full-width" at-sign (@) character instead of a regular at-sign.'
    ),
    N_('The email address has the "small commercial at" character instead of a regular at-sign.'),
]


def normalize_email(email: str, *, field: str = "email") -> str:
    """Return the normalised address, or raise naming ``field``."""
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(translate(str(exc)), field=field) from None


# Built once: every personal API request finds its token's owner.
_TOKEN_OWNER = (
    select(PersonalToken, Person)
    .join(Person, Person.id == PersonalToken.person_id)
    .where(PersonalToken.digest == bindparam("digest"))
)


class AccountService:
    def __init__(self, session: Session, keyring: Keyring, passwords: Passwords):
        self.session = session
        self.keyring = keyring
        self.passwords = passwords

    def _email_index(self, normalized_email: str) -> str:
        return self.keyring.blind_index("email", normalized_email.lower())

    def sign_up(self, email: str, password: str) -> Person:
        normalized = normalize_email(email)
        self.passwords.check_policy(password, email=normalized)
        password_hash = self.passwords.hash(password)  # slow by design: outside the transaction
        index = self._email_index(normalized)
        now = clock.now()
        taken = Conflict(gettext("An account with this email already exists"), field="email")
        try:
            with write_transaction(self.session):
                if self.session.scalar(select(Person.id).where(Person.email_index == index)):
                    raise taken
                person = Person(
                    id=uuid.uuid4(),
                    email_index=index,
                    password_hash=password_hash,
                    created_at=now,
                    updated_at=now,
                )
                person.email = self.keyring.encrypt(
                    normalized, aad_for("persons", "email", person.id)
                )
                self.session.add(person)
        except IntegrityError:
            raise taken from None
        return person

    def authenticate(self, email: str, password: str) -> Person:
        """Return the person with these credentials, or raise InvalidCredentials."""
        try:
            normalized = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError:
            normalized = email
        person = self.session.scalar(
            select(Person).where(Person.email_index == self._email_index(normalized))
        )
        if not self.passwords.verify(person.password_hash if person else None, password):
            raise InvalidCredentials(gettext("The email or the password is not right"))
        assert person is not None
        if self.passwords.needs_rehash(person.password_hash):
            with write_transaction(self.session):
                person.password_hash = self.passwords.hash(password)
                self.session.add(person)
        return person

    def confirm_password(self, person: Person, password: str) -> None:
        if not self.passwords.verify(person.password_hash, password):
            raise ValidationFailed(gettext("The password is not right"), field="password")

    def get(self, person_id: uuid.UUID) -> Person | None:
        return self.session.get(Person, person_id)

    def email_of(self, person: Person) -> str:
        return self.keyring.decrypt(person.email, aad_for("persons", "email", person.id))

    # Personal access tokens

    def issue_token(
        self, person: Person, name: str, expires_in_days: int | None = None
    ) -> tuple[PersonalToken, str]:
        """Create a token; the secret is returned here once and never stored."""
        name = name.strip()
        if not name or len(name) > TOKEN_NAME_MAX:
            raise ValidationFailed(
                gettext("Give the token a name of 1 to %(most)s characters", most=TOKEN_NAME_MAX),
                field="name",
            )
        if expires_in_days is not None and not 1 <= expires_in_days <= TOKEN_LIFETIME_MAX_DAYS:
            raise ValidationFailed(
                gettext("Choose between 1 and %(most)s days", most=TOKEN_LIFETIME_MAX_DAYS),
                field="expires_in_days",
            )
        secret = new_token(TOKEN_PREFIX)
        now = clock.now()
        with write_transaction(self.session):
            token = PersonalToken(
                id=uuid.uuid4(),
                person_id=person.id,
                digest=token_digest(secret),
                hint=secret[: len(TOKEN_PREFIX) + 4],
                created_at=now,
                expires_at=now + timedelta(days=expires_in_days) if expires_in_days else None,
            )
            token.name = self.keyring.encrypt(name, aad_for("personal_tokens", "name", token.id))
            self.session.add(token)
        return token, secret

    def token_view(self, token: PersonalToken) -> dict[str, Any]:
        """The token as its owner sees it: everything but the secret, the name decrypted."""
        name = self.keyring.decrypt(token.name, aad_for("personal_tokens", "name", token.id))
        return {
            "id": token.id,
            "name": name,
            "hint": token.hint,
            "created_at": token.created_at,
            "expires_at": token.expires_at,
            "last_used_at": token.last_used_at,
            "revoked_at": token.revoked_at,
        }

    def list_tokens(self, person: Person, *, limit: int, cursor: str | None) -> Page[PersonalToken]:
        stmt = select(PersonalToken).where(PersonalToken.person_id == person.id)
        return newest_first(
            self.session,
            stmt,
            PersonalToken.created_at,
            PersonalToken.id,
            limit=limit,
            cursor=cursor,
        )

    def get_token(self, person: Person, token_id: uuid.UUID) -> PersonalToken:
        """One of the person's own tokens; another person's is not found."""
        token = self.session.scalar(
            select(PersonalToken).where(
                PersonalToken.id == token_id, PersonalToken.person_id == person.id
            )
        )
        if token is None:
            raise NotFound(gettext("No such token"))
        return token

    def revoke_token(self, person: Person, token_id: uuid.UUID) -> PersonalToken:
        with write_transaction(self.session):
            token = self.get_token(person, token_id)
            token.revoked_at = token.revoked_at or clock.now()
        return token

    def person_for_token(self, secret: str) -> Person | None:
        """The owner of a live token, or None for an unknown, revoked or expired one."""
        if not secret.startswith(TOKEN_PREFIX):
            return None
        row = self.session.execute(_TOKEN_OWNER, {"digest": token_digest(secret)}).first()
        if row is None:
            return None
        token, person = row
        now = clock.now()
        if token.revoked_at or (token.expires_at and token.expires_at <= now):
            return None
        if token.last_used_at is None or now - token.last_used_at > LAST_USED_GRANULARITY:
            with write_transaction(self.session):
                token.last_used_at = now
                self.session.add(token)
        return person

    # Web sessions

    def open_web_session(self, person: Person) -> str:
        """Start a browser session; the returned secret goes in the signed cookie."""
        secret = new_token(WEB_SESSION_PREFIX)
        now = clock.now()
        with write_transaction(self.session):
            self.session.execute(
                delete(WebSession).where(
                    WebSession.person_id == person.id, WebSession.expires_at <= now
                )
            )
            self.session.add(
                WebSession(
                    id=uuid.uuid4(),
                    person_id=person.id,
                    digest=token_digest(secret),
                    created_at=now,
                    expires_at=now + WEB_SESSION_LIFETIME,
                )
            )
        return secret

    def person_for_web_session(self, secret: str) -> Person | None:
        row = self.session.execute(
            select(Person)
            .join(WebSession, WebSession.person_id == Person.id)
            .where(WebSession.digest == token_digest(secret), WebSession.expires_at > clock.now())
        ).first()
        return row[0] if row else None

    def close_web_session(self, secret: str) -> None:
        with write_transaction(self.session):
            self.session.execute(
                delete(WebSession).where(WebSession.digest == token_digest(secret))
            )
