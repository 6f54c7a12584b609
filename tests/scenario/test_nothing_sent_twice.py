"""Nothing sent twice: a post Slack took, whose answer the bot never heard (the connection
dropped after Slack had it: as good as a crash between Slack's answer and the bot saving it),
is not posted again when its job runs again. The bot looks for it first, by the message
metadata every post carries, in the conversation's history (as Slack documents
conversations.history and message metadata; the emulator plays them)."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest

from bot.domain import State
from handlers.demo.slack_emulator import Call
from handlers.slack.notifier import EVENT_TYPE
from tests.scenario.harness import APPROVALS, Stack
from tests.scenario.test_happy_paths import approval_request_id


def posts_of(stack: Stack, request_id: str, message: str) -> list[Call]:
    """chat.postMessage calls Slack took for one of the request's messages."""
    return [c for c in stack.emu.calls_to("chat.postMessage")
            if not c.failed and (c.params.get("metadata") or {}).get("event_payload")
            == {"request_id": request_id, "message": message}]


def results_in_dm(stack: Stack, user: str) -> list[dict[str, object]]:
    return [m for m in stack.dm(user) if "Show passcode" in json.dumps(m.get("blocks"))]


async def again_later(stack: Stack) -> None:
    """Time passes; the failed job's retry falls due and runs."""
    for _ in range(3):
        stack.clock.advance(timedelta(minutes=10))
        await stack.settle()


async def test_a_result_dm_slack_took_but_whose_answer_was_lost_is_not_sent_again(
    stack: Stack,
) -> None:
    assert (await stack.driver.command("UALICE", "reset PIXEL8-ALICE")).status == 200
    await stack.settle()
    request_id = approval_request_id(stack)
    # The next post is the result DM: Slack takes it, and the answer never comes back.
    stack.emu.fail_next("chat.postMessage", accepted=True, drop_connection=True)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    request = await stack.store.get(request_id)
    assert request.state is State.COMPLETED and "result_ts" not in request.surface
    assert len(results_in_dm(stack, "UALICE")) == 1  # Slack has it; the bot does not know

    await again_later(stack)
    assert await stack.store.pending_jobs(request_id) == []
    [dm] = results_in_dm(stack, "UALICE")
    assert len(posts_of(stack, request_id, "result")) == 1
    assert (await stack.store.get(request_id)).surface["result_ts"] == dm["ts"]
    looked = stack.emu.calls_to("conversations.history")
    assert looked and all(c.params.get("include_all_metadata") in (True, "1", "true", "True")
                          for c in looked)
    assert dm["metadata"] == {"event_type": EVENT_TYPE,
                              "event_payload": {"request_id": request_id, "message": "result"}}


async def test_an_approvals_post_slack_took_but_whose_answer_was_lost_is_not_posted_again(
    stack: Stack,
) -> None:
    stack.emu.fail_next("chat.postMessage", error=None)  # the waiting DM goes as usual
    stack.emu.fail_next("chat.postMessage", accepted=True, drop_connection=True)  # the post
    assert (await stack.driver.command("UALICE", "reset PIXEL8-ALICE")).status == 200
    await stack.settle()
    assert len(stack.approvals()) == 1
    request_id = approval_request_id(stack)
    assert "approval_ts" not in (await stack.store.get(request_id)).surface

    await again_later(stack)
    assert len(stack.approvals()) == 1
    assert len(posts_of(stack, request_id, "approval")) == 1
    assert len(posts_of(stack, request_id, "waiting")) == 1
    request = await stack.store.get(request_id)
    assert request.surface["approval_ts"] == stack.approvals()[0]["ts"]
    # and the one post works: approving from it completes the request, one result DM
    answer = await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS,
                                      message_ts=request.surface["approval_ts"])
    assert answer.status == 200
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.COMPLETED
    assert len(results_in_dm(stack, "UALICE")) == 1


async def test_without_the_history_scope_the_dm_still_goes(
    stack: Stack, caplog: pytest.LogCaptureFixture,
) -> None:
    """An app not yet reinstalled with im:history cannot look: it posts, as before (a DM
    twice is better than none), and says why in the log."""
    stack.emu.scopes = {"chat:write", "im:write", "users:read", "users:read.email",
                        "commands", "channels:history", "groups:history"}
    assert (await stack.driver.command("UALICE", "reset PIXEL8-ALICE")).status == 200
    await stack.settle()
    request_id = approval_request_id(stack)
    stack.emu.fail_next("chat.postMessage", accepted=True, drop_connection=True)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    with caplog.at_level(logging.WARNING, logger="handlers.slack.notifier"):
        await again_later(stack)
    assert await stack.store.pending_jobs(request_id) == []
    assert len(results_in_dm(stack, "UALICE")) == 2
    assert "missing_scope" in caplog.text
