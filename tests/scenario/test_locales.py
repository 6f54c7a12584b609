"""A requester reads their DMs, modals, replies and help in their Slack locale (sv, it, ro);
any other locale reads English; escaping holds in every language."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.domain import State
from handlers.views.blocks import literal
from handlers.views.i18n import CATALOG, language, t
from policy import approval
from policy.platforms import Row
from tests.scenario.harness import APPROVALS, Stack, make_stack
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
    assert t(locale, "refused.row.macos.hint") in said

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
    assert t(locale, "reply.not_found.own", query="X").split("X")[0] in said  # translated
    assert "&lt;!channel&gt;" in said and "&lt;@UANNA&gt;" in said
    assert "<!channel>" not in said and "<@UANNA>" not in said
    sent = json.dumps([c.params for c in stack.emu.calls_to("response_url")])
    assert "<!channel>" not in sent and "<@UANNA>" not in sent


async def test_a_failing_locale_lookup_still_sends_the_dm_in_english(stack: Stack) -> None:
    stack.emu.add_user("ULOCAL", name="local", email="carol@example.com", locale="sv-SE")
    await ask(stack, "ULOCAL", "RFCW20N3ABX")
    assert "väntar på godkännande" in text_of(stack.dm("ULOCAL")[-1])
    identity = stack.worker.identity
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
    said = await ask(stack, "USVEN", "PIXEL8-ALICE")  # Alice's phone: none of hers
    assert said == t("sv-SE", "reply.not_found.own", query=literal("PIXEL8-ALICE"))
    said = await ask(stack, "USVEN", "x" * 300)
    assert said == t("sv-SE", "reply.invalid.long", n=300, max=200)
    stack.bot.services.service.config.max_requests_per_user_hour = 1
    said = await ask(stack, "USVEN", "Carol's MacBook Pro")  # a platform refusal, counted
    assert said.startswith(t("sv-SE", "refused.row.macos"))
    said = await ask(stack, "USVEN", "RFCW20N3ABX")  # the cap comes before anything else
    assert said == t("sv-SE", "reply.limited.user", cap=1)
    stack.emu.add_user("USVEN2", name="sven2", email="alice@example.com", locale="sv-SE")
    await ask(stack, "USVEN2", "Alice's iPhone")
    said = await ask(stack, "USVEN2", "COPE-ALICE-A54")
    assert said == t("sv-SE", "reply.limited.user", cap=1)


# -- /passcode status ---------------------------------------------------------------------------

SV = "sv-SE"


async def status(stack: Stack, user: str, text: str = "status") -> tuple[str, str]:
    """The status reply's text and its blocks' text."""
    await stack.driver.command(user, text)
    await stack.settle()
    params = stack.emu.calls_to("response_url")[-1].params
    return str(params["text"]), text_of(params["blocks"])


async def test_status_reads_in_swedish_and_app_home_stays_english(stack: Stack) -> None:
    stack.emu.add_user("USVEN", name="sven", email="carol@example.com", locale=SV)
    text, body = await status(stack, "USVEN")
    assert text == t(SV, "status.none") and t(SV, "status.none") in body
    assert "You have no" not in body
    for said in await status(stack, "USVEN", "status pr-<!here>"):
        assert t(SV, "status.not_found", id="`pr-&lt;!here&gt;`") in said
        assert "that you can see" not in said and "<!here>" not in said

    await ask(stack, "USVEN", "RFCW20N3ABX")  # work profile: waiting for approval
    waiting_id = approval_request_id(stack)
    await ask(stack, "USVEN", "Carol's MacBook Pro")  # macOS: refused
    for said in await status(stack, "USVEN"):
        assert waiting_id in said
        assert f" · {t(SV, 'state.awaiting_approval')} · begärd " in said
        assert f" · {t(SV, 'state.refused')} · begärd " in said
        assert ">" + t(SV, "refused.row.macos") in said.replace("&gt;", ">").replace("\\n", "\n")
        for english in ("awaiting approval", " refused ", "requested ", "Intune cannot"):
            assert english not in said

    await stack.driver.click("UANNA", "approve", waiting_id, channel_id=APPROVALS)
    await stack.settle()
    for said in await status(stack, "USVEN", f"status {waiting_id}"):
        assert f" · {t(SV, 'state.completed')} · " in said and "completed" not in said

    await stack.driver.event({"type": "app_home_opened", "user": "USVEN", "tab": "home"})
    await stack.settle()
    home = text_of(stack.emu.home("USVEN"))
    assert " · completed · requested " in home and "Intune cannot reset or remove" in home


async def test_every_state_label_in_a_swedish_status_line(stack: Stack) -> None:
    """Each state a request can show, worded in Swedish in the status reply, never English."""
    stack.emu.add_user("USVEN", name="sven", email="alice@example.com", locale=SV)
    await ask(stack, "USVEN", "PIXEL8-ALICE")
    request_id = approval_request_id(stack)
    for state in State:
        await stack.store.update_fields(  # the row as it would be in that state
            request_id, actor="test", at=stack.clock.now(), action="test", detail="",
            changes={"state": state.value})
        text, body = await status(stack, "USVEN", f"status {request_id}")
        for said in (text, body):
            assert f" · {t(SV, f'state.{state.value}')} · begärd " in said, state
            assert f" · {t('en', f'state.{state.value}')} · " not in said, state


async def test_a_failing_dm_is_flagged_in_swedish_in_status(stack: Stack) -> None:
    from bot.jobs import REPORT_STUCK_AFTER

    stack.emu.add_user("USVEN", name="sven", email="alice@example.com", locale=SV)
    stack.emu.fail_next("conversations.open", error="internal_error", times=REPORT_STUCK_AFTER)
    await ask(stack, "USVEN", "PIXEL8-ALICE")
    [request] = await stack.store.by_requester("USVEN")
    for _ in range(REPORT_STUCK_AFTER):
        if (await stack.store.get(request.id)).surface.get("delivery_problem"):
            break
        stack.clock.advance(timedelta(minutes=6))
        await stack.settle()
    assert (await stack.store.get(request.id)).surface.get("delivery_problem")
    for said in await status(stack, "USVEN"):
        assert t(SV, "status.delivery_problem") in said
        assert "could not send you" not in said


# -- refused Approve / Deny / Cancel clicks ------------------------------------------------------


def told(stack: Stack, user: str) -> str:
    return str(stack.emu.ephemeral_messages(user)[-1]["text"])


async def test_refused_clicks_are_explained_in_the_clickers_language(stack: Stack) -> None:
    stack.emu.add_user("UMALSV", name="malin", email="mallory@example.com", locale=SV)
    stack.emu.add_user("UANNASV", name="annasv", email="anna@example.com", locale=SV)  # a role
    stack.emu.add_user("USVEN", name="sven", email="alice@example.com", locale=SV)
    await ask(stack, "USVEN", "PIXEL8-ALICE")
    request_id = approval_request_id(stack)

    await stack.driver.click("UMALSV", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    roles = ", ".join(sorted(stack.service.config.permitted_roles))
    assert told(stack, "UMALSV") == t(SV, "reply.not_allowed.no_role", roles=roles)

    await stack.driver.click("UANNASV", "cancel", request_id, channel_id="DANNASV")
    await stack.settle()
    assert told(stack, "UANNASV") == t(SV, "reply.not_allowed.not_requester")

    await stack.driver.click("UANNASV", "deny", "PR-NOSUCH", channel_id=APPROVALS)
    await stack.settle()
    assert told(stack, "UANNASV") == t(SV, "reply.unknown_request")

    await ask(stack, "UANNASV", "KIOSK-LOBBY-01")  # a role holder asks for the kiosk ...
    own = approval_request_id(stack)
    await stack.driver.click("UANNASV", "approve", own, channel_id=APPROVALS)  # ... and tries
    await stack.settle()
    assert told(stack, "UANNASV") == t(SV, "reply.not_allowed.own_request")
    await stack.driver.click("UANNASV", "deny", own, in_home=True)  # from App Home: told in a DM
    await stack.settle()
    assert stack.dm("UANNASV")[-1]["text"] == t(SV, "reply.not_allowed.own_request")

    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    await stack.driver.click("UANNASV", "deny", request_id, channel_id=APPROVALS)
    await stack.settle()
    state = (await stack.store.get(request_id)).state
    assert told(stack, "UANNASV") == t(
        SV, "reply.already_decided", id=request_id, state=t(SV, f"state.{state.value}"),
        by=t(SV, "by", who="<@UANNA>"))
    await stack.driver.click("USVEN", "cancel", request_id, channel_id="DSVEN")
    await stack.settle()
    assert told(stack, "USVEN").startswith(t(SV, "reply.already_decided", id=request_id,
                                             state="X", by="").split("X")[0])

    for user in ("UMALSV", "UANNASV", "USVEN"):
        for message in stack.emu.ephemeral_messages(user):
            for english in ("Only ", "cannot approve", "does not exist", "already decided"):
                assert english not in message["text"], message["text"]


async def test_a_click_on_a_lapsed_request_is_explained_in_swedish(stack: Stack) -> None:
    stack.emu.add_user("UANNASV", name="annasv", email="anna@example.com", locale=SV)
    await ask(stack, "UALICE", "PIXEL8-ALICE")
    request_id = approval_request_id(stack)
    await stack.driver.click("UANNASV", "approve", "PR-NOSUCH", channel_id=APPROVALS)
    await stack.settle()  # Anna-sv is known now, with her locale
    stack.clock.advance(timedelta(hours=24))
    await stack.driver.click("UANNASV", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert told(stack, "UANNASV") == t(SV, "reply.expired")


async def test_clicks_refused_in_english_stay_word_for_word(stack: Stack) -> None:
    """English (and any other locale) keeps the service's own message."""
    stack.emu.add_user("UMALDE", name="malte", email="mallory@example.com", locale="de-DE")
    await ask(stack, "UALICE", "PIXEL8-ALICE")
    request_id = approval_request_id(stack)
    await stack.driver.click("UMALDE", "approve", request_id, channel_id=APPROVALS)
    await stack.driver.click("UALICE", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    roles = ", ".join(sorted(approval.DEFAULT_PERMITTED_ROLES))
    assert told(stack, "UMALDE") == (
        f"Only holders of one of these roles can approve or deny passcode resets: {roles}.")
    assert told(stack, "UALICE") == (
        "You cannot approve or deny your own request; another approver has to decide it.")


# -- refusals for the OS version ----------------------------------------------------------------


def _device(id_: str, name: str, version: str, enrollment: str, device_type: str) -> dict[str, Any]:
    return {
        "id": id_, "deviceName": name, "serialNumber": id_.upper(), "operatingSystem": "Android",
        "osVersion": version, "deviceEnrollmentType": enrollment, "deviceType": device_type,
        "managementAgent": "mdm", "managedDeviceOwnerType": "personal",
        "emailAddress": "carol@example.com", "userPrincipalName": "carol@example.com",
    }


OLD_FLEET = [
    _device("old-fm", "OLD-FULLY-MANAGED", "7.1.2", "androidEnterpriseFullyManaged",
            "androidEnterprise"),
    _device("old-wp", "OLD-WORK-PROFILE", "7.0", "userEnrollment", "androidForWork"),
    _device("da-nover", "DA-NO-VERSION", "", "userEnrollment", "android"),
    _device("fm-odd", "FM-ODD-VERSION", "<!channel> 7&x", "androidEnterpriseFullyManaged",
            "androidEnterprise"),
]


@pytest.fixture
async def old_stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    backend = SimulatedBackend([*demo_fleet(), *OLD_FLEET])
    async for s in make_stack(tmp_path, secret, backend=backend):
        yield s


@pytest.mark.parametrize("locale", list(WORDS))
async def test_os_version_refusals_read_in_the_requesters_language(
    old_stack: Stack, locale: str
) -> None:
    stack = old_stack
    stack.emu.add_user("ULOCAL", name="local", email="carol@example.com", locale=locale)
    fm, wp = (t(locale, f"platform.{row.value}")
              for row in (Row.AE_FULLY_MANAGED, Row.AE_WORK_PROFILE_PERSONAL))
    old_hint = t(locale, "refused.old_os_version.hint")
    unknown_hint = t(locale, "refused.unknown_os_version.hint")
    expected = {
        "OLD-FULLY-MANAGED": t(locale, "refused.old_os_version.device", label=fm, min=8,
                               version=literal("7.1.2")) + " " + old_hint,
        "OLD-WORK-PROFILE": t(locale, "refused.old_os_version.work_profile", label=wp, min=8,
                              version=literal("7.0")) + " " + old_hint,
        "DA-NO-VERSION": t(locale, "refused.unknown_os_version",
                           version=t(locale, "refused.unknown_os_version.none")
                           ) + " " + unknown_hint,
        "FM-ODD-VERSION": t(locale, "refused.unknown_os_version",
                            version="`&lt;!channel&gt; 7&amp;x`") + " " + unknown_hint,
    }
    for device, wanted in expected.items():
        said = await ask(stack, "ULOCAL", device)
        assert said == wanted, device
        for english in ("needs Android", "unknown OS version", "Update the", "Ask the helpdesk"):
            assert english not in said, device
    assert "<!channel>" not in json.dumps([c.params for c in stack.emu.calls])

    # /passcode status words the stored reasons again, without the hints.
    text, body = await status(stack, "ULOCAL")
    for wanted in expected.values():
        reason = wanted.rsplit(" " + old_hint, 1)[0].rsplit(" " + unknown_hint, 1)[0]
        assert ">" + reason in text, reason
        assert json.dumps(">" + reason, ensure_ascii=False)[1:-1] in body, reason
    assert "needs Android" not in text and "unknown OS version" not in text


async def test_os_version_refusals_stay_english_for_english(old_stack: Stack) -> None:
    stack = old_stack
    stack.emu.add_user("UENG", name="eng", email="carol@example.com", locale="en-US")
    said = await ask(stack, "UENG", "OLD-WORK-PROFILE")
    assert said == (
        "A work-profile passcode reset on Android Enterprise work profile (personally owned) "
        "needs Android 8.0 or later; this device runs `7.0`. Update the device's Android "
        "version, or ask the helpdesk to wipe and re-provision it.")
    said = await ask(stack, "UENG", "DA-NO-VERSION")
    assert said.startswith("The device reports an unknown OS version (none).")
    text, _ = await status(stack, "UENG")
    assert ">The device reports an unknown OS version (none)." in text
    assert " · refused · requested " in text


@pytest.mark.parametrize("junk", ["sv-SE'); DROP TABLE locales; --", "sv-SE\x00", "\ud800",
                                  "sv-SE\n<!channel>"])
async def test_a_locale_slack_would_never_send_is_no_locale(stack: Stack, junk: str) -> None:
    """A users.info answer whose locale is no Slack locale (as if forged on the way): the person
    reads English, and nothing of it is stored for the fronts."""
    stack.emu.add_user("UODD", name="odd", email="carol@example.com", locale=junk)
    said = await ask(stack, "UODD", "PIXEL8-ALICE")
    assert said == t("en", "reply.not_found.own", query=literal("PIXEL8-ALICE"))
    assert stack.emu.calls_to("users.info")  # (it was asked)
    assert [row for row in await stack.store.locales_since(None, 1000) if row[0] == "UODD"] == []
