"""The audit trail for auditors: verify its hash chain, and export who did what to which device."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from bot.domain import ResetRequest

if TYPE_CHECKING:
    from bot.ports import RequestStore

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One event of the audit trail, as stored: ``hash`` chains it to the one before."""

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
class Verification:
    ok: bool
    events: int
    problem: str = ""
    head: str = GENESIS


def verify_chain(events: Iterable[AuditEvent]) -> Verification:
    """Recompute every hash: an edited, deleted, inserted or reordered event breaks the chain
    at that point. (Removing events from the very end leaves a shorter valid chain; compare the
    head hash `audit verify` prints with one kept elsewhere to catch that.)"""
    previous = GENESIS
    count = 0
    last_seq = 0
    for event in events:
        count += 1
        if event.seq <= last_seq:
            return Verification(False, count, f"event {event.seq} is out of order")
        if event.prev_hash != previous:
            return Verification(
                False, count,
                f"event {event.seq} does not follow the event before it "
                "(an event was deleted, inserted or reordered)",
            )
        at = event.at.isoformat(timespec="microseconds")
        expected = audit_hash(previous, event.request_id, at, event.actor, event.action,
                              event.from_state, event.to_state, event.detail)
        if event.hash != expected:
            return Verification(False, count, f"event {event.seq} was altered")
        previous = event.hash
        last_seq = event.seq
    return Verification(True, count, head=previous)


async def verify(store: RequestStore) -> Verification:
    return verify_chain(await store.audit_trail())


FIELDS = ["at", "request_id", "action", "actor", "from_state", "to_state", "detail",
          "requester", "requester_email", "device_name", "device_serial", "device_id",
          "platform", "decided_by", "outcome"]


def _rows(events: list[AuditEvent], requests: dict[str, ResetRequest]) -> list[dict[str, str]]:
    rows = []
    for e in events:
        r = requests.get(e.request_id)
        rows.append({
            "at": e.at.isoformat(), "request_id": e.request_id, "action": e.action,
            "actor": e.actor, "from_state": e.from_state, "to_state": e.to_state,
            "detail": e.detail,
            "requester": r.requester_id if r else "",
            "requester_email": r.requester_email if r else "",
            "device_name": r.device_name if r else "",
            "device_serial": r.device_serial if r else "",
            "device_id": r.device_id if r else "", "platform": r.row.value if r else "",
            "decided_by": r.decided_by if r else "", "outcome": r.state.value if r else "",
        })
    return rows


async def export(store: RequestStore, since: datetime | None, fmt: str) -> str:
    """Audit events since ``since`` joined with their request: jsonl or csv."""
    events = [e for e in await store.audit_trail() if since is None or e.at >= since]
    requests = {}
    for request_id in {e.request_id for e in events}:
        found = await store.get(request_id)
        if found is not None:
            requests[request_id] = found
    rows = _rows(events, requests)
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
