"""The four message catalogs (handlers/views/locale/*/LC_MESSAGES/passcode.po) say the same things:
the same keys, and in every language the placeholders English has, no more and no fewer."""

from __future__ import annotations

import string
from datetime import UTC, datetime

from babel.messages.pofile import read_po

from handlers.views.i18n import CATALOG, LANGUAGES, catalog_path, t, when


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


def _reply_keys() -> set[str]:
    """Every Reply key the use cases write as a literal (read from their source)."""
    import ast
    from pathlib import Path

    import bot.usecases

    keys: set[str] = set()
    for path in Path(bot.usecases.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Reply"
                    and len(node.args) > 1):
                key = node.args[1]
                if isinstance(key, ast.Constant) and isinstance(key.value, str):
                    keys.add(key.value)
                elif isinstance(key, ast.IfExp):
                    keys |= {str(k.value) for k in (key.body, key.orelse)
                             if isinstance(k, ast.Constant)}
    return keys


def test_every_code_policy_and_the_core_give_has_words_in_every_language() -> None:
    """A code without words would reach a person as a KeyError: policy's refusal codes and
    verdict codes, the core's reply keys, its failure words and warnings."""
    from bot.usecases.request import NO_PASSCODE_POLICY
    from policy.platforms import MATRIX, NEEDS_PASSCODE_POLICY, Row

    keys = {f"reply.{key}" for key in _reply_keys() if key != "refused"}
    assert {"reply.created", "reply.invalid.long", "reply.unavailable.key"} <= keys
    keys |= {f"reply.not_found{own}{picked}" for own in ("", ".own") for picked in ("", ".picked")}
    keys |= {f"reply.not_allowed.{code}" for code in ("own_request", "no_role", "not_requester")}
    keys |= {f"refused.{code}" for code in ("userless", "not_yours", "unknown_os_version",
                                             "scope.device_on_work_profile",
                                             "scope.no_work_profile")}
    keys |= {f"refused.old_os_version.{scope}" for scope in ("device", "work_profile")}
    keys |= {f"refused.row.{row.value}" for row in Row if MATRIX[row].result is None}
    keys |= {f"warning.{code}" for code in (NEEDS_PASSCODE_POLICY, NO_PASSCODE_POLICY)}
    keys |= {f"failure.{words}" for words in (
        "device_gone", "owner_changed", "unconfirmed", "not_supported",
        "unreachable.not_started", "unreachable.started", "unreachable.unknown")}
    for lang in LANGUAGES:
        missing = sorted(key for key in keys if key not in messages(lang))
        assert missing == [], lang
