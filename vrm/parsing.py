"""Reading numbers typed by people or sent in cursors, without surprises."""

from __future__ import annotations

from vrm.errors import ValidationFailed
from vrm.i18n import gettext


def whole_number(raw: str | None, field: str, *, max_digits: int = 9) -> int | None:
    """A non-negative whole number in ASCII digits, or None when empty.

    ``str.isdigit`` accepts "²" and other digits ``int`` refuses, and a long enough number
    overflows a database integer; both are refused here, naming the field."""
    text = (raw or "").strip()
    if not text:
        return None
    if not (text.isascii() and text.isdecimal()) or len(text) > max_digits:
        raise ValidationFailed(gettext("Give a whole number"), field=field)
    return int(text)
