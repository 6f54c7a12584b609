"""SQLite storage (aiosqlite, WAL): requests, the audit trail and the durable job queue.

Every state change is one conditional UPDATE (``WHERE id = ? AND state IN (...)``) in the same
transaction as its audit event and the jobs it schedules, so however many callers race, one
wins and the rest see that the request has moved on. Writes go through one connection under
an asyncio lock; reads use a second connection, which WAL lets see only committed data.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.domain import ResetRequest, State, check_transition, sources_of
from policy.platforms import Result, Row, Scope

MIGRATIONS: list[str] = [
    # 1: requests, audit trail, jobs
    """
    CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        requester_id TEXT NOT NULL,
        requester_email TEXT NOT NULL,
        device_id TEXT NOT NULL,
        device_name TEXT NOT NULL,
        device_serial TEXT NOT NULL,
        device_owner_email TEXT NOT NULL,
        row TEXT NOT NULL,
        scope TEXT NOT NULL,
        expected TEXT,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        hint TEXT NOT NULL DEFAULT '',
        warning TEXT NOT NULL DEFAULT '',
        approval_deadline TEXT,
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at TEXT,
        action_ref TEXT NOT NULL DEFAULT '',
        action_started_at TEXT,
        completed_at TEXT,
        passcode_expires_at TEXT,
        has_passcode INTEGER NOT NULL DEFAULT 0,
        sealed_passcode BLOB,
        failure_code TEXT NOT NULL DEFAULT '',
        failure_detail TEXT NOT NULL DEFAULT '',
        reveal_count INTEGER NOT NULL DEFAULT 0,
        surface TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX requests_by_state ON requests (state);
    CREATE INDEX requests_by_requester ON requests (requester_id, created_at);
    CREATE INDEX requests_by_device ON requests (device_id, state);
    CREATE INDEX requests_sealed ON requests (passcode_expires_at) WHERE sealed_passcode IS NOT NULL;

    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        request_id TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_by_request ON audit (request_id, seq);

    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        request_id TEXT NOT NULL,
        event TEXT NOT NULL DEFAULT '',
        run_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_until TEXT,
        done_at TEXT,
        dead INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        UNIQUE (kind, request_id, event)
    );
    CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at IS NULL AND dead = 0;
    """,
    # 2: when the backend's action was recorded (it was read from the audit trail before)
    """
    ALTER TABLE requests ADD COLUMN action_recorded_at TEXT;
    UPDATE requests SET action_recorded_at = (
        SELECT at FROM audit WHERE audit.request_id = requests.id
        AND audit.action = 'backend_action' ORDER BY seq DESC LIMIT 1
    ) WHERE action_ref != '';
    """,
    # 3: at most one open request per device, enforced by the database itself (the service's
    # check before the insert is only the fast path: two requests racing both pass it)
    """
    CREATE UNIQUE INDEX requests_one_open_per_device ON requests (device_id)
        WHERE state IN ('awaiting_approval', 'approved', 'executing');
    """,
]

# Checks run before a migration, in the same transaction: a query whose rows mean the migration
# cannot apply, and the one-line message naming them. Plain SQL, as the migrations are.
_OPEN = "('awaiting_approval', 'approved', 'executing')"
PRECHECKS: dict[int, tuple[str, str]] = {
    3: (
        f"SELECT device_id, id, state FROM requests WHERE state IN {_OPEN} AND device_id IN ("
        f" SELECT device_id FROM requests WHERE state IN {_OPEN}"
        " GROUP BY device_id HAVING COUNT(*) > 1) ORDER BY device_id, created_at, id",
        "the database holds more than one open request for one device ({found}); a device may "
        "have only one. Keep one per device (deny, cancel or finish the others with the "
        "version that wrote them), then start this version again. Nothing was changed.",
    ),
}

T = TypeVar("T")


class StoreError(Exception):
    """The database cannot be used as it is (e.g. a migration cannot apply); one line."""


class OpenRequestExists(Exception):
    """An insert lost: the device already has an open request (``existing``)."""

    def __init__(self, existing: ResetRequest) -> None:
        super().__init__(f"device {existing.device_id} already has open request {existing.id}")
        self.existing = existing

GENESIS = "0" * 64
_COLUMNS = [f.name for f in fields(ResetRequest)]
_TIMES = {
    "created_at",
    "updated_at",
    "approval_deadline",
    "decided_at",
    "action_started_at",
    "action_recorded_at",
    "completed_at",
    "passcode_expires_at",
}


def _ts(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def _dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def _to_db(name: str, value: Any) -> Any:
    if name in _TIMES:
        return _ts(value)
    if name == "surface":
        return json.dumps(value, sort_keys=True)
    if name == "has_passcode":
        return int(value)
    if isinstance(value, (State, Row, Scope, Result)):
        return value.value
    return value


def _from_row(row: aiosqlite.Row) -> ResetRequest:
    data: dict[str, Any] = {name: row[name] for name in _COLUMNS}
    for name in _TIMES:
        data[name] = _dt(data[name])
    data["state"] = State(data["state"])
    data["row"] = Row(data["row"])
    data["scope"] = Scope(data["scope"])
    data["expected"] = Result(data["expected"]) if data["expected"] else None
    data["has_passcode"] = bool(data["has_passcode"])
    data["surface"] = json.loads(data["surface"])
    return ResetRequest(**data)


@dataclass(frozen=True, slots=True)
class AuditEvent:
    seq: int
    request_id: str
    at: datetime
    actor: str
    action: str
    from_state: str
    to_state: str
    detail: str
    prev_hash: str
    hash: str


def audit_hash(prev_hash: str, request_id: str, at: str, actor: str, action: str,
               from_state: str, to_state: str, detail: str) -> str:
    """Chains an audit event to the one before it: editing, deleting or reordering any event
    breaks every hash after it."""
    body = json.dumps([prev_hash, request_id, at, actor, action, from_state, to_state, detail])
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job to schedule with a state change: ``kind`` is "execute" or "notify"."""

    kind: str
    event: str = ""
    delay_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Job:
    id: int
    kind: str
    request_id: str
    event: str
    attempts: int


class Store:
    def __init__(self, path: str, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        self._writes: set[asyncio.Future[Any]] = set()

    @classmethod
    async def open(cls, path: str) -> Store:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        writer = await aiosqlite.connect(path, isolation_level=None)
        writer.row_factory = aiosqlite.Row
        await writer.execute("PRAGMA journal_mode=WAL")
        await writer.execute("PRAGMA synchronous=NORMAL")
        await writer.execute("PRAGMA busy_timeout=5000")
        # Deleted content is overwritten with zeros, so a purged passcode leaves no bytes behind
        # in free space of the database file (checkpoint() then empties the WAL).
        await writer.execute("PRAGMA secure_delete=ON")
        try:
            await _migrate(writer)
        except BaseException:
            await writer.close()
            raise
        reader = await aiosqlite.connect(path, isolation_level=None)
        reader.row_factory = aiosqlite.Row
        await reader.execute("PRAGMA busy_timeout=5000")
        return cls(path, writer, reader)

    async def close(self) -> None:
        if self._writes:  # let shielded transactions finish before the connection goes
            await asyncio.gather(*self._writes, return_exceptions=True)
        await self._reader.close()
        await self._writer.close()

    # -- writes ---------------------------------------------------------------------------

    async def _write(self, work: Callable[[], Awaitable[T]]) -> T:
        """Run ``work`` in one IMMEDIATE transaction under the writer lock.

        Shielded: a caller cancelled mid-way (shutdown, a client gone) does not cut the
        transaction in half; it commits or rolls back whole, then the cancellation goes on.
        """

        async def run() -> T:
            async with self._lock:
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    result = await work()
                except BaseException:
                    if self._writer.in_transaction:
                        await self._writer.execute("ROLLBACK")
                    raise
                await self._writer.execute("COMMIT")
                return result

        task = asyncio.ensure_future(run())
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return await asyncio.shield(task)

    async def _append_audit(
        self, request_id: str, at: datetime, actor: str, action: str,
        from_state: str, to_state: str, detail: str,
    ) -> None:
        async with self._writer.execute("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1") as cur:
            last = await cur.fetchone()
        prev = last["hash"] if last else GENESIS
        at_s = _ts(at) or ""
        digest = audit_hash(prev, request_id, at_s, actor, action, from_state, to_state, detail)
        await self._writer.execute(
            "INSERT INTO audit (request_id, at, actor, action, from_state, to_state, detail,"
            " prev_hash, hash) VALUES (?,?,?,?,?,?,?,?,?)",
            (request_id, at_s, actor, action, from_state, to_state, detail, prev, digest),
        )

    async def _add_jobs(self, request_id: str, at: datetime, jobs: Iterable[JobSpec]) -> None:
        for job in jobs:
            run_at = at.timestamp() + job.delay_s
            await self._writer.execute(
                "INSERT OR IGNORE INTO jobs (kind, request_id, event, run_at) VALUES (?,?,?,?)",
                (job.kind, request_id, job.event, _ts(datetime.fromtimestamp(run_at, UTC))),
            )

    async def insert(
        self, request: ResetRequest, *, actor: str, detail: str = "",
        jobs: Sequence[JobSpec] = (),
    ) -> None:
        """Store a new request (state REQUESTED moving on to ``request.state``).

        Raises OpenRequestExists, and writes nothing, when ``request`` is open and its device
        already has an open request: the database allows one, however many callers race."""
        check_transition(State.REQUESTED, request.state)
        cols = ", ".join(_COLUMNS)
        marks = ", ".join("?" for _ in _COLUMNS)
        at = request.created_at

        async def work() -> None:
            try:
                await self._writer.execute(
                    f"INSERT INTO requests ({cols}) VALUES ({marks})",
                    [_to_db(n, getattr(request, n)) for n in _COLUMNS],
                )
            except sqlite3.IntegrityError:
                existing = await self._open_for_device_in_write(request.device_id)
                if existing is None or existing.id == request.id:
                    raise
                raise OpenRequestExists(existing) from None
            await self._append_audit(request.id, at, actor, "request", "", "requested", "")
            await self._append_audit(
                request.id, at, actor, request.state.value, "requested",
                request.state.value, detail,
            )
            await self._add_jobs(request.id, at, jobs)

        await self._write(work)

    async def _open_for_device_in_write(self, device_id: str) -> ResetRequest | None:
        async with self._writer.execute(
            f"SELECT * FROM requests WHERE device_id = ? AND state IN {_OPEN}"
            " ORDER BY created_at LIMIT 1",
            (device_id,),
        ) as cur:
            row = await cur.fetchone()
        return _from_row(row) if row is not None else None

    async def note(self, request_id: str, *, actor: str, at: datetime, action: str,
                   detail: str = "") -> None:
        """An audit event and nothing else: no field or state of the request changes."""

        async def work() -> None:
            async with self._writer.execute(
                "SELECT state FROM requests WHERE id = ?", (request_id,)
            ) as cur:
                found = await cur.fetchone()
            if found is not None:
                await self._append_audit(
                    request_id, at, actor, action, found["state"], found["state"], detail
                )

        await self._write(work)

    async def checkpoint(self) -> bool:
        """Copy the WAL into the database file and empty it (TRUNCATE), so content deleted
        since (a purged passcode) is gone from the -wal file too. Returns False, changing
        nothing, when a reader still needs the WAL; the caller tries again later."""
        if self.path == ":memory:":
            return True
        async with self._lock:
            # A busy reader must not hold the writer up: try briefly, not for busy_timeout.
            await self._writer.execute("PRAGMA busy_timeout=50")
            try:
                async with self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)") as cur:
                    row = await cur.fetchone()
            except sqlite3.OperationalError:
                return False
            finally:
                await self._writer.execute("PRAGMA busy_timeout=5000")
        return row is not None and row[0] == 0

    async def transition(
        self,
        request_id: str,
        to: State,
        *,
        actor: str,
        at: datetime,
        action: str | None = None,
        detail: str = "",
        changes: dict[str, Any] | None = None,
        jobs: Sequence[JobSpec] = (),
        only_from: Iterable[State] | None = None,
    ) -> ResetRequest | None:
        """Move a request to ``to`` if it is in a state that may reach it (or one of
        ``only_from``). Returns the updated request, or None when another caller got there
        first or the request is gone; the audit event and jobs are written only on success."""
        sources = frozenset(only_from) if only_from is not None else sources_of(to)
        for source in sources:
            check_transition(source, to)
        values = {"state": to, "updated_at": at, **(changes or {})}
        assignments = ", ".join(f"{name} = ?" for name in values)
        params = [_to_db(n, v) for n, v in values.items()]
        placeholders = ", ".join("?" for _ in sources)

        async def work() -> ResetRequest | None:
            async with self._writer.execute(
                f"SELECT state FROM requests WHERE id = ? AND state IN ({placeholders})",
                [request_id, *(s.value for s in sources)],
            ) as cur:
                found = await cur.fetchone()
            if found is None:
                return None
            await self._writer.execute(
                f"UPDATE requests SET {assignments} WHERE id = ? AND state = ?",
                [*params, request_id, found["state"]],
            )
            await self._append_audit(
                request_id, at, actor, action or to.value, found["state"], to.value, detail
            )
            await self._add_jobs(request_id, at, jobs)
            async with self._writer.execute(
                "SELECT * FROM requests WHERE id = ?", (request_id,)
            ) as cur:
                row = await cur.fetchone()
            assert row is not None
            return _from_row(row)

        return await self._write(work)

    async def update_fields(
        self, request_id: str, *, actor: str, at: datetime, action: str, detail: str = "",
        changes: dict[str, Any],
    ) -> None:
        """Change fields without a state change (e.g. the backend's action reference), audited."""
        values = {**changes, "updated_at": at}
        assignments = ", ".join(f"{name} = ?" for name in values)

        async def work() -> None:
            async with self._writer.execute(
                "SELECT state FROM requests WHERE id = ?", (request_id,)
            ) as cur:
                found = await cur.fetchone()
            if found is None:
                return
            await self._writer.execute(
                f"UPDATE requests SET {assignments} WHERE id = ?",
                [*(_to_db(n, v) for n, v in values.items()), request_id],
            )
            await self._append_audit(
                request_id, at, actor, action, found["state"], found["state"], detail
            )

        await self._write(work)

    async def save_surface(self, request_id: str, values: dict[str, Any]) -> None:
        """Merge the notifier's message references into the request (not audited: no decision)."""

        async def work() -> None:
            async with self._writer.execute(
                "SELECT surface FROM requests WHERE id = ?", (request_id,)
            ) as cur:
                found = await cur.fetchone()
            if found is not None:
                merged = {**json.loads(found["surface"]), **values}
                await self._writer.execute(
                    "UPDATE requests SET surface = ? WHERE id = ?",
                    (json.dumps(merged, sort_keys=True), request_id),
                )

        await self._write(work)

    # -- reads ----------------------------------------------------------------------------

    async def _read(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """Run a query and fetch every row in one step on the reader connection. An open
        cursor would hold its read snapshot, and overlapping ones keep an old snapshot alive:
        reads would then miss rows committed just before."""
        return list(await self._reader.execute_fetchall(sql, params))

    async def get(self, request_id: str) -> ResetRequest | None:
        rows = await self._read("SELECT * FROM requests WHERE id = ?", (request_id,))
        return _from_row(rows[0]) if rows else None

    async def sealed_passcode(self, request_id: str) -> bytes | None:
        rows = await self._read("SELECT sealed_passcode FROM requests WHERE id = ?", (request_id,))
        return rows[0]["sealed_passcode"] if rows else None

    async def _select(self, where: str, params: Sequence[Any], limit: int) -> list[ResetRequest]:
        rows = await self._read(
            f"SELECT * FROM requests WHERE {where} ORDER BY created_at DESC LIMIT ?",
            [*params, limit],
        )
        return [_from_row(r) for r in rows]

    async def by_requester(self, requester_id: str, limit: int = 10) -> list[ResetRequest]:
        return await self._select("requester_id = ?", (requester_id,), limit)

    async def in_states(self, states: Iterable[State], limit: int = 100) -> list[ResetRequest]:
        values = [s.value for s in states]
        marks = ", ".join("?" for _ in values)
        return await self._select(f"state IN ({marks})", values, limit)

    async def open_for_device(self, device_id: str) -> ResetRequest | None:
        found = await self._select(
            "device_id = ? AND state IN (?, ?, ?)",
            (device_id, State.AWAITING_APPROVAL, State.APPROVED, State.EXECUTING),
            1,
        )
        return found[0] if found else None

    async def count_since(self, *, since: datetime, requester_id: str | None = None,
                          device_id: str | None = None) -> int:
        """Requests made since ``since`` by a requester (refusals included: each one is a row
        someone made the bot write) or for a device (refusals excluded: someone else's
        refused attempts must not use up the device's allowance)."""
        if requester_id:
            rows = await self._read(
                "SELECT COUNT(*) AS n FROM requests WHERE requester_id = ? AND created_at > ?",
                (requester_id, _ts(since)),
            )
        else:
            rows = await self._read(
                "SELECT COUNT(*) AS n FROM requests WHERE device_id = ? AND created_at > ?"
                " AND state != ?",
                (device_id, _ts(since), State.REFUSED.value),
            )
        return int(rows[0]["n"]) if rows else 0

    async def approvals_due(self, now: datetime) -> list[str]:
        rows = await self._read(
            "SELECT id FROM requests WHERE state = ? AND approval_deadline <= ?",
            (State.AWAITING_APPROVAL.value, _ts(now)),
        )
        return [r["id"] for r in rows]

    async def passcodes_due(self, now: datetime) -> list[str]:
        rows = await self._read(
            "SELECT id FROM requests WHERE sealed_passcode IS NOT NULL"
            " AND passcode_expires_at <= ?",
            (_ts(now),),
        )
        return [r["id"] for r in rows]

    async def sealed_all(self) -> list[tuple[str, bytes]]:
        rows = await self._read(
            "SELECT id, sealed_passcode FROM requests WHERE sealed_passcode IS NOT NULL"
        )
        return [(r["id"], r["sealed_passcode"]) for r in rows]

    async def reseal(self, values: Sequence[tuple[str, bytes]]) -> None:
        """Replace sealed values in one transaction (key rotation): all or nothing."""

        async def work() -> None:
            await self._writer.executemany(
                "UPDATE requests SET sealed_passcode = ? WHERE id = ?",
                [(blob, rid) for rid, blob in values],
            )

        await self._write(work)

    async def audit_trail(self, request_id: str | None = None) -> list[AuditEvent]:
        where, params = ("WHERE request_id = ?", (request_id,)) if request_id else ("", ())
        rows = await self._read(f"SELECT * FROM audit {where} ORDER BY seq", params)
        return [
            AuditEvent(
                r["seq"], r["request_id"], datetime.fromisoformat(r["at"]), r["actor"],
                r["action"], r["from_state"], r["to_state"], r["detail"], r["prev_hash"],
                r["hash"],
            )
            for r in rows
        ]

    # -- jobs -----------------------------------------------------------------------------

    async def claim_jobs(self, now: datetime, lease_s: float, limit: int = 20) -> list[Job]:
        """Lease due jobs: a job whose lease ran out (its runner died) is due again."""
        lease = _ts(datetime.fromtimestamp(now.timestamp() + lease_s, UTC))

        async def work() -> list[Job]:
            async with self._writer.execute(
                "SELECT id, kind, request_id, event, attempts FROM jobs"
                " WHERE done_at IS NULL AND dead = 0 AND run_at <= ?"
                " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY run_at, id LIMIT ?",
                (_ts(now), _ts(now), limit),
            ) as cur:
                rows = await cur.fetchall()
            await self._writer.executemany(
                "UPDATE jobs SET lease_until = ?, attempts = attempts + 1 WHERE id = ?",
                [(lease, r["id"]) for r in rows],
            )
            return [Job(r["id"], r["kind"], r["request_id"], r["event"], r["attempts"] + 1)
                    for r in rows]

        return await self._write(work)

    async def _job_update(self, sql: str, params: Sequence[Any]) -> None:
        async def work() -> None:
            await self._writer.execute(sql, params)

        await self._write(work)

    async def release_leases(self) -> None:
        await self._job_update("UPDATE jobs SET lease_until = NULL WHERE done_at IS NULL", ())

    async def renew_lease(self, job_id: int, until: datetime) -> None:
        await self._job_update("UPDATE jobs SET lease_until = ? WHERE id = ?",
                               (_ts(until), job_id))

    async def finish_job(self, job_id: int, at: datetime) -> None:
        await self._job_update("UPDATE jobs SET done_at = ?, lease_until = NULL WHERE id = ?",
                               (_ts(at), job_id))

    async def retry_job(self, job_id: int, run_at: datetime, error: str, dead: bool) -> None:
        await self._job_update(
            "UPDATE jobs SET run_at = ?, lease_until = NULL, last_error = ?, dead = ?"
            " WHERE id = ?",
            (_ts(run_at), error[:500], int(dead), job_id),
        )

    async def defer_job(self, job_id: int, run_at: datetime) -> None:
        """Run the job again at ``run_at``; the try that asked for it does not count."""
        await self._job_update(
            "UPDATE jobs SET run_at = ?, lease_until = NULL, attempts = MAX(attempts - 1, 0)"
            " WHERE id = ?",
            (_ts(run_at), job_id),
        )

    async def pending_jobs(self, request_id: str | None = None) -> list[dict[str, Any]]:
        where = "WHERE done_at IS NULL" + (" AND request_id = ?" if request_id else "")
        rows = await self._read(
            f"SELECT * FROM jobs {where} ORDER BY id", (request_id,) if request_id else ()
        )
        return [dict(r) for r in rows]

    async def next_job_at(self) -> datetime | None:
        rows = await self._read(
            "SELECT MIN(COALESCE(lease_until, run_at)) AS t FROM jobs"
            " WHERE done_at IS NULL AND dead = 0"
        )
        return _dt(rows[0]["t"]) if rows and rows[0]["t"] else None


async def _migrate(db: aiosqlite.Connection) -> None:
    await db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
    async with db.execute("SELECT MAX(version) AS v FROM schema_version") as cur:
        row = await cur.fetchone()
    current = (row["v"] if row else None) or 0
    for version, script in enumerate(MIGRATIONS, start=1):
        if version <= current:
            continue
        await db.execute("BEGIN IMMEDIATE")
        try:
            await _precheck(db, version)
            for statement in (s.strip() for s in script.split(";")):
                if statement:
                    await db.execute(statement)
            await db.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
            await db.execute("COMMIT")
        except BaseException:
            await db.execute("ROLLBACK")
            raise


async def _precheck(db: aiosqlite.Connection, version: int) -> None:
    check = PRECHECKS.get(version)
    if check is None:
        return
    sql, message = check
    async with db.execute(sql) as cur:
        rows = await cur.fetchall()
    if rows:
        by_device: dict[str, list[str]] = {}
        for row in rows:
            by_device.setdefault(row["device_id"], []).append(f"{row['id']} {row['state']}")
        found = "; ".join(f"device {d}: {', '.join(ids)}" for d, ids in by_device.items())
        raise StoreError(f"cannot apply database migration {version}: "
                         + message.format(found=found))
