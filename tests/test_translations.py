"""The French catalog is complete: every translatable string in the pages, their views and
the services' messages has a French translation with the same placeholders."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "vrm/translations/fr/LC_MESSAGES/messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    template = tmp_path_factory.mktemp("catalog") / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg"]
        + ["-k", "lazy_gettext", "-k", "lazy_pgettext:1c,2", "--no-location"]
        + ["-o", str(template), "."],
        cwd=ROOT,
        check=True,
    )
    # Keyed by (context, msgid): one English word may need several French ones.
    with template.open("rb") as handle:
        return {(m.context, m.id): m for m in read_po(handle) if m.id}


@pytest.fixture(scope="module")
def french() -> dict[str, object]:
    with CATALOG.open("rb") as handle:
        return {(m.context, m.id): m for m in read_po(handle, locale="fr") if m.id}


def _forms(message: object) -> tuple[str, ...]:
    value = message.string  # type: ignore[attr-defined]
    return value if isinstance(value, tuple) else (value,)


def test_every_string_is_translated(extracted: dict, french: dict) -> None:
    missing = [msgid for msgid in extracted if msgid not in french]
    assert not missing, f"run `make catalog` and translate: {missing[:10]}"
    empty = [msgid for msgid in extracted if not all(_forms(french[msgid]))]
    assert not empty, f"no French yet for: {empty[:10]}"
    fuzzy = [msgid for msgid in extracted if french[msgid].fuzzy]
    assert not fuzzy, f"check and unmark these fuzzy translations: {fuzzy[:10]}"


def test_translations_keep_their_placeholders(extracted: dict, french: dict) -> None:
    for key in extracted:  # (context, msgid); a plural's msgid is (singular, plural)
        ids = key[1] if isinstance(key[1], tuple) else (key[1],)
        wanted = set(PLACEHOLDER.findall(ids[-1]))
        for form in _forms(french[key]):
            assert set(PLACEHOLDER.findall(form)) == wanted, (key, form)


def test_catalog_holds_no_stale_strings(extracted: dict, french: dict) -> None:
    stale = [msgid for msgid in french if msgid not in extracted]
    assert not stale, f"run `make catalog` to drop strings no page uses: {stale[:10]}"
