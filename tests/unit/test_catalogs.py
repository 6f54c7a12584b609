"""The four message catalogs (handlers/locale/*/LC_MESSAGES/passcode.po) say the same things:
the same keys, and in every language the placeholders English has, no more and no fewer."""

from __future__ import annotations

import string
from datetime import UTC, datetime

from babel.messages.pofile import read_po

from handlers.i18n import CATALOG, LANGUAGES, catalog_path, t, when


def messages(lang: str) -> dict[str, str]:
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang)
    return {str(m.id): str(m.string) for m in catalog if m.id}


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def test_every_catalog_has_the_same_keys_and_every_message_is_written() -> None:
    english = messages("en")
    for lang in LANGUAGES:
        found = messages(lang)
        assert set(found) == set(english), (lang, set(found) ^ set(english))
        assert [key for key, text in found.items() if not text.strip()] == [], lang


def test_every_translation_fills_the_placeholders_english_has() -> None:
    english = messages("en")
    for lang in LANGUAGES:
        for key, text in messages(lang).items():
            assert placeholders(text) == placeholders(english[key]), (lang, key)


def test_the_catalogs_are_what_the_bot_renders() -> None:
    assert set(CATALOG) == set(messages("en"))
    assert t("sv-SE", "button.cancel") == messages("sv")["button.cancel"] == "Avbryt begäran"
    assert t("de-DE", "button.cancel") == t("en", "button.cancel") == "Cancel request"


def test_a_moment_reads_the_same_in_every_language() -> None:
    moment = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    assert {when(lang, moment) for lang in LANGUAGES} == {"2026-11-23 09:30 UTC"}
    assert when("sv", None) == "—"
