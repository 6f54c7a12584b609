"""Refusals, who may decide, races, expiry and the guards on every request."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest

from bot.domain import State
from tests.scenario.harness import APPROVALS, Stack
from tests.scenario.test_happy_paths import approval_request_id, request_and_approve, reveal


def ephemerals(stack: Stack) -> str:
    return json.dumps([c.params for c in stack.emu.calls
                       if c.method in {"response_url", "chat.postEphemeral"}])


async def pending_request(stack: Stack, requester: str = "UALICE",
                          device: str = "PIXEL8-ALICE") -> str:
    await stack.driver.command(requester, f"reset {device}")
    await stack.settle()
    return approval_request_id(stack)


@pytest.mark.parametrize(
    ("requester", "device", "says"),
    [
        ("UBOB", "SM-G950F-BOB", "Google removed passcode reset"),
        ("UDAVE", "Dave's iPhone", "User Enrollment"),
        ("UCAROL", "Carol's MacBook Pro", "macOS"),
        ("UBOB", "DESKTOP-7F3K2QL", "Windows"),
        ("UERIN", "erin-ubuntu-dev", "not one this bot knows"),
        ("UERIN", "Erin's Galaxy A14", "not one this bot knows"),
    ],
    ids=["device-admin-7+", "ios-user-enrollment", "macos", "windows", "linux",
         "ambiguous-android"],
)
async def test_an_ineligible_device_is_refused_privately_with_no_approval_and_no_backend_call(
    stack: Stack, requester: str, device: str, says: str
) -> None:
    answer = await stack.driver.command(requester, f"reset {device}")
    assert answer.status == 200
    await stack.settle()
    assert says in ephemerals(stack)
    assert stack.approvals() == []
    assert stack.resets() == 0  # type: ignore[attr-defined]
    [request] = await stack.store.by_requester(requester)
    assert request.state is State.REFUSED


async def test_someone_elses_device_is_answered_as_no_device_of_yours(stack: Stack) -> None:
    await stack.driver.command("UBOB", "reset PIXEL8-ALICE")
    await stack.settle()
    assert "No device of yours matches" in ephemerals(stack)
    assert stack.approvals() == []
    assert await stack.store.by_requester("UBOB") == []


@pytest.mark.parametrize(("requester", "says"), [
    ("UALICE", "No device of yours matches `NO-SUCH-PHONE`"),
    ("UANNA", "No managed device is called `NO-SUCH-PHONE`"),  # an approver: the whole fleet
], ids=["requester", "approver"])
async def test_an_unknown_device_gets_a_clear_answer_and_creates_nothing(
    stack: Stack, requester: str, says: str
) -> None:
    await stack.driver.command(requester, "reset NO-SUCH-PHONE")
    await stack.settle()
    assert says in json.loads(ephemerals(stack))[0]["text"]
    assert await stack.store.by_requester(requester) == []


async def test_a_clicker_without_a_role_changes_nothing_and_is_told_why(stack: Stack) -> None:
    request_id = await pending_request(stack)
    await stack.driver.click("UMALLORY", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    [told] = stack.emu.calls_to("chat.postEphemeral")
    assert told.params["user"] == "UMALLORY"
    assert "Only holders of one of these roles" in told.params["text"]
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL


async def test_a_requester_cannot_approve_their_own_request_even_with_a_role(stack: Stack) -> None:
    request_id = await pending_request(stack, "UHELEN", "KIOSK-LOBBY-01")
    await stack.driver.click("UHELEN", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert "cannot approve or deny your own request" in ephemerals(stack)
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL


async def test_deny_updates_the_message_and_tells_the_requester(stack: Stack) -> None:
    request_id = await pending_request(stack)
    await stack.driver.click("UANNA", "deny", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.DENIED
    approval = json.dumps(stack.approvals()[-1]["blocks"])
    assert "Denied by <@UANNA>" in approval and '"actions"' not in approval
    assert "denied by <@UANNA>" in json.dumps(stack.dm("UALICE"))
    assert stack.resets() == 0  # type: ignore[attr-defined]


async def test_a_double_click_runs_one_reset(stack: Stack) -> None:
    request_id = await pending_request(stack)
    for _ in range(2):
        await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert stack.resets() == 1  # type: ignore[attr-defined]
    assert "already decided" in ephemerals(stack)


async def test_two_approvers_clicking_at_once_start_one_backend_action(stack: Stack) -> None:
    request_id = await pending_request(stack)
    await asyncio.gather(
        stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS),
        stack.driver.click("UHELEN", "approve", request_id, channel_id=APPROVALS),
    )
    await stack.settle()
    assert stack.resets() == 1  # type: ignore[attr-defined]
    assert (await stack.store.get(request_id)).state is State.COMPLETED


async def test_nobody_but_the_requester_sees_the_passcode(stack: Stack) -> None:
    request_id = await request_and_approve(stack, "UALICE", "PIXEL8-ALICE")
    modal = await reveal(stack, "UANNA", request_id)
    assert "Only the person who asked" in modal
    assert "header" not in modal
    assert (await stack.store.get(request_id)).reveal_count == 0


async def test_after_seven_days_the_passcode_is_gone_and_the_dm_says_so(stack: Stack) -> None:
    request_id = await request_and_approve(stack, "UALICE", "PIXEL8-ALICE")
    assert "Your passcode" in await reveal(stack, "UALICE", request_id)
    assert "Your passcode" in await reveal(stack, "UALICE", request_id)  # any number of times
    stack.clock.advance(timedelta(days=7))
    await stack.service.sweep()
    await stack.settle()
    assert await stack.store.sealed_passcode(request_id) is None
    assert "expired and was deleted" in json.dumps(stack.dm("UALICE")[-1])
    modal = await reveal(stack, "UALICE", request_id)
    assert "expired" in modal and "header" not in modal


async def test_an_undecided_request_expires_and_its_message_loses_its_buttons(stack: Stack) -> None:
    request_id = await pending_request(stack)
    stack.clock.advance(timedelta(hours=24))
    await stack.service.sweep()
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.EXPIRED
    approval = json.dumps(stack.approvals()[-1]["blocks"])
    assert "Expired" in approval and '"actions"' not in approval
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert stack.resets() == 0  # type: ignore[attr-defined]


async def test_the_requester_can_cancel_a_pending_request(stack: Stack) -> None:
    request_id = await pending_request(stack)
    await stack.driver.click("UBOB", "cancel", request_id, channel_id="DBOB")
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL
    await stack.driver.click("UALICE", "cancel", request_id, channel_id="DALICE")
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.CANCELLED
    assert "Cancelled by the requester" in json.dumps(stack.approvals()[-1]["blocks"])


async def test_a_second_request_for_a_device_with_one_open_is_refused(stack: Stack) -> None:
    await pending_request(stack)
    await stack.driver.command("UHELEN", "reset PIXEL8-ALICE")
    await stack.settle()
    assert "already has a passcode reset in progress" in ephemerals(stack)
    assert len(stack.approvals()) == 1


# -- the guards on every request ------------------------------------------------------------


async def test_a_bad_signature_is_rejected_and_changes_nothing(stack: Stack) -> None:
    body = stack.driver.command_body("UALICE", "reset PIXEL8-ALICE")
    answer = await stack.driver.post(body, signature="v0=" + "0" * 64)
    assert answer.status == 401
    await stack.settle()
    assert await stack.store.by_requester("UALICE") == []


async def test_a_stale_timestamp_is_rejected(stack: Stack) -> None:
    body = stack.driver.command_body("UALICE", "reset PIXEL8-ALICE")
    answer = await stack.driver.post(body, timestamp=int(time.time()) - 6 * 60)
    assert answer.status == 401
    await stack.settle()
    assert await stack.store.by_requester("UALICE") == []


async def test_a_slack_retry_of_the_same_command_makes_no_second_request(stack: Stack) -> None:
    body = stack.driver.command_body("UALICE", "reset PIXEL8-ALICE")
    first = await stack.driver.post(body)
    retry = await stack.driver.post(body, headers={"X-Slack-Retry-Num": "1",
                                                    "X-Slack-Retry-Reason": "http_timeout"})
    again = await stack.driver.post(body)
    assert (first.status, retry.status, again.status) == (200, 200, 200)
    await stack.settle()
    assert len(await stack.store.by_requester("UALICE")) == 1
    assert len(stack.approvals()) == 1


async def test_a_5000_character_argument_gets_a_clear_answer(stack: Stack) -> None:
    answer = await stack.driver.command("UALICE", "reset " + "x" * 5000)
    assert answer.status == 200
    assert "too long" in answer.body
    await stack.settle()
    assert await stack.store.by_requester("UALICE") == []


async def test_mention_injection_in_a_device_name_pings_nobody(stack: Stack) -> None:
    await stack.driver.command("UALICE", "reset <!channel> <@UANNA> &lt;")
    await stack.settle()
    sent = ephemerals(stack)
    assert "&lt;!channel&gt;" in sent and "&lt;@UANNA&gt;" in sent
    assert "<!channel>" not in sent and "<@UANNA>" not in sent


async def test_help_and_unknown_subcommands_answer_at_once(stack: Stack) -> None:
    for text in ("help", "", "frobnicate"):
        answer = await stack.driver.command("UALICE", text)
        assert answer.status == 200 and "/passcode reset" in answer.body


async def test_status_lists_my_requests(stack: Stack) -> None:
    request_id = await pending_request(stack)
    await stack.driver.command("UALICE", "status")
    await stack.settle()
    assert request_id in ephemerals(stack)
    await stack.driver.command("UBOB", f"status {request_id}")
    await stack.settle()
    assert "that you can see" in stack.emu.calls_to("response_url")[-1].params["text"]


async def test_a_dm_that_keeps_failing_is_reported_to_approvers_and_in_status(stack: Stack) -> None:
    """Slack faults on the DM: retried, never lost, and after a while the alarm is raised."""
    from bot.jobs import REPORT_STUCK_AFTER

    stack.emu.fail_next("conversations.open", error="internal_error", times=REPORT_STUCK_AFTER)
    await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
    await stack.settle()
    for _ in range(REPORT_STUCK_AFTER):
        stack.clock.advance(timedelta(minutes=6))
        await stack.settle()
    alarm = json.dumps(stack.approvals())
    assert "I have not been able to message <@UALICE>" in alarm
    [request] = await stack.store.by_requester("UALICE")
    trail = await stack.store.audit_trail(request.id)
    assert "delivery_failed" in [e.action for e in trail]
    # The next retry gets through: the DM arrives once, and the warning clears.
    stack.clock.advance(timedelta(minutes=6))
    await stack.settle()
    assert len(stack.dm("UALICE")) == 1
    await stack.driver.command("UALICE", "status")
    await stack.settle()
    assert "could not send you" not in ephemerals(stack)


async def test_slack_rate_limits_and_outages_are_retried_without_duplicates(stack: Stack) -> None:
    stack.emu.fail_next("chat.postMessage", retry_after=0, times=1)  # 429
    stack.emu.fail_next("chat.update", status=503, error="service_unavailable", times=1)
    request_id = await pending_request(stack)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    for _ in range(3):
        stack.clock.advance(timedelta(minutes=6))
        await stack.settle()
    assert len(stack.approvals()) == 1
    assert "the reset completed" in json.dumps(stack.approvals()[-1]["blocks"])
    assert (await stack.store.get(request_id)).state is State.COMPLETED
