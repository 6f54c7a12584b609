"""The SQLite store under concurrency: what one task commits, the next read sees."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import closing
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.domain import NotifyEvent, ResetRequest, State, new_request_id, notify
from bot.storage import MIGRATIONS, OpenRequestExists, Store, StoreError
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


async def test_migration_2_fills_in_when_a_started_reset_was_recorded(tmp_path: Path) -> None:
    """A database of schema 1 (before action_recorded_at): opening it adds the column and
    fills it in from the audit trail's last backend_action event."""
    path = tmp_path / "old.db"
    now = "2026-11-23T10:00:00.000000+00:00"
    recorded = "2026-11-23T10:00:05.000000+00:00"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0])
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1)")
        for rid, ref, state, device in (("PR-STARTED", "r-1", "executing", "d1"),
                                        ("PR-WAITING", "", "awaiting_approval", "d2")):
            db.execute(
                "INSERT INTO requests (id, requester_id, requester_email, device_id,"
                " device_name, device_serial, device_owner_email, row, scope, state,"
                " created_at, updated_at, action_ref, action_started_at)"
                " VALUES (?, 'U1', 'u@example.com', ?, 'PHONE', 'S1', 'u@example.com',"
                " ?, ?, ?, ?, ?, ?, ?)",
                (rid, device, Row.AE_FULLY_MANAGED.value, Scope.DEVICE.value, state, now, now, ref,
                 now if ref else None))
        for at in ("2026-11-23T10:00:01.000000+00:00", recorded):
            db.execute("INSERT INTO audit (request_id, at, actor, action, from_state, to_state,"
                       " prev_hash, hash) VALUES ('PR-STARTED', ?, 'passcode-bot',"
                       " 'backend_action', 'executing', 'executing', '', '')", (at,))

    store = await Store.open(str(path))
    try:
        started = await store.get("PR-STARTED")
        assert started is not None
        assert started.action_recorded_at == datetime.fromisoformat(recorded)
        waiting = await store.get("PR-WAITING")
        assert waiting is not None and waiting.action_recorded_at is None
    finally:
        await store.close()


def count(path: Path, sql: str, *params: object) -> int:
    with closing(sqlite3.connect(path)) as db:
        return int(db.execute(sql, params).fetchone()[0])


async def test_the_database_itself_allows_one_open_request_per_device(tmp_path: Path) -> None:
    """Inserts racing for one device: one is stored, each other raises OpenRequestExists naming
    it and leaves no row, audit event or job behind. Refused and closed requests do not count."""
    path = tmp_path / "bot.db"
    store = await Store.open(str(path))
    try:
        racing = [replace(new_request(1), id=new_request_id()) for _ in range(8)]
        results = await asyncio.gather(
            *(store.insert(r, actor="U1", jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
              for r in racing),
            return_exceptions=True)
        stored = [r for r, result in zip(racing, results, strict=True) if result is None]
        assert len(stored) == 1
        lost = [result for result in results if result is not None]
        assert all(isinstance(e, OpenRequestExists) and e.existing.id == stored[0].id
                   for e in lost)
        assert count(path, "SELECT COUNT(*) FROM requests") == 1
        assert count(path, "SELECT COUNT(DISTINCT request_id) FROM audit") == 1
        assert count(path, "SELECT COUNT(*) FROM jobs") == 1

        refused = replace(new_request(1), id=new_request_id(), state=State.REFUSED)
        await store.insert(refused, actor="U1")  # a refusal is not open: it does not collide
        await store.transition(stored[0].id, State.DENIED, actor="U9", at=datetime.now(UTC))
        again = replace(new_request(1), id=new_request_id())
        await store.insert(again, actor="U1")  # the first one is closed now
        assert count(path, "SELECT COUNT(*) FROM requests WHERE state = 'awaiting_approval'") == 1
    finally:
        await store.close()


async def test_migration_3_will_not_start_on_two_open_requests_for_one_device(
    tmp_path: Path,
) -> None:
    """A database written before the constraint, holding two open requests for one device:
    opening it stops with one line naming both, and changes nothing."""
    path = tmp_path / "old.db"
    now = "2026-11-23T10:00:00.000000+00:00"
    with closing(sqlite3.connect(path)) as db, db:
        for script in MIGRATIONS[:2]:
            db.executescript(script)
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1), (2)")
        for rid, state, device in (("PR-FIRST", "awaiting_approval", "d1"),
                                   ("PR-SECOND", "executing", "d1"),
                                   ("PR-OTHER", "awaiting_approval", "d2"),
                                   ("PR-DONE", "completed", "d2")):
            db.execute(
                "INSERT INTO requests (id, requester_id, requester_email, device_id,"
                " device_name, device_serial, device_owner_email, row, scope, state,"
                " created_at, updated_at) VALUES (?, 'U1', 'u@example.com', ?, 'PHONE', 'S1',"
                " 'u@example.com', ?, ?, ?, ?, ?)",
                (rid, device, Row.AE_FULLY_MANAGED.value, Scope.DEVICE.value, state, now, now))

    with pytest.raises(StoreError) as refused:
        await Store.open(str(path))
    message = str(refused.value)
    assert "\n" not in message
    assert "PR-FIRST" in message and "PR-SECOND" in message and "d1" in message
    assert "PR-OTHER" not in message and "PR-DONE" not in message
    assert count(path, "SELECT MAX(version) FROM schema_version") == 2
    assert count(path, "SELECT COUNT(*) FROM requests WHERE state IN"
                       " ('awaiting_approval', 'executing')") == 3
