"""What a person reads, in their Slack locale: English, Swedish, Italian, Romanian.

Every word the bot says lives in one gettext catalog per language,
``handlers/views/locale/<lang>/LC_MESSAGES/passcode.po``, English included; this module reads them
(``t``), and handlers/views/words.py is the one place that turns the core's and policy's codes (a
``Reply``'s key, a stored refusal, warning or failure) into them. The catalogs are compiled
with Babel when this module is imported (``read_po`` then ``write_mo`` into memory, read back
as ``babel.support.Translations``), so a fresh ``pip install .`` needs no separate compile step
and no .mo file is kept in git.

The msgid is the message *key* (``"refused.not_yours"``), not the English text: the code,
policy's refusal codes and the stored request (which keeps codes, never words) all name a
message by a stable key, English is one translation among four (so changing an English
wording touches the English catalog only, and never the key the others are filed under), and
the catalogs can be checked against each other key by key (tests/unit/test_catalogs.py: same
keys, same placeholders in every language). A translator reads the English in ``locale/en``.

``t(locale, key, **params)`` picks the language from a Slack locale ("sv-SE" -> sv); anything
else, and any key without a translation, is English. Templates are Python ``str.format``
templates of mrkdwn: a parameter that carries user- or backend-supplied text (a device's name,
serial number or id, an email, a typed query, a backend's failure detail, an OS version) must be
filled with ``blocks.literal`` by the caller, which shows it in a code span of its own; our own
words with ``blocks.esc``. The Intune documentation's own terms are used: Swedish "lösenkod",
Italian "passcode", Romanian "cod de acces"."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("en", "sv", "it", "ro")
DOMAIN = "passcode"
LOCALE_DIR = Path(__file__).with_name("locale")


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def _compile(lang: str) -> tuple[Translations, dict[str, str]]:
    """One language's .po, compiled in memory; also its messages as a plain mapping."""
    with catalog_path(lang).open("rb") as po:
        catalog = read_po(po, locale=lang, domain=DOMAIN)
    mo = io.BytesIO()
    write_mo(mo, catalog)
    mo.seek(0)
    messages = {str(m.id): str(m.string) for m in catalog if m.id and m.string}
    return Translations(mo, domain=DOMAIN), messages


_COMPILED = {lang: _compile(lang) for lang in LANGUAGES}
_TRANSLATIONS: dict[str, Translations] = {lang: c[0] for lang, c in _COMPILED.items()}

# key -> {language: template}: every message, read-only, for checks over the whole catalog.
CATALOG: dict[str, dict[str, str]] = {
    key: {lang: _COMPILED[lang][1][key] for lang in LANGUAGES if key in _COMPILED[lang][1]}
    for key in _COMPILED["en"][1]
}
del _COMPILED


def language(locale: str | None) -> str:
    """'sv-SE' -> 'sv', 'it_IT' -> 'it'; unknown or empty -> 'en'."""
    code = str(locale or "").replace("_", "-").split("-", 1)[0].strip().lower()
    return code if code in LANGUAGES else "en"


def t(locale: str | None, key: str, **params: object) -> str:
    """The message ``key`` in the locale's language (English when there is no translation)."""
    lang = language(locale)
    template = _TRANSLATIONS[lang].gettext(key)
    if template == key and lang != "en":
        template = _TRANSLATIONS["en"].gettext(key)
    if template == key and key not in CATALOG:
        raise KeyError(key)
    return template.format(**params) if params else template


def has(key: str) -> bool:
    return key in CATALOG


# How a language writes a moment (a CLDR pattern). Every language reads the bot's long-standing
# "2026-11-23 09:30 UTC" today (ISO order is unambiguous in all four, and times are shown in
# UTC: Slack does not tell us the reader's zone); a language gets its own by an entry here.
_MOMENT: dict[str, str] = {}
_ISO_MOMENT = "yyyy-MM-dd HH:mm 'UTC'"


def when(locale: str | None, moment: datetime | None) -> str:
    """A moment as the locale writes it, in UTC ("—" when there is none)."""
    if moment is None:
        return "—"
    lang = language(locale)
    return format_datetime(moment, _MOMENT.get(lang, _ISO_MOMENT), tzinfo=UTC, locale=lang)
