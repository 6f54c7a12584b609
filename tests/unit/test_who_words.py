"""Who can approve and what a refused approver lacks are worded from the core's codes in
every language (views/words.py, views/cards.py): names the directory or a roles file
controls are shown so that they cannot format or mention anyone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.domain import ResetRequest, State
from bot.service import Outcome, Reply
from handlers.views import cards, words
from handlers.views.i18n import t
from policy.platforms import Result, Row, Scope

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
PERMISSION = "Microsoft.Intune_RemoteTasks_ResetPasscode"
HOSTILE = "Sweden *helpdesk* <!channel>"


def request(roles: str = "", people: str = "") -> ResetRequest:
    return ResetRequest(
        id="PR-ABCDEF", requester_id="U1", requester_email="a@example.com", device_id="d",
        device_name="Phone", device_serial="S", device_owner_email="a@example.com",
        row=Row.AE_FULLY_MANAGED, scope=Scope.DEVICE,
        expected=Result.TEMPORARY_PASSCODE, state=State.AWAITING_APPROVAL, created_at=WHEN,
        updated_at=WHEN, approval_deadline=WHEN, approver_roles=roles, approver_people=people,
    )


@pytest.mark.parametrize("missing", ["permission", "scope", "scope_tag"])
@pytest.mark.parametrize("lang", ["en", "sv", "it", "ro"])
def test_a_refused_approver_is_told_what_they_lack_in_their_language(
    missing: str, lang: str
) -> None:
    reply = Reply(Outcome.NOT_ALLOWED, f"not_allowed.{missing}",
                  {"roles": "Helpdesk Operator", "permission": PERMISSION, "detail": HOSTILE},
                  request=request())
    text = words.reply_text(reply, lang)
    assert text == t(lang, f"reply.not_allowed.{missing}", permission=PERMISSION,
                     detail="`Sweden *helpdesk* &lt;!channel&gt;`")
    assert "<!channel>" not in text and "`Sweden *helpdesk*" in text
    if lang != "en":
        assert text != words.reply_text(reply, "en")


def test_the_approvals_post_names_who_can_approve_in_its_language() -> None:
    roles_only = request("Global Administrator\nIntune Administrator")
    assert cards.approvers_line(roles_only) == (
        "*Who can approve:* Global Administrator, Intune Administrator.")
    assert cards.approvers_line(roles_only, "it").startswith("*Chi può approvare:*")
    with_people = request("Helpdesk Operator", "UHELEN\nanna@example.com\n<!here>")
    line = cards.approvers_line(with_people, "sv")
    assert line.startswith("*Vem kan godkänna:* <@UHELEN>, `anna@example.com`")
    assert "<!here>" not in line  # a roles file's odd entry is a literal, never a mention
    _, blocks = cards.approval_message(with_people, "ro")
    assert any("*Cine poate aproba:*" in str(b) for b in blocks)
    assert cards.approvers_line(request()) == ""  # not known: the post says nothing


def test_a_role_name_the_tenant_chose_cannot_format_or_link_on_the_approvals_post() -> None:
    """A custom Intune role's displayName is the tenant's text: on the who-can-approve line it
    must not make bold, italics or a link (review of issue 12)."""
    hostile = "Intune custom role: *URGENT* approve at https://evil.example/login _now_"
    line = cards.approvers_line(request(f"Global Administrator\n{hostile}"))
    assert "Global Administrator, " in line  # our own names read as words
    assert "`Intune custom role: *URGENT* approve at https://evil.example/login _now_`" in line
