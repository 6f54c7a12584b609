"""Refusals, click refusals and state labels are worded from policy's and the core's codes, in
every language from the catalogs, English included: the English reads as it always did, every
other language is really translated, and what a device reported is shown as a literal."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import ResetRequest, State
from bot.service import Outcome, Reply
from handlers.views import blocks, cards, words
from handlers.views.i18n import t
from handlers.views.words import reply_text as click_refusal_text
from policy import approval
from policy.platforms import DeviceFacts, Scope, decide

WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

# (facts, the English that versions before codes wrote, word for word, with the OS version
# the device reported shown as a literal, and the hint)
OLD_HINT = "Update the device's Android version, or ask the helpdesk to wipe and re-provision it."
UNKNOWN_HINT = ("Ask the helpdesk to check the OS version Intune reports for this device; the "
                "bot will not guess which rule applies.")
VERSION_REFUSALS = [
    (DeviceFacts("Android", "7.1.2", "androidEnterpriseFullyManaged", "androidEnterprise"),
     "A device passcode reset on Android Enterprise fully managed needs Android 8.0 or later; "
     f"this device runs `7.1.2`. {OLD_HINT}"),
    (DeviceFacts("Android", "7.0", "userEnrollment", "androidForWork"),
     "A work-profile passcode reset on Android Enterprise work profile (personally owned) "
     f"needs Android 8.0 or later; this device runs `7.0`. {OLD_HINT}"),
    (DeviceFacts("Android", "", "userEnrollment", "android"),
     f"The device reports an unknown OS version (none). {UNKNOWN_HINT}"),
    (DeviceFacts("Android", "beta <&>", "userEnrollment", "android"),
     f"The device reports an unknown OS version (`beta &lt;&amp;&gt;`). {UNKNOWN_HINT}"),
    (DeviceFacts("Android", "none", "androidEnterpriseFullyManaged", "androidEnterprise"),
     f"The device reports an unknown OS version (`none`). {UNKNOWN_HINT}"),
]


def refused(facts: DeviceFacts, scope: Scope | None = None) -> ResetRequest:
    d = decide(facts, scope)
    assert not d.allowed and d.refusal is not None
    r = ResetRequest(
        id="PR-ABCDEF", requester_id="U1", requester_email="a@example.com", device_id="d",
        device_name="Phone <!here>", device_serial="S", device_owner_email="a@example.com",
        row=d.row, scope=d.scope, expected=None, state=State.REQUESTED, created_at=WHEN,
        updated_at=WHEN,
    )
    r.refuse("U1", d.refusal.code, d.refusal.params)
    return r


@pytest.mark.parametrize(("facts", "english"), VERSION_REFUSALS)
def test_os_version_refusals_read_as_before_in_english_and_translated_elsewhere(
    facts: DeviceFacts, english: str
) -> None:
    r = refused(facts)
    assert words.refusal_text(r, "en") == english
    assert words.refusal_text(r, "en-GB") == english
    for locale in ("sv-SE", "it-IT", "ro-RO"):
        text = words.refusal_text(r, locale)
        assert text != english and OLD_HINT not in text and UNKNOWN_HINT not in text
        assert "<" not in text and "&<" not in text


def test_the_wrong_scope_is_worded_with_its_hint() -> None:
    phone = refused(DeviceFacts("iOS", "17"), Scope.WORK_PROFILE)
    assert words.refusal_text(phone, "en") == (
        "iOS/iPadOS (device enrollment) devices have no separate work profile to reset. "
        "Request a device passcode reset instead.")
    work = refused(DeviceFacts("Android", "14", "androidEnterpriseCorporateWorkProfile"),
                   Scope.DEVICE)
    assert words.refusal_text(work, "sv").startswith(
        t("sv", "refused.scope.device_on_work_profile"))


def test_a_rows_own_refusal_is_its_reason_and_hint() -> None:
    r = refused(DeviceFacts("macOS", "14", "appleBulkWithUser", "macMDM"))
    assert r.refusal == "row.macos"
    assert words.refusal_text(r, "en") == (
        "Intune cannot reset or remove a passcode on macOS. Use the Mac's own password "
        "recovery, or ask the helpdesk for a remote lock PIN.")
    assert words.refusal_text(r, "it", hint=False) == t("it", "refused.row.macos")


def test_a_stored_text_no_rule_is_known_for_is_shown_as_a_literal() -> None:
    r = refused(VERSION_REFUSALS[0][0])
    r.refusal, r.refusal_params = "legacy", {"text": "Old *words* <!here>", "hint": "Ask `x`."}
    for locale in ("en", "sv-SE"):
        assert words.refusal_text(r, locale) == (
            f"`Old *words* &lt;!here&gt;` `Ask {blocks.BACKTICK_STAND_IN}x"
            f"{blocks.BACKTICK_STAND_IN}.`")
        assert words.refusal_text(r, locale, hint=False) == "`Old *words* &lt;!here&gt;`"


def test_verdict_refusals_are_worded_by_their_code() -> None:
    userless = approval.may_request(approval.Actor("U1", "a@x"), "", userless=True)
    not_yours = approval.may_request(approval.Actor("U1", "a@x"), "b@x")
    r = refused(VERSION_REFUSALS[0][0])
    for verdict, english in (
        (userless, "This is a shared device with no primary user; only the helpdesk can "
                   "request a passcode reset for it."),
        (not_yours, "This device is not registered to you. You can request a reset only for "
                    "a device whose primary user is you; ask the helpdesk to request it for "
                    "someone else."),
    ):
        r.refuse("U1", verdict.code, verdict.params)
        assert words.refusal_text(r, "en") == english
        assert words.refusal_text(r, "sv-SE") == t("sv-SE", f"refused.{verdict.code}") != english


def test_click_refusals_in_english_and_swedish() -> None:
    r = refused(VERSION_REFUSALS[0][0])
    r.state, r.decided_by = State.APPROVED, "UANNA"
    roles = approval.DEFAULT_PERMITTED_ROLES
    own = approval.may_decide(approval.Actor("U1", "a@x", roles), "U1", roles,
                              requester_email="a@x")
    no_role = approval.may_decide(approval.Actor("U2", "b@x"), "U1", ["<b>"],
                                  requester_email="a@x")
    cases = [
        (Reply(Outcome.TRY_LATER, "role_unchecked"),
         "Your role could not be checked right now; try again.", t("sv", "reply.role_unchecked")),
        (Reply(Outcome.EXPIRED, "expired", request=r),
         "This request expired before it was decided.", t("sv", "reply.expired")),
        (Reply(Outcome.UNKNOWN_REQUEST, "unknown_request"),
         "That request does not exist.", t("sv", "reply.unknown_request")),
        (Reply(Outcome.ALREADY_DECIDED, "already_decided",
               {"id": r.id, "state": r.state.value, "by": r.decided_by}, request=r),
         "Request PR-ABCDEF was already decided: it is approved by <@UANNA>.",
         "Begäran PR-ABCDEF har redan avgjorts. Status: godkänd av <@UANNA>."),
        (Reply(Outcome.NOT_ALLOWED, f"not_allowed.{own.code}", dict(own.params), request=r),
         "You cannot approve or deny your own request; another approver has to decide it.",
         t("sv", "reply.not_allowed.own_request")),
        (Reply(Outcome.NOT_ALLOWED, f"not_allowed.{no_role.code}", dict(no_role.params),
               request=r),
         "Only holders of one of these roles can approve or deny passcode resets: &lt;b&gt;.",
         t("sv", "reply.not_allowed.no_role", roles="&lt;b&gt;")),
    ]
    for reply, english, swedish in cases:
        assert click_refusal_text(reply, "en-US") == click_refusal_text(reply, "") == english
        assert click_refusal_text(reply, "sv-SE") == swedish != english


# The states as the bot has always named them in English.
STATE_WORDS = {
    State.REQUESTED: "requested", State.REFUSED: "refused",
    State.AWAITING_APPROVAL: "awaiting approval", State.APPROVED: "approved",
    State.DENIED: "denied", State.CANCELLED: "cancelled",
    State.EXPIRED: "expired without a decision", State.EXECUTING: "resetting",
    State.COMPLETED: "completed", State.FAILED: "failed", State.UNCONFIRMED: "unconfirmed",
    State.REVEALED: "completed (passcode shown)",
    State.PASSCODE_EXPIRED: "completed (passcode expired)",
}


def test_state_labels_read_as_before_in_english_and_are_translated() -> None:
    assert set(STATE_WORDS) == set(State)
    for state, english in STATE_WORDS.items():
        assert t("en", f"state.{state.value}") == english
        for locale in ("sv", "it", "ro"):
            assert t(locale, f"state.{state.value}") != english, (locale, state)


def test_the_status_line_reads_as_before() -> None:
    """What App Home shows, and /passcode status: the wording from before (the device's name
    shown as a literal since issue 10)."""
    r = refused(DeviceFacts("macOS", "14", "appleBulkWithUser", "macMDM"))
    r.surface = {"delivery_problem": "waiting"}
    assert cards.status_line(r) == (
        "*PR-ABCDEF* · `Phone &lt;!here&gt;` · refused · requested 2026-11-23 09:30 UTC"
        "\n>Intune cannot reset or remove a passcode on macOS."
        "\n>:warning: I could not send you a direct message about this request yet."
    )
    assert cards.status_line(r, "en-GB") == cards.status_line(r)
    assert cards.status_line(r, "sv-SE") == (
        "*PR-ABCDEF* · `Phone &lt;!here&gt;` · avvisad · begärd 2026-11-23 09:30 UTC"
        f"\n>{t('sv', 'refused.row.macos')}\n>{t('sv', 'status.delivery_problem')}"
    )
    r.refusal, r.refusal_params = "legacy", {"text": "A reason from before <itself>."}
    assert cards.status_line(r, "sv-SE").split("\n")[1] == (
        ">`A reason from before &lt;itself&gt;.`")
    assert blocks.literal("x") == "`x`"


def test_the_platform_is_named_in_the_readers_language() -> None:
    r = refused(VERSION_REFUSALS[0][0])
    assert "*Platform:* Android Enterprise fully managed" in cards.device_summary(r)
    swedish = cards.device_summary(r, "sv-SE")
    assert t("sv", "platform.android_enterprise_fully_managed") in swedish
    assert "fully managed" not in swedish
    assert "fully managed" not in words.refusal_text(r, "it")


def test_an_unknown_platform_names_the_values_intune_reported_as_literals() -> None:
    """Issue 12 point 9: the person reads which values the bot did not recognise, each as a
    literal (Intune controls them), in all four languages; a value missing reads as "—"."""
    r = refused(DeviceFacts("tvOS", "18.1 *x*", "", "<!channel>", "mdm"))
    assert r.refusal == "row.unknown"
    english = words.refusal_text(r)
    assert english.startswith(t("en", "refused.row.unknown"))
    for shown in ("`tvOS`", "`&lt;!channel&gt;`", "`mdm`", "`18.1 *x*`", "—"):
        assert shown in english, shown
    assert "<!channel>" not in english
    for locale in ("sv", "it", "ro"):
        text = words.refusal_text(r, locale)
        assert "`tvOS`" in text and "`&lt;!channel&gt;`" in text and text != english


def test_an_unconfirmed_reset_is_worded_from_its_code_with_the_other_admin_as_a_literal() -> None:
    r = ResetRequest(
        id="PR-ABCDEF", requester_id="U1", requester_email="a@example.com", device_id="d",
        device_name="Phone", device_serial="S", device_owner_email="a@example.com",
        row=decide(DeviceFacts("iOS", "17")).row, scope=Scope.DEVICE, expected=None,
        state=State.UNCONFIRMED, created_at=WHEN, updated_at=WHEN, decided_by="U2",
        failure_code="unconfirmed",
        failure_params={"words": "reset_unconfirmed.other", "name": "<@U9> *boss*"},
    )
    for locale in ("en", "sv", "it", "ro"):
        _, card = cards.approval_message(r, locale)
        text = " ".join(str(b.get("text", {}).get("text", "")) for b in card)
        assert "`&lt;@U9&gt; *boss*`" in text and "<@U9>" not in text
        assert t(locale, "button.try_again") in str(card[-1])
        assert card[-1]["elements"][0]["action_id"] == blocks.ACTION_TRY_AGAIN
    assert "another reset of this device" in words.failure_text(r)
    assert words.failure_text(r, "sv") != words.failure_text(r)
