"""One open request per device, however many ask at the same moment (issue 10, point 5).

The service's own check ("is one open already?") and its insert are two steps; the database's
constraint is what makes a second open request for a device impossible."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing

import pytest

from handlers.demo.driver import Answer
from tests.scenario.harness import APPROVALS, PIXEL, Stack

ALREADY = "already has a passcode reset in progress"


def open_requests(stack: Stack, device_id: str = PIXEL) -> list[str]:
    """Ids of the device's open requests, read from the database file itself."""
    with closing(sqlite3.connect(stack.store.path)) as db:
        rows = db.execute(
            "SELECT id FROM requests WHERE device_id = ? AND state IN"
            " ('awaiting_approval', 'approved', 'executing')", (device_id,)).fetchall()
    return [r[0] for r in rows]


def approvals_posts(stack: Stack) -> int:
    return len([c for c in stack.emu.calls_to("chat.postMessage")
                if c.params.get("channel") == APPROVALS and not c.failed])


def answers(stack: Stack) -> list[str]:
    """What the requester was told: command replies and DMs (the picker's answers)."""
    said = [str(c.params.get("text", "")) for c in stack.emu.calls_to("response_url")]
    said += [json.dumps(m) for m in stack.dm("UALICE")]
    return said


def by_command(stack: Stack) -> Callable[[], Awaitable[Answer]]:
    return lambda: stack.driver.command("UALICE", "reset PIXEL8-ALICE")


def by_picker(stack: Stack) -> Callable[[], Awaitable[Answer]]:
    return lambda: stack.driver.submit_view("UALICE", "reset_modal", {
        "device": {"device_pick": {"type": "external_select",
                                   "selected_option": {"value": PIXEL}}},
    })


@pytest.mark.parametrize("ways", [
    ("command", "command", "command"),
    ("picker", "picker", "picker"),
    ("command", "picker", "command", "picker"),
], ids=["commands", "picker-submissions", "both"])
async def test_requests_for_one_device_at_the_same_moment_make_one_request_and_one_post(
    stack: Stack, ways: tuple[str, ...]
) -> None:
    senders = {"command": by_command(stack), "picker": by_picker(stack)}
    replies = await asyncio.gather(*(senders[way]() for way in ways))
    assert all(r.status == 200 for r in replies)
    await stack.settle()

    [request_id] = open_requests(stack)
    assert approvals_posts(stack) == 1
    told = answers(stack)
    assert sum("waiting for an approver" in s for s in told) == 1
    # Everyone else is told one is already open, and which one.
    assert sum(ALREADY in s and f"({request_id})" in s for s in told) == len(ways) - 1
    assert len(await stack.store.by_requester("UALICE")) == 1
