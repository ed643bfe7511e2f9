"""The profile catalogue: every field, its type and its validation, in one schema
used by the personal API, the web pages and the OpenAPI document alike."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import marshmallow as ma
import phonenumbers
import pycountry
from babel import Locale, UnknownLocaleError
from marshmallow import fields, validate

from vrm import clock
from vrm.accounts.service import normalize_email
from vrm.errors import ValidationFailed
from vrm.i18n import N_, gettext

CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class Email(fields.String):
    """An email address, returned in its normalised form."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            return normalize_email(text)
        except ValidationFailed as exc:
            raise ma.ValidationError(exc.detail) from None


class PhoneE164(fields.String):
    """A phone number written in E.164 form, such as +33612345678."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not re.fullmatch(r"\+[1-9]\d{6,14}", text):
            raise ma.ValidationError(
                gettext("Write the number in E.164 form: + then country code and number, no spaces")
            )
        try:
            number = phonenumbers.parse(text, None)
        except phonenumbers.NumberParseException:
            raise ma.ValidationError(gettext("Not a phone number")) from None
        if not phonenumbers.is_valid_number(number):
            raise ma.ValidationError(gettext("Not a valid phone number for its country code"))
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


class CountryCode(fields.String):
    """An ISO 3166-1 alpha-2 country code."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs).upper()
        if len(text) != 2 or pycountry.countries.get(alpha_2=text) is None:
            raise ma.ValidationError(
                gettext("Not an ISO 3166-1 alpha-2 country code, such as FR or GB")
            )
        return text


class LanguageTag(fields.String):
    """A BCP 47 language tag, such as fr-CA; returned in canonical case."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            locale = Locale.parse(text, sep="-")
        except (ValueError, TypeError, UnknownLocaleError):
            raise ma.ValidationError(
                gettext("Not a BCP 47 language tag we know, such as en or fr-CA")
            ) from None
        return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


class IsoDate(fields.Date):
    """A date as an ISO 8601 string on both sides (stored as JSON)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        return super()._deserialize(value, attr, data, **kwargs).isoformat()

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return value if value is None or isinstance(value, str) else value.isoformat()


def _plausible_birth_date(value: str) -> None:
    day = dt.date.fromisoformat(value)
    if day > clock.now().date():
        raise ma.ValidationError(gettext("A birth date cannot be in the future"))
    if day < dt.date(1900, 1, 1):
        raise ma.ValidationError(gettext("A birth date before 1900 is not plausible"))


def _text(max_length: int, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.Length(min=1, max=max_length), **kwargs)


class PostalAddressSchema(ma.Schema):
    street_lines = fields.List(_text(200), validate=validate.Length(min=1, max=4))
    locality = _text(100)
    region = _text(100)
    postal_code = _text(20)
    country = CountryCode(required=True)


class PreferencesSchema(ma.Schema):
    sizes = fields.Dict(
        keys=fields.String(validate=validate.Regexp(CUSTOM_KEY)),
        values=_text(20),
        validate=validate.Length(max=20),
        metadata={"example": {"shoe_eu": "42", "shirt": "M"}},
    )
    interests = fields.List(_text(60), validate=validate.Length(max=50))


class ProfileSchema(ma.Schema):
    """The profile. On PATCH, a field sent replaces its value and ``null`` clears it;
    ``custom`` merges key by key, a ``null`` value removing that key."""

    given_name = _text(100, allow_none=True)
    family_name = _text(100, allow_none=True)
    display_name = _text(100, allow_none=True)
    contact_email = Email(allow_none=True, validate=validate.Length(max=254))
    phone = PhoneE164(allow_none=True, metadata={"example": "+33612345678"})
    birth_date = IsoDate(allow_none=True, validate=_plausible_birth_date)
    postal_address = fields.Nested(PostalAddressSchema, allow_none=True)
    locale = LanguageTag(allow_none=True, metadata={"example": "fr-FR"})
    preferences = fields.Nested(PreferencesSchema, allow_none=True)
    custom = fields.Dict(
        keys=fields.String(
            validate=validate.Regexp(
                CUSTOM_KEY,
                error=N_("Keys are lowercase letters, digits and _, starting with a letter"),
            )
        ),
        values=fields.String(validate=validate.Length(max=500), allow_none=True),
        validate=validate.Length(max=50),
        allow_none=True,
        metadata={"example": {"favourite_shop": "the bakery on Rue Victor Hugo"}},
    )

    version = fields.Integer(dump_only=True, metadata={"description": "Number of the last change"})
    updated_at = fields.DateTime(dump_only=True, allow_none=True)


PROFILE_FIELDS = tuple(
    name for name, field in ProfileSchema().fields.items() if not field.dump_only
)


class ProfileRevisionSchema(ma.Schema):
    number = fields.Integer()
    created_at = fields.DateTime()
    changes = fields.Dict(metadata={"description": "The fields this change set; null cleared one"})
