"""The simulated Intune's own table: the resets the simulated backend started and how each
ends, in the bot's database, so every process on it (replicas, a process started again after
a crash) reads the same resets. The table stands for Intune's side of the world, not the
bot's: nothing else reads it.

A passcode is never stored here in plain text: the backend seals it (bot/vault.py, bound to
the reset's reference) before it reaches this module, which keeps the sealed bytes only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.storage.connection import Database, Record, Tx, dt, ts

# The table: bot/storage/schema.py's migration "the simulated Intune's resets".
_COLUMNS = "ref, device_id, started_at, state, failure_code, failure_detail, sealed_passcode"


@dataclass(frozen=True, slots=True)
class StoredReset:
    """One started reset and the outcome it reports once no longer pending."""

    ref: str
    device_id: str
    started_at: datetime
    state: str  # "done" or "failed"
    failure_code: str = ""
    failure_detail: str = ""
    sealed_passcode: bytes | None = None


def _reset(row: Record) -> StoredReset:
    started = dt(row["started_at"])
    assert started is not None
    sealed = row["sealed_passcode"]
    return StoredReset(str(row["ref"]), str(row["device_id"]), started, str(row["state"]),
                       str(row["failure_code"]), str(row["failure_detail"]),
                       None if sealed is None else bytes(sealed))


class SqlSimulatedResets:
    """The simulated resets in the database (SQLite or PostgreSQL, portable SQL)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, device_key: str, reset: StoredReset,
                  forget_before: datetime | None = None) -> None:
        """Record a started reset; and drop the sealed passcodes of those started before
        ``forget_before`` (long read by then: the bot keeps its own sealed copy for as long
        as it may show it), in the same transaction."""

        async def work(tx: Tx) -> None:
            if forget_before is not None:
                await tx.execute(
                    "UPDATE simulated_resets SET sealed_passcode = NULL"
                    " WHERE started_at < ? AND sealed_passcode IS NOT NULL",
                    (ts(forget_before),))
            await tx.execute(
                f"INSERT INTO simulated_resets (device_key, {_COLUMNS})"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (device_key, reset.ref, reset.device_id, ts(reset.started_at), reset.state,
                 reset.failure_code, reset.failure_detail, reset.sealed_passcode),
            )

        await self._db.write(work)

    async def get(self, ref: str) -> StoredReset | None:
        rows = await self._db.read(f"SELECT {_COLUMNS} FROM simulated_resets WHERE ref = ?",
                                   (ref,))
        return _reset(rows[0]) if rows else None

    async def sealed_all(self) -> list[tuple[str, bytes]]:
        """Every sealed passcode still kept, by reference (`rotate-key` re-seals them)."""
        rows = await self._db.read(
            "SELECT ref, sealed_passcode FROM simulated_resets WHERE sealed_passcode IS NOT NULL"
            " ORDER BY ref")
        return [(str(r["ref"]), bytes(r["sealed_passcode"])) for r in rows]

    async def of_device(self, device_key: str, since: datetime | None = None
                        ) -> list[StoredReset]:
        """The device's resets (started at or after ``since``), oldest first."""
        sql = f"SELECT {_COLUMNS} FROM simulated_resets WHERE device_key = ?"
        params: list[Any] = [device_key]
        if since is not None:
            sql += " AND started_at >= ?"
            params.append(ts(since))
        rows = await self._db.read(sql + " ORDER BY started_at, ref", params)
        return [_reset(r) for r in rows]
