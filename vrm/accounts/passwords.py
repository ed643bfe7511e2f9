"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from vrm.errors import ValidationFailed
from vrm.i18n import gettext

MIN_LENGTH = 10
MAX_LENGTH = 256
_COMMON = frozenset(FREQUENCY_LISTS["passwords"])


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int, parallelism: int):
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the account does not exist, so timing does not tell.
        self._decoy = self._hasher.hash("decoy password that matches nothing")

    def check_policy(self, password: str, *, email: str = "") -> None:
        """Refuse short, overlong, common or easily guessed passwords."""
        if len(password) < MIN_LENGTH:
            raise ValidationFailed(
                gettext("Use at least %(least)s characters", least=MIN_LENGTH), field="password"
            )
        if len(password) > MAX_LENGTH:
            raise ValidationFailed(
                gettext("Use at most %(most)s characters", most=MAX_LENGTH), field="password"
            )
        if password.lower() in _COMMON:
            raise ValidationFailed(
                gettext("This password is on a list of common passwords"), field="password"
            )
        if zxcvbn(password, user_inputs=[email, email.partition("@")[0]])["score"] < 2:
            raise ValidationFailed(
                gettext("This password is too easy to guess; add words or characters"),
                field="password",
            )

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy, password) and bool(
                password_hash
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
