"""Checked values shared by intentions, subscriptions and offers: money, places, keywords.

Amounts travel as decimal strings and are stored as whole minor units of their ISO 4217
currency (cents, yen, fils), so comparisons in SQL are exact on every database."""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal
from typing import Any

import pycountry
from babel.numbers import get_currency_precision

from vrm.errors import ValidationFailed
from vrm.i18n import gettext

MAX_AMOUNT = Decimal("1000000000000")  # a trillion: more is a typo, not a budget


# ISO 4217 codes that name no money: "no currency" and "for testing".
NOT_MONEY = {"XXX", "XTS"}


def check_currency(code: str, *, field: str) -> str:
    """An ISO 4217 code, returned in capitals (``eur`` is ``EUR``)."""
    upper = code.upper() if isinstance(code, str) else ""
    if len(upper) != 3 or upper in NOT_MONEY or pycountry.currencies.get(alpha_3=upper) is None:
        raise ValidationFailed(
            gettext("%(code)s is not an ISO 4217 currency code", code=repr(code)), field=field
        )
    return upper


def to_minor(amount: Decimal, currency: str, *, field: str) -> int:
    """``Decimal("12.50")``, ``"EUR"`` -> ``1250``; refuses more decimals than the currency
    has (exactly: nothing is rounded away)."""
    places = get_currency_precision(currency)
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise ValidationFailed(gettext("Give an amount from 0 to 1000000000000"), field=field)
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if amount and exponent < -places:
        raise ValidationFailed(
            gettext(
                "%(currency)s amounts have at most %(places)s decimal places",
                currency=currency,
                places=places,
            ),
            field=field,
        )
    return int(amount.scaleb(places))


def price_band(price: dict[str, Any] | None) -> tuple[str | None, int | None, int | None]:
    """``{"min", "max", "currency"}`` (either end open) -> currency and minor units."""
    if not price:
        return None, None, None
    currency = check_currency(price.get("currency") or "", field="price.currency")
    low, high = price.get("min"), price.get("max")
    low_minor = None if low is None else to_minor(low, currency, field="price.min")
    high_minor = None if high is None else to_minor(high, currency, field="price.max")
    if low_minor is not None and high_minor is not None and low_minor > high_minor:
        raise ValidationFailed(gettext("The lowest price is above the highest"), field="price.min")
    return currency, low_minor, high_minor


def price_view(currency: str | None, low: int | None, high: int | None) -> dict[str, Any] | None:
    """The stored band as the API shows it (``price_band`` the other way round)."""
    if currency is None:
        return None
    return {
        "min": from_minor(low, currency),
        "max": from_minor(high, currency),
        "currency": currency,
    }


def from_minor(minor: int | None, currency: str | None) -> str | None:
    if minor is None or currency is None:
        return None
    places = get_currency_precision(currency)
    return str(Decimal(minor).scaleb(-places).quantize(Decimal(1).scaleb(-places)))


def check_country(code: str, *, field: str) -> str:
    """An ISO 3166-1 alpha-2 code, returned in capitals."""
    upper = code.upper()
    if len(upper) != 2 or pycountry.countries.get(alpha_2=upper) is None:
        raise ValidationFailed(
            gettext("%(code)s is not an ISO 3166-1 alpha-2 country code", code=repr(code)),
            field=field,
        )
    return upper


def check_region(code: str, *, field: str) -> str:
    """An ISO 3166-1 country (``FR``) or an ISO 3166-2 subdivision (``FR-IDF``), in capitals."""
    if len(code) == 2:
        return check_country(code, field=field)
    upper = code.upper()
    if pycountry.subdivisions.get(code=upper) is None:
        raise ValidationFailed(
            gettext("%(code)s is not an ISO 3166-2 region code", code=repr(code)), field=field
        )
    return upper


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
PHRASE_WORDS = 3


def words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold())


def phrase(text: str) -> str:
    """A keyword as matched: case-folded words joined by one space (``E-Bike`` is
    ``e bike``); empty when it holds no word."""
    return " ".join(words(text))


def phrases(text: str) -> set[str]:
    """Every run of one to three words of ``text``, so that a keyword ``e-bike`` or
    ``gravel bike`` is found in a title that contains it."""
    found = words(text)
    return {
        " ".join(found[i : i + n])
        for n in range(1, PHRASE_WORDS + 1)
        for i in range(len(found) - n + 1)
    }
