"""English and French for the person's pages (Flask-Babel).

The pages speak the language the person chose with the switcher in the footer, else the
language of their profile's ``locale``, else the best match for the browser's
Accept-Language, else English. The APIs always speak English: their problem details are
read by programs and by integrators, and a response must not change with a header the
caller did not mean to send.

Services raise their errors with :func:`gettext`, so the same message is English on the
API and in the person's language on a page. Strings defined at import time (tables of
words) use :func:`lazy_gettext` so they are translated when shown, not when imported
(:func:`lazy_pgettext` for a word whose French depends on what it describes, such as a
state that agrees with its noun).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from babel.lists import format_list
from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel, get_locale, gettext, lazy_gettext, lazy_pgettext, ngettext
from markupsafe import Markup, escape
from sqlalchemy.exc import SQLAlchemyError

__all__ = [
    "LANGUAGES",
    "N_",
    "current_language",
    "gettext",
    "init_app",
    "lazy_gettext",
    "lazy_pgettext",
    "ngettext",
    "translate",
]

LANGUAGES = {"en": "English", "fr": "Français"}
DEFAULT_LANGUAGE = "en"
TRANSLATIONS = Path(__file__).parent / "translations"


def N_(message: str) -> str:  # noqa: N802  (the gettext convention for "mark only")
    """Mark ``message`` for the catalog without translating it here: it is translated
    where it is shown, with :func:`translate`."""
    return message


def translate(message: Any) -> str:
    """``message`` in the current language when the catalog has it, else as it is: for
    words held as data (a term's title, a validation message from a library)."""
    if message is None or message == "":
        return ""
    return gettext(str(message)) if isinstance(message, str) else str(message)


def join_words(items: Any, describe: Any = None) -> Markup:
    """Items as a list in the page's language ("a, b and c", "a, b et c"); each is
    escaped unless already markup, after ``describe`` turns it into words."""
    shown = [escape(describe(item) if describe else item) for item in items]
    return Markup(format_list(shown, locale=current_language()) if shown else "")


def language_from(tag: str | None) -> str | None:
    """The supported language of a BCP 47 tag such as ``fr-CA``, or None."""
    if not tag:
        return None
    language = tag.replace("_", "-").split("-")[0].lower()
    return language if language in LANGUAGES else None


def select_language() -> str:
    if not has_request_context() or not _is_page():
        return DEFAULT_LANGUAGE
    chosen = language_from(session.get("lang"))
    if chosen:
        return chosen
    person = g.get("person")
    if person is not None:
        preferred = language_from(_profile_locale(person.id))
        if preferred:
            return preferred
    return request.accept_languages.best_match(list(LANGUAGES)) or DEFAULT_LANGUAGE


def _profile_locale(person_id: uuid.UUID) -> str | None:
    """Read in a session of its own, and never fatal: an error page, drawn after the
    request's transaction failed or while the database is away, must still render."""
    from vrm.profile.service import ProfileService
    from vrm.runtime import runtime

    rt = runtime()
    try:
        with rt.sessions() as session:
            return ProfileService(session, rt.keyring).locale_of(person_id)
    except SQLAlchemyError:
        return None


def _is_page() -> bool:
    from vrm.http import is_api_request

    return not is_api_request()


def current_language() -> str:
    return str(get_locale() or DEFAULT_LANGUAGE)


def init_app(app: Flask) -> None:
    Babel(
        app,
        locale_selector=select_language,
        default_locale=DEFAULT_LANGUAGE,
        default_translation_directories=str(TRANSLATIONS),
    )
    app.jinja_env.globals.update(
        languages=LANGUAGES, current_language=current_language, translate=translate
    )
    app.jinja_env.filters["join_words"] = join_words
