"""Requests: every state change is one conditional UPDATE (``WHERE id = ? AND state
= ?``) in the same transaction as its audit event and the jobs it schedules, so however many
callers race, one wins and the rest see that the request has moved on."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from bot.domain import Audit, Change, JobSpec, NewRequest, ResetRequest, State, check_transition
from bot.ports import OpenRequestExists, Standing
from bot.storage import audit
from bot.storage.audit import AuditEvent
from bot.storage.connection import Database, Tx, ts
from bot.storage.jobs import add_jobs
from bot.storage.rows import COLUMNS, from_row, to_db
from bot.storage.schema import OPEN_SQL, StoreError


class SqlRequestStore:
    """The RequestStore port over the ``requests`` and ``audit`` tables."""

    _db: Database
    _jobs_added: asyncio.Event  # set once a write that scheduled jobs has committed

    # -- writes ---------------------------------------------------------------------------

    async def add(self, new: NewRequest) -> None:
        """Store a new request (state REQUESTED moving on to ``request.state``).

        Raises OpenRequestExists, and writes nothing, when ``request`` is open and its device
        already has an open request: the database allows one, however many callers race."""
        request, actor, detail, jobs = new.request, new.audit.actor, new.audit.detail, new.jobs
        check_transition(State.REQUESTED, request.state)
        cols = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        at = request.created_at

        async def work(tx: Tx) -> None:
            if not await tx.insert_unique(
                f"INSERT INTO requests ({cols}) VALUES ({marks})",
                [to_db(n, getattr(request, n)) for n in COLUMNS],
            ):
                existing = await _open_for_device(tx, request.device_id)
                if existing is None or existing.id == request.id:
                    raise StoreError(f"request {request.id} is already stored")
                raise OpenRequestExists(existing)
            await audit.append_all(tx, request.id, at, actor, [
                ("request", "", "requested", ""),
                (request.state.value, "requested", request.state.value, detail)])
            await add_jobs(tx, request.id, at, jobs)

        await self._db.write(work)
        if jobs:
            self._jobs_added.set()

    async def insert(
        self, request: ResetRequest, *, actor: str, detail: str = "",
        jobs: Sequence[JobSpec] = (),
    ) -> None:
        """``add`` spelt out (tests and tools)."""
        await self.add(NewRequest(request, Audit(actor, request.state.value, detail), tuple(jobs)))

    async def apply(self, change: Change) -> ResetRequest | None:
        """Apply ``change`` if the request is in one of its ``from_states``, with its audit
        event and jobs: one conditional UPDATE in one transaction. Returns the request as
        changed, or None, writing nothing, when another caller got there first or it is gone."""
        to, at = change.to, change.at
        values: dict[str, Any] = dict(change.fields)
        if change.touches:
            values["updated_at"] = at
        if to is not None:
            values["state"] = to
        assignments = ", ".join([*(f"{name} = ?" for name in values),
                                 *(f"{name} = {name} + ?" for name in change.adds)])
        params = [*(to_db(n, v) for n, v in values.items()), *change.adds.values()]
        sources = sorted(s.value for s in change.from_states)
        placeholders = ", ".join("?" for _ in sources)
        entry = change.audit

        async def work(tx: Tx) -> ResetRequest | None:
            found = await tx.fetchone(
                f"SELECT * FROM requests WHERE id = ? AND state IN ({placeholders})"
                + tx.dialect.for_update,
                [change.request_id, *sources],
            )
            if found is None:
                return None
            row = found
            if assignments:  # the row as changed (the audit and the jobs change nothing of it)
                changed = await tx.fetchone(
                    f"UPDATE requests SET {assignments} WHERE id = ? AND state = ? RETURNING *",
                    [*params, change.request_id, found["state"]],
                )
                assert changed is not None  # (the row is this transaction's: locked above)
                row = changed
            await audit.append(
                tx, change.request_id, at, entry.actor, entry.action, found["state"],
                to.value if to is not None else found["state"], entry.detail,
            )
            await add_jobs(tx, change.request_id, at, change.jobs)
            return from_row(row)

        changed = await self._db.write(work)
        if changed is not None and change.jobs:
            self._jobs_added.set()
        return changed

    # The keyword forms below build a Change: for tests and tools that have no request at hand.

    async def note(self, request_id: str, *, actor: str, at: datetime, action: str,
                   detail: str = "") -> None:
        """An audit event and nothing else: no field or state of the request changes."""
        await self.apply(Change(request_id, at, Audit(actor, action, detail)))

    async def transition(
        self, request_id: str, to: State, *, actor: str, at: datetime, action: str | None = None,
        detail: str = "", changes: dict[str, Any] | None = None, jobs: Sequence[JobSpec] = (),
        only_from: Iterable[State] | None = None,
    ) -> ResetRequest | None:
        """Move a request to ``to`` if it is in a state that may reach it (or one of
        ``only_from``); None when another caller got there first or the request is gone."""
        return await self.apply(Change(
            request_id, at, Audit(actor, action or to.value, detail), to,
            frozenset(only_from or ()), changes or {}, tuple(jobs),
        ))

    async def update_fields(
        self, request_id: str, *, actor: str, at: datetime, action: str, detail: str = "",
        changes: dict[str, Any],
    ) -> None:
        """Set any columns without a state transition, audited (tests and tools: it can put a
        row in any state, so the workflow never calls it)."""
        values = {**changes, "updated_at": at}
        assignments = ", ".join(f"{name} = ?" for name in values)

        async def work(tx: Tx) -> None:
            state = await _state(tx, request_id)
            if state is None:
                return
            await tx.execute(
                f"UPDATE requests SET {assignments} WHERE id = ?",
                [*(to_db(n, v) for n, v in values.items()), request_id],
            )
            await audit.append(tx, request_id, at, actor, action, state, state, detail)

        await self._db.write(work)

    async def save_surface(self, request_id: str, values: dict[str, Any]) -> None:
        """Merge the notifier's message references (text, numbers, flags; None removes one)
        into the request, in one statement: merged by the database in the row it locks, a
        round trip where reading it first and writing it back in a transaction were four
        (not audited: no decision)."""
        if any(isinstance(value, (dict, list)) for value in values.values()):
            raise TypeError("a message reference is a text, a number or a flag")
        merged = self._db.dialect.json_merge.format(column="surface")
        await self._db.statement(f"UPDATE requests SET surface = {merged} WHERE id = ?",
                                 (json.dumps(values, sort_keys=True), request_id))

    async def reseal(self, values: Sequence[tuple[str, bytes, bytes]],
                     simulated: Sequence[tuple[str, bytes, bytes]] = ()) -> None:
        """Replace sealed values in one transaction (key rotation): all or nothing, each
        (key, as read, new) only where the value is still the one read: a value purged or
        sealed again meanwhile stays as it is now (a purged passcode never comes back). The
        requests' by id; ``simulated``: the simulated Intune's resets' by reference
        (bot/storage/simulation.py)."""

        async def work(tx: Tx) -> None:
            await tx.executemany(
                "UPDATE requests SET sealed_passcode = ? WHERE id = ? AND sealed_passcode = ?",
                [(new, rid, old) for rid, old, new in values],
            )
            if simulated:
                await tx.executemany(
                    "UPDATE simulated_resets SET sealed_passcode = ?"
                    " WHERE ref = ? AND sealed_passcode = ?",
                    [(new, ref, old) for ref, old, new in simulated],
                )

        await self._db.write(work, bulk=True)

    # -- reads ----------------------------------------------------------------------------

    async def get(self, request_id: str) -> ResetRequest | None:
        rows = await self._db.read("SELECT * FROM requests WHERE id = ?", (request_id,))
        return from_row(rows[0]) if rows else None

    async def sealed_passcode(self, request_id: str) -> bytes | None:
        rows = await self._db.read(
            "SELECT sealed_passcode FROM requests WHERE id = ?", (request_id,)
        )
        return rows[0]["sealed_passcode"] if rows else None

    async def _select(self, where: str, params: Sequence[Any], limit: int) -> list[ResetRequest]:
        rows = await self._db.read(
            f"SELECT * FROM requests WHERE {where} ORDER BY created_at DESC LIMIT ?",
            [*params, limit],
        )
        return [from_row(r) for r in rows]

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

    async def standing(self, requester_id: str, device_id: str, *, requester_since: datetime,
                       device_since: datetime) -> Standing:
        """One statement, where there were four reads: the counts and the unconfirmed
        request's id as columns beside the open request's row, whose columns are all NULL
        when the device has none."""
        rows = await self._db.read(
            "SELECT (SELECT COUNT(*) FROM requests WHERE requester_id = ? AND created_at > ?)"
            " AS by_requester_n,"
            " (SELECT COUNT(*) FROM requests WHERE device_id = ? AND created_at > ?"
            " AND state != ?) AS for_device_n,"
            " (SELECT id FROM requests WHERE device_id = ? AND state = ?"
            " ORDER BY created_at DESC LIMIT 1) AS unconfirmed_id,"
            " found.* FROM (SELECT 1 AS one) AS here LEFT JOIN"
            f" (SELECT * FROM requests WHERE device_id = ? AND state IN {OPEN_SQL}"
            " ORDER BY created_at DESC LIMIT 1) AS found ON 1 = 1",
            (requester_id, ts(requester_since), device_id, ts(device_since),
             State.REFUSED.value, device_id, State.UNCONFIRMED.value, device_id))
        row = rows[0]
        return Standing(int(row["by_requester_n"]), int(row["for_device_n"]),
                        from_row(row) if row["id"] is not None else None,
                        row["unconfirmed_id"] or "")

    async def approvals_due(self, now: datetime) -> list[ResetRequest]:
        rows = await self._db.read(
            "SELECT * FROM requests WHERE state = ? AND approval_deadline <= ?",
            (State.AWAITING_APPROVAL.value, ts(now)),
        )
        return [from_row(r) for r in rows]

    async def passcodes_due(self, now: datetime) -> list[ResetRequest]:
        rows = await self._db.read(
            "SELECT * FROM requests WHERE sealed_passcode IS NOT NULL"
            " AND passcode_expires_at <= ?",
            (ts(now),),
        )
        return [from_row(r) for r in rows]

    async def sealed_all(self) -> list[tuple[str, bytes]]:
        rows = await self._db.read(
            "SELECT id, sealed_passcode FROM requests WHERE sealed_passcode IS NOT NULL"
        )
        return [(r["id"], r["sealed_passcode"]) for r in rows]

    async def audit_trail(self, request_id: str | None = None) -> list[AuditEvent]:
        return await audit.trail(self._db, request_id)



async def _state(tx: Tx, request_id: str) -> str | None:
    found = await tx.fetchone(
        "SELECT state FROM requests WHERE id = ?" + tx.dialect.for_update, (request_id,)
    )
    return None if found is None else str(found["state"])


async def _open_for_device(tx: Tx, device_id: str) -> ResetRequest | None:
    row = await tx.fetchone(
        f"SELECT * FROM requests WHERE device_id = ? AND state IN {OPEN_SQL}"
        " ORDER BY created_at LIMIT 1",
        (device_id,),
    )
    return from_row(row) if row is not None else None
