"""Storage: requests, the audit trail and the durable job queue, in SQLite (aiosqlite, WAL; the
embedded default) or PostgreSQL (asyncpg; any number of processes on one database).

Split by concern: ``dialect`` (where the two differ), ``schema`` (the migrations both run),
``connection`` (the Database and transaction interface, and SQLite's), ``postgres``
(PostgreSQL's), ``requests`` (rows and their transitions), ``audit`` (the hash chain),
``jobs`` (the queue), ``copy`` (`migrate-store`). ``Store`` is the one object that serves both
ports, RequestStore and JobQueue, over one database.
"""

from __future__ import annotations

import asyncio
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from bot.audit import GENESIS, AuditEvent, audit_hash
from bot.domain import JobSpec
from bot.ports import Job, OpenRequestExists
from bot.storage.budget import SqlWriteBudget
from bot.storage.connection import Database, SqliteDatabase
from bot.storage.dialect import is_postgres_url
from bot.storage.health import SqlHeartbeats
from bot.storage.inbox import SqlInbox
from bot.storage.jobs import SqlJobQueue
from bot.storage.locales import SqlLocales
from bot.storage.requests import SqlRequestStore
from bot.storage.schema import MIGRATIONS, PRECHECKS, StoreError

__all__ = [
    "GENESIS", "MIGRATIONS", "PRECHECKS", "AuditEvent", "Job", "JobSpec", "OpenRequestExists",
    "Store", "StoreError", "audit_hash",
]


class Store(SqlRequestStore, SqlJobQueue, SqlWriteBudget, SqlHeartbeats, SqlInbox, SqlLocales):
    """Requests, their audit trail, their jobs, the shared write budget, the job runners'
    heartbeats, the durable inbox and the people's locales in one database."""

    def __init__(self, db: Database, jobs_added: asyncio.Event | None = None,
                 inbox_added: asyncio.Event | None = None) -> None:
        self._db = db
        self._jobs_added = jobs_added or asyncio.Event()
        self._inbox_added = inbox_added or asyncio.Event()
        self._data_version: int | None = None
        self._adding = []
        self._committing = None
        self.path = db.path  # the SQLite file, or the PostgreSQL URL without its password

    @classmethod
    async def open(cls, target: str) -> Store:
        """Open (and migrate) the database ``target`` names: a postgresql:// or postgres://
        URL, a sqlite:/// URL, or the path of a SQLite file."""
        if is_postgres_url(target):
            from bot.storage.postgres import PostgresDatabase

            jobs, inbox = asyncio.Event(), asyncio.Event()

            def woken() -> None:  # one channel for both: a spurious wake-up costs one claim
                jobs.set()
                inbox.set()

            return cls(await PostgresDatabase.open(target, wake=woken), jobs, inbox)
        return cls(await SqliteDatabase.open(target.removeprefix("sqlite:///")))

    @classmethod
    async def open_small(cls, target: str) -> Store:
        """The database as it is (not migrated), on at most two connections and without the
        jobs' wake-ups: for reading how things stand (GET /readyz) beside a process's own
        store."""
        if is_postgres_url(target):
            from bot.storage.postgres import PostgresDatabase

            return cls(await PostgresDatabase.open(target, max_size=2, migrated=False))
        path = target.removeprefix("sqlite:///")
        if path != ":memory:" and not Path(path).is_file():  # (not created by looking)
            raise StoreError(f"no database file at {path}")
        return cls(await SqliteDatabase.open(path, migrated=False))

    @property
    def database(self) -> Database:
        """The database itself (`migrate-store` copies tables through it)."""
        return self._db

    @property
    def dialect(self) -> str:
        """"sqlite" or "postgresql"."""
        return self._db.dialect.name

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """True inside when no other process on this database is doing ``name`` (the expiry
        sweep): on PostgreSQL an advisory lock; on SQLite always (one process per file)."""
        return self._db.exclusive(name)

    async def close(self) -> None:
        if self._committing is not None:  # acks waiting for their commit (not cancelled)
            await asyncio.wait({self._committing})
        await self._db.close()

    async def checkpoint(self) -> bool:
        """Make content deleted so far unrecoverable from the database's files (SQLite:
        empty the WAL; PostgreSQL: VACUUM)."""
        return await self._db.checkpoint()
