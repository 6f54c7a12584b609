"""In-memory fakes of our storage ports (cosmicpython's FakeRepository): RequestStore and
JobQueue over dicts and lists, keeping the ports' guarantees (a conditional change that
finds the request moved on writes nothing; one open request per device; jobs scheduled with
the change), so use cases are tested in milliseconds without SQLite."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from bot.audit import GENESIS, AuditEvent, audit_hash
from bot.domain import OPEN_STATES, Audit, Change, JobSpec, NewRequest, ResetRequest, State
from bot.ports import Job, OpenRequestExists, Standing


@dataclass
class _Job:
    id: int
    spec: JobSpec
    request_id: str
    run_at: datetime
    attempts: int = 0
    lease_until: datetime | None = None
    done_at: datetime | None = None
    dead: bool = False
    last_error: str = ""
    claims: int = 0


class FakeJobQueue:
    def __init__(self) -> None:
        self.jobs: list[_Job] = []
        self._added = asyncio.Event()

    def schedule(self, request_id: str, at: datetime, specs: Iterable[JobSpec]) -> None:
        for spec in specs:
            run_at = at + timedelta(seconds=spec.delay_s)
            same = next((j for j in self.jobs if j.request_id == request_id
                         and j.spec.kind == spec.kind and j.spec.event == spec.event), None)
            if same is not None:  # the table's UNIQUE (kind, request_id, event)
                if same.done_at is not None or same.dead:  # came round again: re-armed
                    same.run_at, same.attempts, same.lease_until = run_at, 0, None
                    same.done_at, same.dead, same.last_error = None, False, ""
                    same.claims += 1
                    self._added.set()
                continue
            self.jobs.append(_Job(len(self.jobs) + 1, spec, request_id, run_at))
            self._added.set()

    def _held(self, job: Job) -> _Job | None:
        """The job's row while ``job`` is its latest claim and it is not done."""
        row = next(j for j in self.jobs if j.id == job.id)
        return row if row.claims == job.claim and row.done_at is None else None

    async def claim_jobs(self, now: datetime, lease_s: float, limit: int = 20) -> list[Job]:
        due = [j for j in self.jobs if j.done_at is None and not j.dead and j.run_at <= now
               and (j.lease_until is None or j.lease_until <= now)]
        claimed = []
        for j in sorted(due, key=lambda j: (j.run_at, j.id))[:limit]:
            j.lease_until = now + timedelta(seconds=lease_s)
            j.attempts += 1
            j.claims += 1
            claimed.append(Job(j.id, j.spec.kind, j.request_id, j.spec.event, j.attempts,
                               j.claims))
        return claimed

    async def renew_lease(self, job: Job, until: datetime) -> bool:
        if (row := self._held(job)) is None or row.lease_until is None:
            return False
        row.lease_until = until
        return True

    async def release_leases(self) -> None:
        for j in self.jobs:
            if j.done_at is None:
                j.lease_until = None

    async def finish_job(self, job: Job, at: datetime) -> bool:
        if (row := self._held(job)) is None:
            return False
        row.done_at, row.lease_until = at, None
        return True

    async def retry_job(self, job: Job, run_at: datetime, error: str, dead: bool) -> bool:
        if (row := self._held(job)) is None:
            return False
        row.run_at, row.lease_until, row.last_error, row.dead = run_at, None, error[:500], dead
        return True

    async def defer_job(self, job: Job, run_at: datetime) -> bool:
        if (row := self._held(job)) is None:
            return False
        row.run_at, row.lease_until, row.attempts = run_at, None, max(row.attempts - 1, 0)
        return True

    async def next_job_at(self) -> datetime | None:
        times = [j.lease_until or j.run_at for j in self.jobs if j.done_at is None and not j.dead]
        return min(times, default=None)

    async def pending_jobs(self, request_id: str | None = None) -> list[dict[str, Any]]:
        return [
            {"id": j.id, "kind": j.spec.kind.value, "request_id": j.request_id,
             "event": j.spec.event.value if j.spec.event else "", "attempts": j.attempts,
             "dead": int(j.dead), "last_error": j.last_error}
            for j in self.jobs
            if j.done_at is None and (request_id is None or j.request_id == request_id)
        ]

    async def wait_for_jobs(self, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._added.wait(), timeout=timeout)
        self._added.clear()

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        yield True  # one process

    def due(self, request_id: str) -> list[str]:
        """The request's jobs not done yet, as "kind" or "kind:event" (for assertions)."""
        return [f"{j.spec.kind}:{j.spec.event}" if j.spec.event else str(j.spec.kind)
                for j in self.jobs if j.request_id == request_id and j.done_at is None]


class FakeRequestStore:
    def __init__(self, queue: FakeJobQueue | None = None) -> None:
        self.queue = queue or FakeJobQueue()
        self.requests: dict[str, ResetRequest] = {}
        self.sealed: dict[str, bytes] = {}
        self.events: list[AuditEvent] = []

    def _audit(self, request_id: str, at: datetime, audit: Audit, from_state: str,
               to_state: str) -> None:
        prev = self.events[-1].hash if self.events else GENESIS
        at_s = at.isoformat(timespec="microseconds")
        digest = audit_hash(prev, request_id, at_s, audit.actor, audit.action, from_state,
                            to_state, audit.detail)
        self.events.append(AuditEvent(len(self.events) + 1, request_id, at, audit.actor,
                                      audit.action, from_state, to_state, audit.detail, prev,
                                      digest))

    async def add(self, new: NewRequest) -> None:
        request = new.request
        if request.id in self.requests:
            raise ValueError(f"request {request.id} exists")
        if request.state in OPEN_STATES:
            existing = await self.open_for_device(request.device_id)
            if existing is not None:
                raise OpenRequestExists(existing)
        self.requests[request.id] = replace(request)
        at = request.created_at
        self._audit(request.id, at, Audit(new.audit.actor, "request"), "", "requested")
        self._audit(request.id, at, new.audit, "requested", request.state.value)
        self.queue.schedule(request.id, at, new.jobs)

    async def apply(self, change: Change) -> ResetRequest | None:
        current = self.requests.get(change.request_id)
        if current is None or not change.applies_to(current):
            return None
        changed = change.apply(current)
        if "sealed_passcode" in change.fields:
            sealed = change.fields["sealed_passcode"]
            if sealed is None:
                self.sealed.pop(change.request_id, None)
            else:
                self.sealed[change.request_id] = sealed
        self.requests[change.request_id] = changed
        self._audit(change.request_id, change.at, change.audit, current.state.value,
                    changed.state.value)
        self.queue.schedule(change.request_id, change.at, change.jobs)
        return replace(changed)

    async def save_surface(self, request_id: str, values: dict[str, Any]) -> None:
        if request_id in self.requests:
            merged = {**self.requests[request_id].surface, **values}
            self.requests[request_id].surface = {k: v for k, v in merged.items() if v is not None}

    async def reseal(self, values: Sequence[tuple[str, bytes, bytes]]) -> None:
        for rid, old, new in values:
            if self.sealed.get(rid) == old:
                self.sealed[rid] = new

    async def checkpoint(self) -> bool:
        return True

    async def get(self, request_id: str) -> ResetRequest | None:
        found = self.requests.get(request_id)
        return replace(found) if found is not None else None

    async def sealed_passcode(self, request_id: str) -> bytes | None:
        return self.sealed.get(request_id)

    async def sealed_all(self) -> list[tuple[str, bytes]]:
        return list(self.sealed.items())

    def _newest(self, keep: Iterable[ResetRequest], limit: int) -> list[ResetRequest]:
        ordered = sorted(keep, key=lambda r: r.created_at, reverse=True)
        return [replace(r) for r in ordered[:limit]]

    async def by_requester(self, requester_id: str, limit: int = 10) -> list[ResetRequest]:
        return self._newest((r for r in self.requests.values()
                             if r.requester_id == requester_id), limit)

    async def in_states(self, states: Iterable[State], limit: int = 100) -> list[ResetRequest]:
        wanted = set(states)
        return self._newest((r for r in self.requests.values() if r.state in wanted), limit)

    async def open_for_device(self, device_id: str) -> ResetRequest | None:
        found = self._newest((r for r in self.requests.values()
                              if r.device_id == device_id and r.state in OPEN_STATES), 1)
        return found[0] if found else None

    def _count_since(self, *, since: datetime, requester_id: str | None = None,
                     device_id: str | None = None) -> int:
        if requester_id:
            return sum(r.requester_id == requester_id and r.created_at > since
                       for r in self.requests.values())
        return sum(r.device_id == device_id and r.created_at > since
                   and r.state is not State.REFUSED for r in self.requests.values())

    async def standing(self, requester_id: str, device_id: str, *, requester_since: datetime,
                       device_since: datetime) -> Standing:
        unconfirmed = self._newest((r for r in self.requests.values() if r.device_id == device_id
                                    and r.state is State.UNCONFIRMED), 1)
        return Standing(
            self._count_since(since=requester_since, requester_id=requester_id),
            self._count_since(since=device_since, device_id=device_id),
            await self.open_for_device(device_id), unconfirmed[0].id if unconfirmed else "")

    async def approvals_due(self, now: datetime) -> list[ResetRequest]:
        return [replace(r) for r in self.requests.values()
                if r.state is State.AWAITING_APPROVAL and r.approval_deadline is not None
                and r.approval_deadline <= now]

    async def passcodes_due(self, now: datetime) -> list[ResetRequest]:
        return [replace(self.requests[rid]) for rid in self.sealed
                if (at := self.requests[rid].passcode_expires_at) is not None and at <= now]

    async def audit_trail(self, request_id: str | None = None) -> list[AuditEvent]:
        return [e for e in self.events if request_id is None or e.request_id == request_id]
