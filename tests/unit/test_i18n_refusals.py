"""The catalog's English for refusals, click refusals and state labels is the service's and the
policy's English word for word, so recognising a stored reason works and English never changes;
every translated wording is really translated."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import ResetRequest, State
from bot.service import Outcome, Reply, _platform_refusal
from handlers import blocks
from handlers.i18n import t
from handlers.listeners.actions import click_refusal_text
from policy import approval
from policy.platforms import MATRIX, DeviceFacts, Row, Scope, decide

WHEN = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

# (facts, the key the service gives the refusal)
VERSION_REFUSALS = [
    (DeviceFacts("Android", "7.1.2", "androidEnterpriseFullyManaged", "androidEnterprise"),
     "refused.old_os_version"),
    (DeviceFacts("Android", "6", "androidEnterpriseDedicatedDevice", "androidEnterprise"),
     "refused.old_os_version"),
    (DeviceFacts("Android", "7.0", "userEnrollment", "androidForWork"), "refused.old_os_version"),
    (DeviceFacts("Android", "7", "androidEnterpriseCorporateWorkProfile", "androidEnterprise"),
     "refused.old_os_version"),
    (DeviceFacts("Android", "", "userEnrollment", "android"), "refused.unknown_os_version"),
    (DeviceFacts("Android", "beta <&>", "userEnrollment", "android"),
     "refused.unknown_os_version"),
    (DeviceFacts("Android", "", "androidEnterpriseFullyManaged", "androidEnterprise"),
     "refused.unknown_os_version"),
    (DeviceFacts("Android", "none", "androidEnterpriseFullyManaged", "androidEnterprise"),
     "refused.unknown_os_version"),
]


def refused(facts: DeviceFacts) -> ResetRequest:
    d = decide(facts)
    assert not d.allowed
    return ResetRequest(
        id="PR-ABCDEF", requester_id="U1", requester_email="a@example.com", device_id="d",
        device_name="Phone <!here>", device_serial="S", device_owner_email="a@example.com",
        row=d.row, scope=d.scope, expected=None, state=State.REFUSED, created_at=WHEN,
        updated_at=WHEN, reason=d.reason, hint=d.hint,
    )


@pytest.mark.parametrize(("facts", "key"), VERSION_REFUSALS)
def test_os_version_refusals_have_a_key_and_word_the_policys_english_exactly(
    facts: DeviceFacts, key: str
) -> None:
    r = refused(facts)
    got_key, params = _platform_refusal(decide(facts), facts)
    assert got_key == key
    # The policy's English, with the version the device reported shown as a literal.
    version = str(params.get("version", ""))
    english = blocks.esc(r.reason)
    if version:
        head, _, tail = english.rpartition(blocks.esc(version))
        english = f"{head}{blocks.literal(version)}{tail}"
    assert blocks.refusal_text(r, "en", got_key, params) == f"{english} {blocks.esc(r.hint)}"
    # A stored request has no key: its reason is recognised from the English alone (a version
    # reported as "none" reads as no version, which is what the English says).
    recognised = {**params, "version": ""} if facts.os_version == "none" else params
    assert blocks.refusal_key(r) == (got_key, recognised)
    for locale in ("sv-SE", "it-IT", "ro-RO"):
        text = blocks.refusal_text(r, locale, got_key, params)
        assert text is not None
        if facts.os_version != "none":
            assert text == blocks.refusal_text(r, locale)
        assert r.reason not in text and r.hint not in text
        assert "<" not in text and "&<" not in text


def test_a_rows_own_reason_and_other_platform_refusals_get_no_key() -> None:
    for facts in (DeviceFacts("macOS", "14", "appleBulkWithUser", "macMDM"),
                  DeviceFacts("Android", "9", "userEnrollment", "android"),
                  DeviceFacts("Linux", "22.04", "", "linux")):
        assert _platform_refusal(decide(facts), facts) == ("", {})
    allowed = DeviceFacts("Android", "14", "androidEnterpriseFullyManaged", "androidEnterprise")
    assert _platform_refusal(decide(allowed), allowed) == ("", {})


def test_an_unrecognised_reason_stays_english() -> None:
    r = refused(VERSION_REFUSALS[0][0])
    for reason in ("Something else.", r.reason + " ",
                   r.reason.replace("fully managed", "dedicated"),
                   "The device reports an unknown OS version ().", ""):
        r.reason = reason
        assert blocks.refusal_text(r, "sv-SE") is None
        assert blocks.refusal_key(r) is None


def test_verdict_refusals_match_the_policys_english() -> None:
    userless = approval.may_request(approval.Actor("U1", "a@x"), "", userless=True)
    not_yours = approval.may_request(approval.Actor("U1", "a@x"), "b@x")
    assert t("en", f"refused.{userless.code}") == userless.reason
    assert t("en", f"refused.{not_yours.code}") == not_yours.reason
    r = refused(VERSION_REFUSALS[0][0])
    r.reason, r.hint = not_yours.reason, ""
    assert blocks.refusal_text(r, "sv-SE") == t("sv-SE", "refused.not_yours")


def test_click_refusals_match_the_policys_english() -> None:
    roles = approval.DEFAULT_PERMITTED_ROLES
    own = approval.may_decide(approval.Actor("U1", "a@x", roles), "U1", roles,
                              requester_email="a@x")
    no_role = approval.may_decide(approval.Actor("U2", "b@x"), "U1", roles,
                                  requester_email="a@x")
    not_requester = approval.may_cancel(approval.Actor("U2", "b@x"), "U1")
    assert t("en", f"click.not_allowed.{own.code}") == own.reason
    assert t("en", f"click.not_allowed.{no_role.code}",
             roles=", ".join(sorted(roles))) == no_role.reason
    assert t("en", f"click.not_allowed.{not_requester.code}") == not_requester.reason


def test_click_refusals_in_swedish_escape_and_english_is_the_message() -> None:
    r = refused(VERSION_REFUSALS[0][0])
    r.state, r.decided_by = State.APPROVED, "UANNA"
    cases = [
        (Reply(Outcome.TRY_LATER, "Your role could not be checked right now; try again."),
         t("sv-SE", "click.try_later")),
        (Reply(Outcome.EXPIRED, "This request expired before it was decided.", r),
         t("sv-SE", "click.expired")),
        (Reply(Outcome.UNKNOWN_REQUEST, "That request does not exist."),
         t("sv-SE", "unavailable.unknown_request")),
        (Reply(Outcome.ALREADY_DECIDED, "Request PR-ABCDEF was already decided: it is approved "
               "by UANNA.", r),
         "Begäran PR-ABCDEF har redan avgjorts. Status: godkänd av <@UANNA>."),
        (Reply(Outcome.NOT_ALLOWED, "Only holders of one of these roles can approve or deny "
               "passcode resets: <b>.", r, key="not_allowed.no_role",
               params={"roles": "<b>"}),
         t("sv-SE", "click.not_allowed.no_role", roles="&lt;b&gt;")),
    ]
    for reply, swedish in cases:
        assert click_refusal_text(reply, "sv-SE") == swedish
        assert click_refusal_text(reply, "en-US") == blocks.esc(reply.message)
        assert click_refusal_text(reply, "") == blocks.esc(reply.message)
    for english in ("Someone <!here> & co", "x" * 4000):
        assert click_refusal_text(Reply(Outcome.NOT_ALLOWED, english), "sv-SE") == blocks.esc(
            english, 2900)


def test_state_labels_in_english_are_the_domains() -> None:
    for state in State:
        assert t("en", f"state.{state.value}") == state.label
        for locale in ("sv", "it", "ro"):
            assert t(locale, f"state.{state.value}") != state.label, (locale, state)


def test_the_english_status_line_is_unchanged() -> None:
    """What App Home shows, and an English /passcode status: the wording from before (the
    device's name shown as a literal since issue 10)."""
    r = refused(DeviceFacts("macOS", "14", "appleBulkWithUser", "macMDM"))
    r.surface = {"delivery_problem": "waiting"}
    assert blocks.status_line(r) == (
        f"*PR-ABCDEF* · `Phone &lt;!here&gt;` · refused · requested 2026-11-23 09:30 UTC"
        f"\n>{MATRIX[Row.MACOS].reason}"
        "\n>:warning: I could not send you a direct message about this request yet."
    )
    assert blocks.status_line(r, "en-GB") == blocks.status_line(r)
    swedish = blocks.status_line(r, "sv-SE")
    assert swedish == (
        "*PR-ABCDEF* · `Phone &lt;!here&gt;` · avvisad · begärd 2026-11-23 09:30 UTC"
        f"\n>{t('sv', 'row.macos.reason')}\n>{t('sv', 'status.delivery_problem')}"
    )
    r.reason = "A reason the bot does not word <itself>."
    assert blocks.status_line(r, "sv-SE").split("\n")[1] == (
        ">A reason the bot does not word &lt;itself&gt;.")
    assert r.scope is Scope.DEVICE
