"""The job runners' heartbeats (the Heartbeats port) and what GET /readyz reads: whether the
database answers, its schema version, the newest heartbeat, the oldest job waiting for a
runner. Plain reads and one upsert, the same SQL on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.storage.connection import Database, Tx, dt, ts

# A runner's row and the write budget's slots are dropped once this old: a runner that
# stopped long ago says nothing about now, and no budget window is anywhere near this long.
FORGET_AFTER = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Readings:
    """What the database says, for GET /readyz (bot.ports.Readiness)."""

    schema_version: int
    newest_beat: datetime | None  # the newest heartbeat of any runner
    oldest_due: datetime | None  # the run time of the oldest due job no runner holds


class SqlHeartbeats:
    _db: Database

    async def beat(self, worker: str, host: str, pid: int, started_at: datetime,
                   at: datetime) -> None:
        """Record that ``worker`` is alive at ``at``; forget long-stopped runners and the
        write budget's long-expired slots on the way (one small transaction)."""
        forget = ts(at - FORGET_AFTER)

        async def work(tx: Tx) -> None:
            await tx.execute(
                "INSERT INTO worker_beats (id, host, pid, started_at, beat_at)"
                " VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET beat_at = excluded.beat_at",
                (worker, host[:200], pid, ts(started_at), ts(at)),
            )
            await tx.execute("DELETE FROM worker_beats WHERE beat_at <= ?", (forget,))
            await tx.execute("DELETE FROM write_budget WHERE taken_at <= ?", (forget,))

        await self._db.write(work)

    async def readings(self, now: datetime) -> Readings:
        """Three reads; raises whatever the database raises when it does not answer."""
        version = await self._db.read("SELECT MAX(version) AS v FROM schema_version")
        beat = await self._db.read("SELECT MAX(beat_at) AS t FROM worker_beats")
        due = await self._db.read(
            "SELECT MIN(run_at) AS t FROM jobs WHERE done_at IS NULL AND dead = 0"
            " AND run_at <= ? AND (lease_until IS NULL OR lease_until <= ?)",
            (ts(now), ts(now)),
        )
        return Readings(int((version[0]["v"] if version else 0) or 0),
                        dt(beat[0]["t"]) if beat and beat[0]["t"] else None,
                        dt(due[0]["t"]) if due and due[0]["t"] else None)
