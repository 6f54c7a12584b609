"""An unconfirmed reset, through Slack (issue 12 point 5): Intune took the POST but the answer
was lost, and neither of its records can show it yet. The bot sends nothing more; the requester
and the approvals post say so plainly; only an approver (not the requester, not someone without
a role) can choose Try again, which is audited with who chose it and then runs the reset."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.domain import State
from tests.fakes.graph_api import GraphEmulator
from tests.scenario.harness import APPROVALS, PIXEL, Stack, make_stack


@pytest.fixture
async def stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret, kind="intune"):
        assert s.graph is not None
        s.graph.clock = s.clock  # Intune's clock moves with ours
        yield s


def graph(stack: Stack) -> GraphEmulator:
    assert stack.graph is not None
    return stack.graph


def buttons(message: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in message.get("blocks", []) if b["type"] == "actions" for e in b["elements"]]


def text_of(message: dict[str, Any]) -> str:
    return str(message.get("text", "")) + " ".join(
        str(b.get("text", {}).get("text", "")) for b in message.get("blocks", []))


async def unconfirmed(stack: Stack) -> tuple[str, dict[str, Any]]:
    assert (await stack.driver.command("UALICE", "reset PIXEL8-ALICE")).status == 200
    await stack.settle()
    post = stack.approvals()[-1]
    request_id = str(buttons(post)[0]["value"])
    emulator = graph(stack)
    emulator.lose_answer_next("resetPasscode", 504)  # applied; the gateway lost the answer
    emulator.listing_delay_reads = 1000  # deviceActionResults does not list it
    emulator.fail_next("remoteActionAudits", 403, times=1000)  # and the audit cannot be read
    answer = await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS,
                                      message_ts=post["ts"])
    assert answer.status == 200
    await stack.settle()
    return request_id, post


async def test_an_unconfirmed_reset_is_said_plainly_and_not_resent(stack: Stack) -> None:
    request_id, post = await unconfirmed(stack)
    request = await stack.store.get(request_id)
    assert request.state is State.UNCONFIRMED
    # Stored as our code, not as words (issue 11): the views word it in each language.
    assert request.failure_params == {"words": "reset_unconfirmed"}
    assert request.failure_detail == ""
    assert graph(stack).reset_posts(PIXEL) == 1
    assert len(graph(stack).graph_requests("resetPasscode", method="POST")) == 1
    updated = next(m for m in stack.approvals() if m["ts"] == post["ts"])
    assert "did not confirm" in text_of(updated)
    assert "its records could not show whether it was queued" in text_of(updated)
    assert [b["action_id"] for b in buttons(updated)] == ["try_again"]
    alice = text_of(stack.dm("UALICE")[-1])
    assert "unconfirmed" in alice and "did not send it again" in alice
    for jargon in ("504", "HTTP", "GatewayTimeout", "Traceback"):
        assert jargon not in alice and jargon not in text_of(updated)
    # The job queue does not resend it either, however long one waits.
    stack.clock.advance(stack.service.config.execution_timeout * 2)
    await stack.settle()
    assert graph(stack).reset_posts(PIXEL) == 1
    # Asking anew is possible, but the new approvals post warns before anyone clicks.
    assert (await stack.driver.command("UALICE", "reset PIXEL8-ALICE")).status == 200
    await stack.settle()
    assert f"An earlier reset of this device ({request_id}) is unconfirmed" in text_of(
        stack.approvals()[-1])


async def completes(stack: Stack, request_id: str) -> Any:
    for _ in range(20):
        request = await stack.store.get(request_id)
        if request.state is State.COMPLETED:
            return request
        stack.clock.advance(stack.service.config.execution_timeout / 60)
        await stack.settle()
    return await stack.store.get(request_id)


async def test_only_an_approver_may_try_again_and_it_is_audited(stack: Stack) -> None:
    """Try again after the first attempt has shown up in Intune after all: the bot looks
    first and follows that reset instead of sending a second one."""
    request_id, post = await unconfirmed(stack)
    emulator = graph(stack)
    emulator.listing_delay_reads = 0  # the first attempt now shows
    for who in ("UMALLORY", "UALICE"):  # no role; the requester (four eyes)
        answer = await stack.driver.click(who, "try_again", request_id, channel_id=APPROVALS,
                                          message_ts=post["ts"])
        assert answer.status == 200
        await stack.settle()
        assert (await stack.store.get(request_id)).state is State.UNCONFIRMED
    # Each is told why, privately; nothing reached Intune.
    assert stack.emu.ephemeral_messages("UMALLORY") and stack.emu.ephemeral_messages("UALICE")
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 1
    answer = await stack.driver.click("UHELEN", "try_again", request_id, channel_id=APPROVALS,
                                      message_ts=post["ts"])
    assert answer.status == 200
    await stack.settle()
    request = await completes(stack, request_id)
    assert request.state is State.COMPLETED and request.decided_by == "UHELEN"
    assert emulator.reset_posts(PIXEL) == 1
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 1
    trail = await stack.store.audit_trail(request_id)
    again = [e for e in trail if e.action == "try_again"]
    assert len(again) == 1 and again[0].actor == "UHELEN"
    assert again[0].from_state == "unconfirmed" and again[0].to_state == "approved"
    # A second click changes nothing.
    await stack.driver.click("UANNA", "try_again", request_id, channel_id=APPROVALS,
                             message_ts=post["ts"])
    await stack.settle()
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 1


async def test_try_again_sends_the_reset_when_intune_never_had_it(stack: Stack) -> None:
    """Both POSTs died at the gateway before Intune saw them, and then Intune could not be
    read: unconfirmed. Try again looks, finds nothing, and sends it: one reset in all."""
    assert (await stack.driver.command("UALICE", "reset PIXEL8-ALICE")).status == 200
    await stack.settle()
    post = stack.approvals()[-1]
    request_id = str(buttons(post)[0]["value"])
    emulator = graph(stack)
    emulator.fail_next("resetPasscode", 504, times=2)
    emulator.fail_next("remoteActionAudits", 403, times=1)  # the second look cannot tell
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS,
                             message_ts=post["ts"])
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.UNCONFIRMED
    assert emulator.reset_posts(PIXEL) == 0
    await stack.driver.click("UHELEN", "try_again", request_id, channel_id=APPROVALS,
                             message_ts=post["ts"])
    await stack.settle()
    request = await completes(stack, request_id)
    assert request.state is State.COMPLETED
    assert emulator.reset_posts(PIXEL) == 1
    assert "ready" in text_of(stack.dm("UALICE")[-1]).lower() or request.has_passcode
