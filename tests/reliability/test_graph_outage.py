"""Microsoft Graph down for minutes while an approved reset runs (the whole in-process stack,
Graph behind the HTTPS emulator; time, shared by the bot and the emulator, moved by hand a
minute at a time).

An outage shorter than EXECUTION_TIMEOUT (15 minutes by default): the request waits, still
resetting and without a word of failure, and completes once Graph is back: one resetPasscode,
one result DM; the device then has the full timeout to confirm. An outage that outlasts it:
the request fails, the requester is told in words a person understands (no status codes, no
stack traces, no advice that fits other failures), and no reset is started afterwards.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.domain import ResetRequest, State
from bot.ports import FailureCode
from bot.service import ServiceConfig
from tests.fakes.graph_api import GraphEmulator
from tests.scenario.harness import APPROVALS, Stack, make_stack

PIXEL = "d7d2d617-9d12-4bb2-bb9c-9a4a1a9923be"  # PIXEL8-ALICE, Android Enterprise fully managed
IPHONE = "a682d288-dfb8-4897-9202-ddabbcbb2e4f"  # Alice's iPhone
TIMEOUT = ServiceConfig().execution_timeout  # the documented bound (EXECUTION_TIMEOUT)
# The request fails at the execute job's first try after the deadline: at most a job backoff
# later (bot/jobs.py: a minute + 20 % jitter for execute jobs), plus the minute this test
# moves time by and the Graph client's own retries within that try.
LATEST_FAILURE = TIMEOUT + timedelta(minutes=3)
STEPS = int((TIMEOUT + LATEST_FAILURE) / timedelta(minutes=1))  # more than enough minutes
JARGON = ("503", "HTTP", "ServiceUnavailable", "request-id", "Traceback", "Error:", "Exception")


@pytest.fixture
async def stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret, kind="intune"):
        assert s.graph is not None
        s.graph.clock = s.clock  # Intune's clock moves with ours
        yield s


def graph(stack: Stack) -> GraphEmulator:
    assert stack.graph is not None
    return stack.graph


async def request_approved_during_outage(stack: Stack, device: str) -> ResetRequest:
    """Alice asks (Graph up), then Graph goes down and Anna approves."""
    assert (await stack.driver.command("UALICE", f"reset {device}")).status == 200
    await stack.settle()
    message = stack.approvals()[-1]
    request_id = str(next(b for b in message["blocks"] if b["type"] == "actions")
                     ["elements"][0]["value"])
    graph(stack).set_down(True)
    answer = await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS,
                                      message_ts=message["ts"])
    assert answer.status == 200
    await stack.settle()
    request = await stack.store.get(request_id)
    assert request.state is State.EXECUTING and request.action_started_at is not None
    return request  # type: ignore[no-any-return]


async def a_minute_later(stack: Stack, request: ResetRequest) -> ResetRequest:
    """Move time on a minute, let due work run, and read the request again."""
    stack.clock.advance(timedelta(minutes=1))
    await stack.settle()
    return await stack.store.get(request.id)  # type: ignore[no-any-return]


def result_dms(stack: Stack) -> list[dict[str, Any]]:
    """Alice's DMs after the first (the "waiting for approval" one, updated in place)."""
    return stack.dm("UALICE")[1:]


async def test_an_outage_of_minutes_delays_the_reset_which_then_happens_once(
    stack: Stack,
) -> None:
    # The device takes three minutes to confirm: more than the 15 minutes left over after the
    # outage would allow if the timeout counted from the approval.
    graph(stack).action_pending_seconds = 180
    request = await request_approved_during_outage(stack, "PIXEL8-ALICE")
    approved_at = request.action_started_at
    assert approved_at is not None
    while stack.clock.now() - approved_at < timedelta(minutes=11):
        request = await a_minute_later(stack, request)
        assert request.state is State.EXECUTING
        assert result_dms(stack) == []
    assert graph(stack).reset_posts(PIXEL) == 0
    assert "Approved by <@UANNA>" in json.dumps(stack.dm("UALICE"))

    graph(stack).set_down(False)
    for _ in range(STEPS):
        if request.state is not State.EXECUTING:
            break
        request = await a_minute_later(stack, request)
    assert request.state is State.COMPLETED and request.has_passcode, request.failure_detail
    assert request.updated_at - approved_at > TIMEOUT  # confirmed after the first 15 minutes
    # The device's 15 minutes counted from when the reset was recorded as started.
    assert request.action_recorded_at is not None
    assert request.action_recorded_at - approved_at >= timedelta(minutes=11)
    assert graph(stack).reset_posts(PIXEL) == 1
    [result] = result_dms(stack)
    assert "Show passcode" in json.dumps(result["blocks"])
    assert "completed" in json.dumps(stack.approvals()[-1]["blocks"])


async def test_an_outage_past_the_execution_timeout_fails_the_request_in_plain_words(
    stack: Stack,
) -> None:
    request = await request_approved_during_outage(stack, "Alice's iPhone")
    started = request.action_started_at
    assert started is not None
    for _ in range(STEPS):
        if request.state is not State.EXECUTING:
            break
        assert result_dms(stack) == []
        request = await a_minute_later(stack, request)

    assert request.state is State.FAILED
    assert TIMEOUT <= request.updated_at - started <= LATEST_FAILURE
    assert request.failure_code == FailureCode.TIMED_OUT
    assert graph(stack).reset_posts(IPHONE) == 0
    assert_told_plainly(stack, "could not be reached for 15 minutes")

    # Graph coming back later changes nothing: the failed request starts no reset.
    graph(stack).set_down(False)
    request = await a_minute_later(stack, request)
    assert request.state is State.FAILED
    assert graph(stack).reset_posts(IPHONE) == 0
    assert len(result_dms(stack)) == 1


async def test_graph_back_only_after_the_timeout_starts_no_reset(stack: Stack) -> None:
    request = await request_approved_during_outage(stack, "Alice's iPhone")
    stack.clock.advance(TIMEOUT + timedelta(minutes=1))  # no try in between
    graph(stack).set_down(False)
    request = await a_minute_later(stack, request)

    assert request.state is State.FAILED and request.failure_code == FailureCode.TIMED_OUT
    assert graph(stack).reset_posts(IPHONE) == 0
    assert_told_plainly(stack, "so the passcode was not reset")


def assert_told_plainly(stack: Stack, expected: str) -> None:
    [result] = result_dms(stack)
    text = json.dumps(result)
    assert "failed" in result["text"] and expected in text, text
    assert not [word for word in JARGON if word in text], text
    # An outage is not a wrong unlock token: no advice to wipe the phone.
    assert "wiped" not in text
