"""The WriteBudget port: in the database, so every process sharing it shares the budget (the
slot is counted and taken in one IMMEDIATE transaction); and in memory, for one process
alone (tests, a backend used without a store)."""

from __future__ import annotations

import asyncio
from collections import deque
from datetime import datetime, timedelta

from bot.storage.connection import Database, Tx, dt, ts


class SqlWriteBudget:
    _db: Database

    async def take_slot(self, bucket: str, now: datetime, limit: int, window_s: float) -> float:
        since = ts(now - timedelta(seconds=window_s))

        async def work(tx: Tx) -> float:
            await tx.lock(f"budget:{bucket}")  # racing processes count one at a time
            if tx.dialect.name == "postgresql":  # one round trip where three were
                row = await tx.fetchone(_TAKE_PG, (bucket, since, ts(now), limit))
            else:  # (SQLite runs these at once, in microseconds: nothing to gain)
                await tx.execute("DELETE FROM write_budget WHERE bucket = ? AND taken_at <= ?",
                                 (bucket, since))
                row = await tx.fetchone(
                    "SELECT COUNT(*) AS n, MIN(taken_at) AS oldest FROM write_budget"
                    " WHERE bucket = ?", (bucket,))
                if row is not None and int(row["n"]) < limit:
                    await tx.execute("INSERT INTO write_budget (bucket, taken_at) VALUES (?, ?)",
                                     (bucket, ts(now)))
            count = int(row["n"]) if row else 0
            if count < limit:
                return 0.0
            oldest = dt(row["oldest"]) if row else None
            if oldest is None:
                return window_s
            return max(0.001, (oldest + timedelta(seconds=window_s) - now).total_seconds())

        return await self._db.write(work)


# PostgreSQL: the same three steps in one statement, after the lock (a statement of its own:
# the lock must be held before the snapshot the count reads is taken). Every part of a WITH
# sees one snapshot, so the count leaves out what the DELETE removes by the same condition,
# and the INSERT, which runs whether or not the SELECT reads it, adds the slot when there was
# room.
_TAKE_PG = (
    "WITH gone AS (DELETE FROM write_budget WHERE bucket = $1 AND taken_at <= $2),"
    " kept AS (SELECT COUNT(*) AS n, MIN(taken_at) AS oldest FROM write_budget"
    " WHERE bucket = $1 AND taken_at > $2),"
    " taken AS (INSERT INTO write_budget (bucket, taken_at) SELECT $1, $3 FROM kept"
    " WHERE kept.n < $4)"
    " SELECT n, oldest FROM kept")


class MemoryWriteBudget:
    """The same budget for one process only."""

    def __init__(self) -> None:
        self._taken: dict[str, deque[datetime]] = {}
        self._lock = asyncio.Lock()

    async def take_slot(self, bucket: str, now: datetime, limit: int, window_s: float) -> float:
        async with self._lock:
            taken = self._taken.setdefault(bucket, deque())
            edge = now - timedelta(seconds=window_s)
            while taken and taken[0] <= edge:
                taken.popleft()
            if len(taken) < limit:
                taken.append(now)
                return 0.0
            return max(0.001, (taken[0] + timedelta(seconds=window_s) - now).total_seconds())
