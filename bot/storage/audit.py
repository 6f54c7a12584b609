"""The hash-chained audit trail: appended inside the transaction of the change it records (so
the two commit together), read back in order for `audit verify` and export. Appends from any
number of processes are serialised (``Tx.lock``), so each links to the head committed before."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.audit import GENESIS, AuditEvent, audit_hash
from bot.storage.connection import Database, Tx, ts

__all__ = ["GENESIS", "AuditEvent", "append", "append_all", "audit_hash", "trail"]


Step = tuple[str, str, str, str]  # action, from_state, to_state, detail


async def append(
    tx: Tx, request_id: str, at: datetime, actor: str, action: str,
    from_state: str, to_state: str, detail: str,
) -> None:
    """Append one event, chained to the last; call inside a write transaction."""
    await append_all(tx, request_id, at, actor, [(action, from_state, to_state, detail)])


async def append_all(tx: Tx, request_id: str, at: datetime, actor: str,
                     steps: Sequence[Step]) -> None:
    """Append events of one request, each chained to the one before, in one INSERT; call
    inside a write transaction."""
    await tx.lock("audit")  # held until commit: the next append reads this one as its head
    last = await tx.fetchone("SELECT hash FROM audit ORDER BY seq DESC LIMIT 1")
    prev = last["hash"] if last else GENESIS
    at_s = ts(at) or ""
    values: list[str] = []
    for action, from_state, to_state, detail in steps:
        digest = audit_hash(prev, request_id, at_s, actor, action, from_state, to_state, detail)
        values += [request_id, at_s, actor, action, from_state, to_state, detail, prev, digest]
        prev = digest
    await tx.execute(  # the rows in this order: seq follows it, and so does the chain
        "INSERT INTO audit (request_id, at, actor, action, from_state, to_state, detail,"
        " prev_hash, hash) VALUES " + ", ".join(["(?,?,?,?,?,?,?,?,?)"] * len(steps)), values)


async def trail(db: Database, request_id: str | None = None) -> list[AuditEvent]:
    where, params = ("WHERE request_id = ?", (request_id,)) if request_id else ("", ())
    rows = await db.read(f"SELECT * FROM audit {where} ORDER BY seq", params)
    return [
        AuditEvent(
            r["seq"], r["request_id"], datetime.fromisoformat(r["at"]), r["actor"],
            r["action"], r["from_state"], r["to_state"], r["detail"], r["prev_hash"],
            r["hash"],
        )
        for r in rows
    ]
