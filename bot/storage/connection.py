"""The two SQLite connections and how they are used: writes on one connection under an asyncio
lock, each in one shielded IMMEDIATE transaction; reads on a second connection, which WAL lets
see only committed data. Also the timestamp format every table uses."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.storage.schema import migrate

T = TypeVar("T")
Work = Callable[[aiosqlite.Connection], Awaitable[T]]


def ts(value: datetime | None) -> str | None:
    """A time as stored: UTC ISO 8601 with microseconds (sorts as text)."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Database:
    """One SQLite file (WAL), migrated when opened."""

    def __init__(self, path: str, writer: aiosqlite.Connection, reader: aiosqlite.Connection):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._lock = asyncio.Lock()
        self._writes: set[asyncio.Future[Any]] = set()

    @classmethod
    async def open(cls, path: str) -> Database:
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
            await migrate(writer)
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

    async def write(self, work: Work[T]) -> T:
        """Run ``work`` on the writer in one IMMEDIATE transaction under the writer lock.

        Shielded: a caller cancelled mid-way (shutdown, a client gone) does not cut the
        transaction in half; it commits or rolls back whole, then the cancellation goes on.
        """

        async def run() -> T:
            async with self._lock:
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    result = await work(self._writer)
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

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement in its own write transaction."""

        async def work(db: aiosqlite.Connection) -> None:
            await db.execute(sql, params)

        await self.write(work)

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        """Run a query and fetch every row in one step on the reader connection. An open
        cursor would hold its read snapshot, and overlapping ones keep an old snapshot alive:
        reads would then miss rows committed just before."""
        return list(await self._reader.execute_fetchall(sql, params))

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
