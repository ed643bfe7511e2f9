"""Checked values shared by intentions, subscriptions and offers: money, places, keywords.

Amounts travel as decimal strings and are stored as whole minor units of their ISO 4217
currency (cents, yen, fils), so comparisons in SQL are exact on every database."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation

import pycountry
from babel.numbers import get_currency_precision

from vrm.errors import ValidationFailed

MAX_AMOUNT = Decimal("1000000000000")  # a trillion: more is a typo, not a budget


def check_currency(code: str, *, field: str) -> str:
    if (
        not isinstance(code, str)
        or len(code) != 3
        or pycountry.currencies.get(alpha_3=code) is None
    ):
        raise ValidationFailed(f"{code!r} is not an ISO 4217 currency code", field=field)
    return code


def to_minor(amount: Decimal, currency: str, *, field: str) -> int:
    """``Decimal("12.50")``, ``"EUR"`` -> ``1250``; refuses more decimals than the currency has."""
    places = get_currency_precision(currency)
    try:
        if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
            raise ValidationFailed("Give an amount from 0 to 1000000000000", field=field)
        scaled = amount.scaleb(places)
        if scaled != scaled.to_integral_value():
            raise ValidationFailed(
                f"{currency} amounts have at most {places} decimal places", field=field
            )
    except InvalidOperation:
        raise ValidationFailed("Not an amount", field=field) from None
    return int(scaled)


def from_minor(minor: int | None, currency: str | None) -> str | None:
    if minor is None or currency is None:
        return None
    places = get_currency_precision(currency)
    return str(Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def check_country(code: str, *, field: str) -> str:
    if pycountry.countries.get(alpha_2=code) is None or len(code) != 2:
        raise ValidationFailed(f"{code!r} is not an ISO 3166-1 alpha-2 country code", field=field)
    return code


def check_region(code: str, *, field: str) -> str:
    """An ISO 3166-1 country (``FR``) or an ISO 3166-2 subdivision (``FR-IDF``)."""
    if len(code) == 2:
        return check_country(code, field=field)
    if pycountry.subdivisions.get(code=code) is None:
        raise ValidationFailed(f"{code!r} is not an ISO 3166-2 region code", field=field)
    return code


def region_lineage(country: str | None, region: str | None) -> list[str]:
    """The places an intention is in, broadest first: ``FR``, ``FR-IDF``, ``FR-75C``."""
    places: list[str] = []
    code = region
    while code:
        places.insert(0, code)
        subdivision = pycountry.subdivisions.get(code=code)
        code = getattr(subdivision, "parent_code", None)
    if country:
        places.insert(0, country)
    return places


_WORD = re.compile(r"\w+")


def normalise_keyword(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold().strip()


def words(*texts: str) -> set[str]:
    """The searchable words of free text (a title), normalised like keywords."""
    found: set[str] = set()
    for text in texts:
        found.update(_WORD.findall(normalise_keyword(text)))
    return found
