"""The SQLite store under concurrency: what one task commits, the next read sees."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from bot.domain import ResetRequest, State, new_request_id
from bot.storage import Store
from policy.platforms import Result, Row, Scope


def new_request(i: int) -> ResetRequest:
    now = datetime.now(UTC)
    return ResetRequest(
        id=new_request_id(), requester_id=f"U{i}", requester_email=f"u{i}@example.com",
        device_id=f"device-{i}", device_name=f"PHONE-{i}", device_serial=f"S{i}",
        device_owner_email=f"u{i}@example.com", row=Row.AE_FULLY_MANAGED, scope=Scope.DEVICE,
        expected=Result.TEMPORARY_PASSCODE, state=State.AWAITING_APPROVAL, created_at=now,
        updated_at=now, approval_deadline=now,
    )


async def test_a_read_after_a_commit_sees_it_while_other_reads_overlap(tmp_path: Path) -> None:
    """Overlapping reads on one connection must not pin an old snapshot (a lost request)."""
    store = await Store.open(str(tmp_path / "bot.db"))
    missed = 0

    async def write_then_read(i: int) -> None:
        nonlocal missed
        request = new_request(i)
        await store.insert(request, actor=request.requester_id)
        if await store.get(request.id) is None:
            missed += 1

    async def busy_reader() -> None:
        for _ in range(40):
            await store.in_states([State.AWAITING_APPROVAL], limit=500)

    try:
        await asyncio.gather(*(write_then_read(i) for i in range(200)),
                             *(busy_reader() for _ in range(8)))
    finally:
        await store.close()
    assert missed == 0
