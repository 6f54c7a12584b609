"""Each result kind end to end over HTTP: request, approve, reset, DM, reveal."""

from __future__ import annotations

import json

import pytest

from bot.domain import State
from tests.conftest import read_db_bytes
from tests.scenario.harness import APPROVALS, Stack


def approval_request_id(stack: Stack) -> str:
    message = stack.approvals()[-1]
    buttons = [b for b in message["blocks"] if b["type"] == "actions"]
    return str(buttons[0]["elements"][0]["value"])


async def request_and_approve(stack: Stack, requester: str, device: str,
                              approver: str = "UANNA") -> str:
    answer = await stack.driver.command(requester, f"reset {device}")
    assert answer.status == 200
    await stack.settle()
    request_id = approval_request_id(stack)
    answer = await stack.driver.click(approver, "approve", request_id, channel_id=APPROVALS)
    assert answer.status == 200
    await stack.settle()
    return request_id


def chat_text(stack: Stack) -> str:
    """Everything sent through chat.* and response_url, as one string."""
    return json.dumps([c.params for c in stack.emu.calls
                       if c.method.startswith("chat.") or c.method == "response_url"])


async def reveal(stack: Stack, user: str, request_id: str) -> str:
    answer = await stack.driver.click(user, "reveal", request_id, channel_id="D-ignored")
    assert answer.status == 200
    await stack.settle()
    view = stack.emu.calls_to("views.open")[-1].params["view"]
    return json.dumps(view)


@pytest.mark.parametrize(
    ("requester", "device", "digits"),
    [
        ("UALICE", "PIXEL8-ALICE", 8),  # AE fully managed (device owner)
        ("UCAROL", "RFCW20N3ABX", 8),  # work profile, personally owned, by serial
        ("UALICE", "cb0534d0-57d8-4899-ba87-bd40ce0a4f62", 8),  # COPE work profile, by id
        ("UBOB", "NAVIGATOR-BOB", 6),  # AOSP user-associated
    ],
    ids=["device-owner", "work-profile-personal", "work-profile-corporate", "aosp"],
)
async def test_android_reset_delivers_a_passcode_only_inside_the_reveal_modal(
    stack: Stack, requester: str, device: str, digits: int, secret: str
) -> None:
    request_id = await request_and_approve(stack, requester, device)
    request = await stack.store.get(request_id)
    assert request.state is State.COMPLETED and request.has_passcode

    result = stack.dm(requester)[-1]
    assert "Show passcode" in json.dumps(result["blocks"])
    modal = await reveal(stack, requester, request_id)
    passcode = next(b["text"]["text"] for b in json.loads(modal)["blocks"] if b["type"] == "header")
    assert passcode.isdigit() and len(passcode) >= digits
    if stack.graph is not None:  # the one Intune issued, delivered unchanged
        assert passcode == stack.graph.issued_passcode(request.device_id)
    assert passcode not in chat_text(stack)
    assert passcode.encode() not in read_db_bytes(stack.store.path)
    approval = stack.approvals()[-1]
    assert "completed" in json.dumps(approval["blocks"])
    assert not [b for b in approval["blocks"] if b["type"] == "actions"]


async def test_ios_removal_says_the_passcode_was_removed(stack: Stack) -> None:
    request_id = await request_and_approve(stack, "UALICE", "Alice's iPhone")
    request = await stack.store.get(request_id)
    assert request.state is State.COMPLETED and not request.has_passcode
    text = json.dumps(stack.dm("UALICE")[-1]["blocks"])
    assert "was removed" in text and "Show passcode" not in text
    assert "set a new passcode" in text


async def test_a_role_holder_can_request_for_a_userless_kiosk(stack: Stack) -> None:
    request_id = await request_and_approve(stack, "UHELEN", "KIOSK-LOBBY-01")
    modal = await reveal(stack, "UHELEN", request_id)
    assert "Your passcode" in modal


async def test_the_approval_message_names_requester_device_platform_scope_and_result(
    stack: Stack,
) -> None:
    await stack.driver.command("UCAROL", "reset RFCW20N3ABX")
    await stack.settle()
    text = json.dumps(stack.approvals()[-1]["blocks"])
    for expected in ("<@UCAROL>", "RFCW20N3ABX", "482330c7-3817-467b-bc48-3168da777071",
                     "work profile (personally owned)", "work profile only",
                     "a temporary passcode", "Approve", "Deny"):
        assert expected in text, expected


async def test_the_requester_hears_of_the_approval_and_the_result(stack: Stack) -> None:
    await request_and_approve(stack, "UALICE", "PIXEL8-ALICE")
    texts = json.dumps(stack.dm("UALICE"))
    assert "Approved by <@UANNA>" in texts
    assert "temporary passcode" in texts.lower()


@pytest.mark.parametrize(
    ("requester", "device", "advice"),
    [
        ("UBOB", "Bob's Pixel 7", "reset token was never activated"),
        ("UERIN", "Erin's iPad", "may have to be wiped"),
        ("UDAVE", "NAVIGATOR-DAVE", "no device passcode policy"),
    ],
    ids=["work-profile-token", "ios-unlock-token", "aosp-no-policy"],
)
async def test_a_failed_reset_tells_the_requester_what_failed_and_what_to_do(
    stack: Stack, requester: str, device: str, advice: str
) -> None:
    request_id = await request_and_approve(stack, requester, device)
    assert (await stack.store.get(request_id)).state is State.FAILED
    text = json.dumps(stack.dm(requester)[-1])
    assert "failed" in text and advice in text
    assert "Show passcode" not in text
