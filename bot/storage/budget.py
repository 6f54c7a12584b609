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
            await tx.execute("DELETE FROM write_budget WHERE bucket = ? AND taken_at <= ?",
                             (bucket, since))
            row = await tx.fetchone(
                "SELECT COUNT(*) AS n, MIN(taken_at) AS oldest FROM write_budget"
                " WHERE bucket = ?", (bucket,)
            )
            count = int(row["n"]) if row else 0
            if count < limit:
                await tx.execute("INSERT INTO write_budget (bucket, taken_at) VALUES (?, ?)",
                                 (bucket, ts(now)))
                return 0.0
            oldest = dt(row["oldest"]) if row else None
            if oldest is None:
                return window_s
            return max(0.001, (oldest + timedelta(seconds=window_s) - now).total_seconds())

        return await self._db.write(work)


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
