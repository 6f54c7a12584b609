"""A requester reads their DMs, modals, replies and help in their Slack locale (sv, it, ro);
any other locale reads English; escaping holds in every language."""

from __future__ import annotations

import json

import pytest

from handlers.i18n import CATALOG, language, t
from tests.scenario.harness import APPROVALS, Stack
from tests.scenario.test_happy_paths import approval_request_id, reveal

# Carol owns the work-profile phone and the MacBook, Alice the iPhone (demo fleet).
WORDS = {
    # locale: (help word, waiting word, result/Show-passcode word, removed word, refusal word)
    "sv-SE": ("begär återställning", "väntar på godkännande", "Visa lösenkoden",
              "har tagits bort", "kan inte återställa"),
    "it-IT": ("richiedi la reimpostazione", "in attesa di approvazione", "Mostra passcode",
              "è stato rimosso", "non può reimpostare"),
    "ro-RO": ("cere resetarea", "așteaptă aprobarea", "Arată codul de acces",
              "a fost eliminat", "nu poate reseta"),
}


def text_of(message: dict) -> str:
    return json.dumps(message, ensure_ascii=False)


async def ask(stack: Stack, user: str, device: str) -> str:
    await stack.driver.command(user, f"reset {device}")
    await stack.settle()
    return str(stack.emu.calls_to("response_url")[-1].params["text"])


@pytest.mark.parametrize("locale", list(WORDS))
async def test_a_requester_reads_dms_modal_refusal_and_help_in_their_language(
    stack: Stack, locale: str
) -> None:
    helpw, waiting, show, removed, refusal = WORDS[locale]
    stack.emu.add_user("ULOCAL", name="local", email="carol@example.com", locale=locale)
    stack.emu.add_user("ULOCALI", name="locali", email="alice@example.com", locale=locale)

    said = await ask(stack, "ULOCAL", "RFCW20N3ABX")  # work profile, personally owned
    assert "Request " not in said
    waiting_dm = stack.dm("ULOCAL")[-1]
    assert waiting in text_of(waiting_dm)
    approvals = text_of(stack.approvals()[-1])
    assert "asks for a passcode reset" in approvals  # the shared channel stays English
    request_id = approval_request_id(stack)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    result = text_of(stack.dm("ULOCAL")[-1])
    assert show in result and "Show passcode" not in result
    modal = json.loads(await reveal(stack, "ULOCAL", request_id))
    assert modal["title"]["text"] == t(locale, "modal.passcode.title")
    assert modal["blocks"][2]["text"]["text"] == t(locale, "modal.passcode.type.work_profile")

    said = await ask(stack, "ULOCAL", "Carol's MacBook Pro")  # macOS: refused
    assert refusal in said and "Intune cannot" not in said
    assert t(locale, "row.macos.hint") in said

    answer = await stack.driver.command("ULOCAL", "help")
    help_text = json.loads(answer.body)["text"]
    assert helpw in help_text and "ask for a passcode reset" not in help_text

    await ask(stack, "ULOCALI", "Alice's iPhone")  # iOS: the passcode is removed
    request_id = approval_request_id(stack)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert removed in text_of(stack.dm("ULOCALI")[-1])


@pytest.mark.parametrize("locale", ["en-GB", "de-DE", ""])
async def test_other_locales_read_english(stack: Stack, locale: str) -> None:
    stack.emu.add_user("UOTHER", name="other", email="carol@example.com", locale=locale)
    said = await ask(stack, "UOTHER", "RFCW20N3ABX")
    assert "is waiting for an approver" in said
    assert "is waiting for approval" in text_of(stack.dm("UOTHER")[-1])
    said = await ask(stack, "UOTHER", "Carol's MacBook Pro")
    assert "Intune cannot reset or remove a passcode on macOS." in said
    answer = await stack.driver.command("UOTHER", "help")
    assert "ask for a passcode reset" in answer.body


@pytest.mark.parametrize("locale", list(WORDS))
async def test_mentions_stay_escaped_in_a_translated_reply(stack: Stack, locale: str) -> None:
    stack.emu.add_user("ULOCAL", name="local", email="carol@example.com", locale=locale)
    said = await ask(stack, "ULOCAL", "<!channel> <@UANNA> &lt;")
    assert t(locale, "reply.not_found", query="X").split("X")[0] in said  # translated
    assert "&lt;!channel&gt;" in said and "&lt;@UANNA&gt;" in said
    assert "<!channel>" not in said and "<@UANNA>" not in said
    sent = json.dumps([c.params for c in stack.emu.calls_to("response_url")])
    assert "<!channel>" not in sent and "<@UANNA>" not in sent


async def test_a_failing_locale_lookup_still_sends_the_dm_in_english(stack: Stack) -> None:
    stack.emu.add_user("ULOCAL", name="local", email="carol@example.com", locale="sv-SE")
    await ask(stack, "ULOCAL", "RFCW20N3ABX")
    assert "väntar på godkännande" in text_of(stack.dm("ULOCAL")[-1])
    identity = stack.bot.app.ctx.identity  # type: ignore[attr-defined]
    await identity.person("UANNA")  # the approver is known; the requester's locale is not
    identity._cache.pop("ULOCAL", None)
    identity._locales.pop("ULOCAL", None)
    stack.emu.fail_next("users.info", error="fatal_error", times=5)
    request_id = approval_request_id(stack)
    await stack.driver.click("UANNA", "deny", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert "Your request was denied" in text_of(stack.dm("ULOCAL")[-1])


def test_the_catalog_is_complete_and_picks_the_language() -> None:
    assert [language(x) for x in ("sv-SE", "it-IT", "ro-RO", "en-US", "de-DE", "", "it_CH")] == [
        "sv", "it", "ro", "en", "en", "en", "it"]
    for key, entry in CATALOG.items():
        assert set(entry) == {"en", "sv", "it", "ro"}, key
    assert len(t("sv-SE", "modal.unavailable.title")) <= 24
    assert all(len(t(lang, "modal.unavailable.title")) <= 24 for lang in ("en", "sv", "it", "ro"))


async def test_limits_length_and_ownership_refusals_read_in_swedish(stack: Stack) -> None:
    """Replies built from the service's message key and values, not from its English text."""
    stack.emu.add_user("USVEN", name="sven", email="carol@example.com", locale="sv-SE")
    said = await ask(stack, "USVEN", "PIXEL8-ALICE")  # Alice's phone
    assert said == t("sv-SE", "refused.not_yours")
    said = await ask(stack, "USVEN", "x" * 300)
    assert said == t("sv-SE", "reply.invalid.long", n=300, max=200)
    stack.bot.services.service.config.max_requests_per_user_hour = 1
    await ask(stack, "USVEN", "RFCW20N3ABX")  # her work-profile phone: created
    said = await ask(stack, "USVEN", "Carol's MacBook Pro")  # the platform refusal comes first
    assert said.startswith(t("sv-SE", "row.macos.reason"))
    stack.emu.add_user("USVEN2", name="sven2", email="alice@example.com", locale="sv-SE")
    await ask(stack, "USVEN2", "Alice's iPhone")
    said = await ask(stack, "USVEN2", "COPE-ALICE-A54")
    assert said == t("sv-SE", "reply.limited.user", cap=1)
