"""Translate the profile edit form to and from the profile schema's shape.

The form is only an adapter: validation is ProfileSchema's, as on the API.
"""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

SIMPLE = (
    "given_name",
    "family_name",
    "display_name",
    "contact_email",
    "phone",
    "birth_date",
    "locale",
)
ADDRESS = ("locality", "region", "postal_code", "country")


def _pairs(text: str) -> dict[str, str]:
    """Lines of ``key = value``; a line without ``=`` becomes a key with an empty value,
    which the schema then names as the bad entry."""
    pairs: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip():
            key, _, value = line.partition("=")
            pairs[key.strip()] = value.strip()
    return pairs


def from_form(form: MultiDict[str, str], current: dict[str, Any]) -> dict[str, Any]:
    """The PATCH body this form submission means; an emptied input clears its field."""
    body: dict[str, Any] = {name: form.get(name, "").strip() or None for name in SIMPLE}

    street = [line.strip() for line in form.get("street_lines", "").splitlines() if line.strip()]
    address: dict[str, Any] = {
        name: form.get(f"postal_address.{name}", "").strip() for name in ADDRESS
    }
    address = {name: value for name, value in address.items() if value}
    if street:
        address["street_lines"] = street
    body["postal_address"] = address or None

    interests = [item.strip() for item in form.get("interests", "").split(",") if item.strip()]
    sizes = _pairs(form.get("sizes", ""))
    preferences: dict[str, Any] = {}
    if interests:
        preferences["interests"] = interests
    if sizes:
        preferences["sizes"] = sizes
    body["preferences"] = preferences or None

    custom: dict[str, Any] = dict(_pairs(form.get("custom", "")))
    for removed in set(current.get("custom") or {}) - set(custom):
        custom[removed] = None
    body["custom"] = custom or None
    return body


def to_form(values: dict[str, Any]) -> dict[str, str]:
    """The profile's values as the form's inputs show them."""
    form = {name: values.get(name) or "" for name in SIMPLE}
    address = values.get("postal_address") or {}
    form["street_lines"] = "\n".join(address.get("street_lines", []))
    for name in ADDRESS:
        form[f"postal_address.{name}"] = address.get(name, "")
    preferences = values.get("preferences") or {}
    form["interests"] = ", ".join(preferences.get("interests", []))
    form["sizes"] = "\n".join(f"{k} = {v}" for k, v in (preferences.get("sizes") or {}).items())
    form["custom"] = "\n".join(f"{k} = {v}" for k, v in (values.get("custom") or {}).items())
    return form


def error_field(dotted: str) -> str:
    """The form input an API field error belongs to."""
    if dotted.startswith("postal_address.street_lines"):
        return "street_lines"
    if dotted.startswith("preferences.interests"):
        return "interests"
    if dotted.startswith("preferences.sizes"):
        return "sizes"
    if dotted.startswith("custom"):
        return "custom"
    return dotted
