"""SQLite storage (aiosqlite, WAL): requests, the audit trail and the durable job queue.

Split by concern: ``schema`` (migrations), ``connection`` (the writer lock and shielded
transactions, reads, the WAL checkpoint), ``requests`` (rows and their transitions),
``audit`` (the hash chain), ``jobs`` (the queue). ``Store`` is the one object that serves
both ports, RequestStore and JobQueue, over one database file.
"""

from __future__ import annotations

import asyncio

from bot.audit import GENESIS, AuditEvent, audit_hash
from bot.domain import JobSpec
from bot.ports import Job, OpenRequestExists
from bot.storage.budget import SqliteWriteBudget
from bot.storage.connection import Database
from bot.storage.jobs import SqliteJobQueue
from bot.storage.requests import SqliteRequestStore
from bot.storage.schema import MIGRATIONS, PRECHECKS, StoreError

__all__ = [
    "GENESIS", "MIGRATIONS", "PRECHECKS", "AuditEvent", "Job", "JobSpec", "OpenRequestExists",
    "Store", "StoreError", "audit_hash",
]


class Store(SqliteRequestStore, SqliteJobQueue, SqliteWriteBudget):
    """Requests, their audit trail, their jobs and the shared write budget in one SQLite
    file."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._jobs_added = asyncio.Event()
        self.path = db.path

    @classmethod
    async def open(cls, path: str) -> Store:
        return cls(await Database.open(path))

    async def close(self) -> None:
        await self._db.close()

    async def checkpoint(self) -> bool:
        """Empty the WAL into the database file (see Database.checkpoint)."""
        return await self._db.checkpoint()
