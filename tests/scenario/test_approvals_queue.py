"""A backlog of approvals-channel posts waits in the jobs table, not in memory: a post whose
turn is more than a moment away hands its job back to the queue, keeping its place."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from handlers.slack.pacing import ChannelPacer
from tests.scenario.harness import Stack, make_stack

REQUESTS = [("UALICE", "PIXEL8-ALICE"), ("UBOB", "NAVIGATOR-BOB"), ("UCAROL", "RFCW20N3ABX")]


@pytest.fixture
async def stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret):
        # 10 posts/s, no burst, and any wait at all goes back to the queue.
        s.bot.services.runner.notifier.pacer = ChannelPacer(10.0, 1, max_sleep=0.0)  # type: ignore[attr-defined]
        yield s


def requested_by(post: dict[str, object]) -> str:
    return next(u for u, _ in REQUESTS if f"<@{u}>" in json.dumps(post["blocks"]))


async def test_posts_past_their_turn_wait_as_jobs_and_keep_their_order(stack: Stack) -> None:
    for user, device in REQUESTS:
        assert (await stack.driver.command(user, f"reset {device}")).status == 200
        await stack.settle()

    # One post went at once; the other two jobs were handed back, not left sleeping.
    assert [requested_by(p) for p in stack.approvals()] == ["UALICE"]
    waiting = [j for j in await stack.store.pending_jobs() if j["event"] == "approval_requested"]
    assert len(waiting) == 2
    assert all(j["attempts"] == 0 and not j["last_error"] and not j["lease_until"]
               for j in waiting)
    assert not stack.worker.tasks and not stack.bot.services.runner._tasks
    # Every requester has heard already: the DM does not wait for the channel's turn.
    assert all(stack.dm(user) for user, _ in REQUESTS)

    for _ in range(10):  # each round: a pacer slot passes (real time), the jobs come due
        await asyncio.sleep(0.12)
        stack.clock.advance(timedelta(seconds=1))
        await stack.settle()
        posted = [requested_by(p) for p in stack.approvals()]
        if len(posted) == len(REQUESTS):
            break
    assert posted == [u for u, _ in REQUESTS]
    assert not [j for j in await stack.store.pending_jobs() if j["event"] == "approval_requested"]
    assert all(len(stack.dm(user)) == 1 for user, _ in REQUESTS)  # no DM sent twice
