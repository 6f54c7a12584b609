"""200 people ask at once and an approver approves all 200 at once, against one instance (the
whole in-process stack over HTTP, a simulated fleet of 200 devices with 200 owners).

Nothing is lost and nothing doubled: 200 requests, 200 approval messages each updated to the
outcome, 200 resets, 200 result DMs; afterwards `passcode-bot check-db` finds the database
consistent.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.backends.simulated import FleetEntry, SimulatedBackend
from bot.domain import State
from tests.scenario.harness import APPROVALS, Stack, make_stack

N = 200
APPROVER = "UANNA"  # Intune Administrator in the harness's roles
REPO = Path(__file__).resolve().parents[2]


def user_id(i: int) -> str:
    return f"ULOAD{i:04d}"


def device_name(i: int) -> str:
    return f"LOAD-PIXEL-{i:04d}"


def fleet() -> list[FleetEntry]:
    """N Android Enterprise fully managed phones, each with an owner of its own."""
    return [
        {
            "id": f"00000000-0000-4000-8000-{i:012d}",
            "deviceName": device_name(i),
            "serialNumber": f"LD{i:08d}",
            "operatingSystem": "Android",
            "osVersion": "14",
            "deviceEnrollmentType": "androidEnterpriseFullyManaged",
            "deviceType": "androidEnterprise",
            "managementAgent": "mdm",
            "managedDeviceOwnerType": "company",
            "emailAddress": f"load{i}@example.com",
            "userPrincipalName": f"load{i}@example.com",
            "userDisplayName": f"Load User {i}",
        }
        for i in range(N)
    ]


class NoPacing:
    """The notifier's per-channel pacing (about one post a second to the approvals channel,
    as Slack allows) is another test's subject; here it would only stretch 200 posts over
    minutes."""

    async def wait(self, channel: str, key: str | None = None) -> None:
        return None


@pytest.fixture
async def stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    # Resets complete at the first status read: the load is on the bot, not on waiting.
    backend = SimulatedBackend(fleet(), pending_for=timedelta(0))
    # One approver approving 200 requests at once is load, not a person: no per-person limit.
    async for s in make_stack(tmp_path, secret, backend=backend, person_actions_per_minute=0):
        for i in range(N):
            s.emu.add_user(user_id(i), name=f"load{i}", email=f"load{i}@example.com")
        notifier = s.bot.services.runner.notifier
        if hasattr(notifier, "pacer"):
            notifier.pacer = NoPacing()
        yield s


async def settle_all(stack: Stack) -> None:
    """Settle until no job is left (bounded: each round runs every due job)."""
    for _ in range(20):
        await stack.settle()
        if not await stack.store.pending_jobs():
            return
    raise AssertionError(f"jobs left: {await stack.store.pending_jobs()}")


def action_values(message: dict[str, Any]) -> list[str]:
    return [str(e.get("value")) for b in message.get("blocks", []) if b["type"] == "actions"
            for e in b["elements"]]


async def test_200_concurrent_requests_and_approvals_lose_nothing_and_double_nothing(
    stack: Stack, tmp_path: Path
) -> None:
    answers = await asyncio.gather(
        *(stack.driver.command(user_id(i), f"reset {device_name(i)}") for i in range(N))
    )
    assert [a.status for a in answers] == [200] * N
    await settle_all(stack)

    waiting = await stack.store.in_states([State.AWAITING_APPROVAL], limit=10 * N)
    assert sorted(r.requester_id for r in waiting) == [user_id(i) for i in range(N)]
    approvals = stack.approvals()
    assert len(approvals) == N
    by_request = {action_values(m)[0]: m for m in approvals}
    assert by_request.keys() == {r.id for r in waiting}

    answers = await asyncio.gather(*(
        stack.driver.click(APPROVER, "approve", request_id, channel_id=APPROVALS,
                           message_ts=message["ts"])
        for request_id, message in by_request.items()
    ))
    assert [a.status for a in answers] == [200] * N
    await settle_all(stack)

    done = await stack.store.in_states(list(State), limit=10 * N)
    assert len(done) == N
    assert Counter(r.state for r in done) == {State.COMPLETED: N}
    assert all(r.has_passcode and r.decided_by == APPROVER for r in done)

    backend: SimulatedBackend = stack.backend  # type: ignore[assignment]
    assert backend.resets_started == N
    assert all(len(backend.actions_for(r.device_id)) == 1 for r in done)

    # Each approval message was updated in place to the outcome, its buttons gone.
    approvals = stack.approvals()
    assert len(approvals) == N
    for message in approvals:
        assert "completed" in json.dumps(message["blocks"]) and not action_values(message)
    posted = [c for c in stack.emu.calls_to("chat.postMessage")
              if not c.failed and c.response and c.response.get("channel") == APPROVALS]
    assert len(posted) == N

    # One result DM per requester, in their own DM.
    results = [c for c in stack.emu.calls_to("chat.postMessage")
               if not c.failed and "Show passcode" in json.dumps(c.params.get("blocks"))]
    assert len(results) == N
    for i in range(N):
        in_dm = [m for m in stack.dm(user_id(i)) if "Show passcode" in json.dumps(m["blocks"])]
        assert len(in_dm) == 1, user_id(i)

    events = len(await stack.store.audit_trail())
    assert await check_db(stack.store.path) == (
        0, f"Database consistent: {N} requests, {events} audit events"
    )


async def check_db(database: str) -> tuple[int, str]:
    """`passcode-bot check-db` as an operator runs it: its exit status and what it printed."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handlers.cli", "check-db", cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(process.communicate(), 60)
    return process.returncode or 0, out.decode().strip()
