"""The durable job queue: jobs are inserted in the transaction of the change that schedules
them (``add``), then leased, finished, retried or deferred by job runners, in any number of
processes on PostgreSQL: a claim skips rows another claim holds, and a job whose lease ran out
(its runner died) is due again. Each claim of a job is numbered (``claims``), and a runner's
renew, finish, retry or defer names the claim it holds: once another claim has taken the job
over, they change nothing. (During a rolling upgrade from a release before migration 11, the
old release's claims are not numbered: between an old and a new replica, a stalled runner's
finish is then not held back, as before.)"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from bot.domain import JobKind, JobSpec, NotifyEvent
from bot.ports import Job
from bot.storage.connection import Database, Tx, dt, ts


async def add_jobs(tx: Tx, request_id: str, at: datetime, jobs: Iterable[JobSpec]) -> None:
    """Schedule jobs inside the caller's write transaction; a job already scheduled (same
    kind, request and event) is not scheduled twice, and one already done (or dead) runs
    again: the request came round once more (Try again after an unconfirmed reset). Re-armed,
    it counts as claimed anew: whoever held it before changes nothing of it from then on."""
    added = False
    for job in jobs:
        run_at = at.timestamp() + job.delay_s
        # Portable SQL (SQLite 3.24+, PostgreSQL): ON CONFLICT ... DO UPDATE ... WHERE.
        await tx.execute(
            "INSERT INTO jobs (kind, request_id, event, run_at) VALUES (?,?,?,?)"
            " ON CONFLICT (kind, request_id, event) DO UPDATE SET run_at = excluded.run_at,"
            " attempts = 0, lease_until = NULL, done_at = NULL, dead = 0, last_error = '',"
            " claims = jobs.claims + 1"
            " WHERE jobs.done_at IS NOT NULL OR jobs.dead = 1",
            (job.kind.value, request_id, job.event.value if job.event else "",
             ts(datetime.fromtimestamp(run_at, UTC))),
        )
        added = True
    if added:
        await tx.jobs_added()


class SqlJobQueue:
    """The JobQueue port over the ``jobs`` table. Wake-ups: in-process on SQLite (the one
    process that writes the file runs its jobs); on PostgreSQL a NOTIFY at commit reaches
    every process that waits for work (see bot/storage/postgres.py ``listen``), and sets the
    same event."""

    _db: Database
    _jobs_added: asyncio.Event

    def _scheduled(self) -> None:
        """Jobs were committed: wake the runner."""
        self._jobs_added.set()

    async def wait_for_jobs(self, timeout: float) -> None:
        await self._db.listen()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._jobs_added.wait(), timeout=timeout)
        self._jobs_added.clear()

    async def claim_jobs(self, now: datetime, lease_s: float, limit: int = 20) -> list[Job]:
        """Lease due jobs: a job whose lease ran out (its runner died) is due again; each
        claim counts in ``claims``, the number the claimer names to change the job later."""
        lease = ts(datetime.fromtimestamp(now.timestamp() + lease_s, UTC))

        rows = await self._db.statement(
            "UPDATE jobs SET lease_until = ?, attempts = attempts + 1, claims = claims + 1"
            " WHERE id IN ("
            " SELECT id FROM jobs WHERE done_at IS NULL AND dead = 0 AND run_at <= ?"
            " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY run_at, id LIMIT ?"
            + self._db.dialect.skip_locked + ")"
            " RETURNING id, kind, request_id, event, attempts, run_at, claims",
            (lease, ts(now), ts(now), limit))
        rows.sort(key=lambda r: (r["run_at"], r["id"]))
        return [Job(r["id"], JobKind(r["kind"]), r["request_id"],
                    NotifyEvent(r["event"]) if r["event"] else None, r["attempts"], r["claims"])
                for r in rows]

    async def release_leases(self) -> None:
        """On SQLite every lease ends now (one process per file: whatever held them died
        with the last one). On PostgreSQL, where other replicas may be running the jobs they
        hold, nothing changes: a dead replica's jobs come back when their leases run out."""
        if self._db.dialect.name == "sqlite":
            await self._db.execute("UPDATE jobs SET lease_until = NULL WHERE done_at IS NULL")

    async def _holding(self, job: Job, change: str, params: tuple[Any, ...], *,
                       leased: bool = False) -> bool:
        """``change`` (an UPDATE's SET) made to ``job`` if its latest claim is still ``job``'s
        and it is not done (and, ``leased``, its lease not given up): whether it was."""
        rows = await self._db.statement(
            f"UPDATE jobs SET {change} WHERE id = ? AND claims = ? AND done_at IS NULL"
            + (" AND lease_until IS NOT NULL" if leased else "") + " RETURNING id",
            (*params, job.id, job.claim))
        return bool(rows)

    async def renew_lease(self, job: Job, until: datetime) -> bool:
        """Only while the claim holds a lease: a renewal that arrives after its run's outcome
        (which gives the lease up: done, retried or deferred) leases nothing again."""
        return await self._holding(job, "lease_until = ?", (ts(until),), leased=True)

    async def finish_job(self, job: Job, at: datetime) -> bool:
        return await self._holding(job, "done_at = ?, lease_until = NULL", (ts(at),))

    async def retry_job(self, job: Job, run_at: datetime, error: str, dead: bool) -> bool:
        return await self._holding(
            job, "run_at = ?, lease_until = NULL, last_error = ?, dead = ?",
            (ts(run_at), error[:500], int(dead)))

    async def defer_job(self, job: Job, run_at: datetime) -> bool:
        """Run the job again at ``run_at``; the try that asked for it does not count."""
        return await self._holding(
            job, "run_at = ?, lease_until = NULL,"
            " attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END", (ts(run_at),))

    async def pending_jobs(self, request_id: str | None = None) -> list[dict[str, Any]]:
        where = "WHERE done_at IS NULL" + (" AND request_id = ?" if request_id else "")
        rows = await self._db.read(
            f"SELECT * FROM jobs {where} ORDER BY id", (request_id,) if request_id else ()
        )
        return [dict(r) for r in rows]

    async def next_job_at(self) -> datetime | None:
        rows = await self._db.read(
            "SELECT MIN(COALESCE(lease_until, run_at)) AS t FROM jobs"
            " WHERE done_at IS NULL AND dead = 0"
        )
        return dt(rows[0]["t"]) if rows and rows[0]["t"] else None
