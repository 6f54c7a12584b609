"""The PostgreSQL database (asyncpg, pooled): transactions at READ COMMITTED, rows picked for a
change locked FOR UPDATE, named locks as advisory locks, and wake-ups by LISTEN/NOTIFY.

Any number of processes may share one database. Migrations run under a session advisory lock
(replicas starting together take turns; the second finds the work done). Lock keys and the
NOTIFY channel are derived from the schema the connection works in, so two bots in two schemas
of one database (the tests do this) never wait for each other.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from typing import Any, TypeAlias

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from bot.storage.connection import Record, ShieldedWrites, T, Work
from bot.storage.dialect import POSTGRES, numbered, redacted
from bot.storage.schema import StoreError, migrate

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
Conn: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[Any]"


def lock_key(schema: str, name: str) -> int:
    """A signed 64-bit advisory lock key for ``name`` in ``schema``."""
    digest = hashlib.blake2b(f"passcode-bot:{schema}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class PgTx:
    dialect = POSTGRES

    def __init__(self, conn: Conn, db: PostgresDatabase) -> None:
        self._conn = conn
        self._db = db
        self.wakes = False  # it scheduled jobs: announce them once it has committed

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        return [dict(r) for r in await self._conn.fetch(numbered(sql), *params)]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Record | None:
        row = await self._conn.fetchrow(numbered(sql), *params)
        return None if row is None else dict(row)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._conn.execute(numbered(sql), *params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = list(rows)
        if rows:
            await self._conn.executemany(numbered(sql), rows)

    async def insert_unique(self, sql: str, params: Sequence[Any]) -> bool:
        """ON CONFLICT DO NOTHING (no target: any unique key, a partial index's included)
        and the row count: one round trip, where catching the violation in a savepoint was
        three (SAVEPOINT, INSERT, RELEASE)."""
        status = await self._conn.execute(numbered(sql) + " ON CONFLICT DO NOTHING", *params)
        return not status.endswith(" 0")  # "INSERT 0 <rows>"

    async def lock(self, name: str) -> None:
        await self._conn.execute("SELECT pg_advisory_xact_lock($1)", self._db.key(name))

    async def jobs_added(self) -> None:
        self.wakes = True


async def _session_kept(conn: asyncpg.Connection) -> None:
    """What the pool does to a connection given back, beyond rolling back a transaction left
    open (asyncpg does that first): nothing. asyncpg's default resets the session (advisory
    locks, LISTEN, settings, cursors) with one more round trip after every pooled call, and
    no pooled connection here has any of them: the session locks and LISTEN take connections
    of their own, nothing SETs a session setting, and every query fetches all its rows."""


# A NOTIFY whose commit does not wait for the WAL flush (the setting is the transaction's own).
_ANNOUNCE = "SELECT set_config('synchronous_commit', 'off', true), pg_notify($1, '')"


class PostgresDatabase(ShieldedWrites):
    dialect = POSTGRES

    def __init__(self, url: str, pool: asyncpg.Pool, schema: str) -> None:
        self.url = url
        self.path = redacted(url)
        self._pool = pool
        self.schema = schema
        self.channel = f"passcode_bot_jobs_{lock_key(schema, 'jobs') & 0xFFFFFFFF:08x}"
        super().__init__()
        self._listener: asyncpg.Connection | None = None
        self._listening: asyncio.Task[None] | None = None
        self._wake: Callable[[], None] | None = None
        self._heard = False  # ``listen`` was called
        self._announcing: asyncio.Future[None] | None = None  # (``_announce``)
        self._announce_again = False
        # the acks' path's own connection (``_one_trip``), taken from the pool at its first
        # use and kept.
        self._held: PoolConnectionProxy[Any] | None = None
        self._holding = asyncio.Lock()
        self._closed = False

    def key(self, name: str) -> int:
        return lock_key(self.schema, name)

    @classmethod
    async def open(cls, url: str, *, wake: Callable[[], None] | None = None,
                   max_size: int = 10, migrated: bool = True) -> PostgresDatabase:
        """Connect and migrate under the migration lock (unless ``migrated=False``: for
        reading only, GET /readyz). ``wake`` is called whenever another process may have
        committed work, once this process listens (``listen``)."""
        try:
            pool = await asyncpg.create_pool(url, min_size=1, max_size=max_size,
                                             timeout=CONNECT_TIMEOUT_S, reset=_session_kept)
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
            raise StoreError(f"cannot connect to PostgreSQL at {redacted(url)}: "
                             f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                             ) from None
        try:
            schema = str(await pool.fetchval("SELECT current_schema()"))
            db = cls(url, pool, schema)
            if migrated:
                async with db._session() as conn:  # (its lock ends with it)
                    await conn.execute("SELECT pg_advisory_lock($1)", db.key("migrate"))
                    await migrate(db._on(conn))
            db._wake = wake
        except asyncpg.PostgresError as exc:
            await pool.close()
            raise StoreError(f"cannot prepare the PostgreSQL database at {redacted(url)}: "
                             f"{str(exc).splitlines()[0]}") from None
        except BaseException:
            await pool.close()
            raise
        return db

    def _on(self, conn: Conn) -> Callable[[Work[None]], Any]:
        async def transact(work: Work[None]) -> None:
            async with conn.transaction():
                await work(PgTx(conn, self))

        return transact

    async def listen(self) -> None:
        """From now on, ``wake`` on every NOTIFY of this database's channel (a commit that
        added work, by any process); then once at once, for what was committed before. Only
        a process that claims work calls this (its first wait): one that only acks would be
        woken by every ack and every job, its own included, for nothing. A LISTEN that fails
        is tried again every second; meanwhile the runners poll."""
        if self._wake is None or self._heard:
            return
        self._heard = True
        try:
            await self._listen()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
            log.warning("cannot listen for new jobs yet; trying again")
            self._lost()
        self._notified()

    async def _listen(self) -> None:
        """LISTEN on a connection of its own (a pooled one would be handed on). If it drops,
        a task connects again; every process's runner also polls, so no job waits forever."""
        conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_S)
        await conn.add_listener(self.channel, self._notified)
        conn.add_termination_listener(self._lost)
        self._listener = conn

    def _notified(self, *_: object) -> None:
        if self._wake is not None:
            self._wake()

    def _lost(self, *_: object) -> None:
        self._notified()  # whatever was announced meanwhile: look now
        if self._wake is not None and (self._listening is None or self._listening.done()):
            self._listening = asyncio.ensure_future(self._relisten())

    async def _relisten(self) -> None:
        while self._wake is not None:
            await asyncio.sleep(1.0)
            try:
                await self._listen()
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
                log.warning("cannot listen for new jobs yet; trying again")
                continue
            self._notified()
            return

    async def close(self) -> None:
        self._wake = None
        if self._listening is not None:
            self._listening.cancel()
        await self._writes_done()
        if self._announcing is not None:  # (the last wake-ups, sent before the pool goes)
            await asyncio.gather(self._announcing, return_exceptions=True)
        async with self._holding:  # (a statement on it finishes first)
            self._closed = True
            if self._held is not None:
                await self._pool.release(self._held)
                self._held = None
        if self._listener is not None:
            await self._listener.close()
        await self._pool.close()

    async def write(self, work: Work[T], *, bulk: bool = False) -> T:
        async def run() -> T:
            async with self._pool.acquire() as conn:
                tx = PgTx(conn, self)
                async with conn.transaction():
                    done = await work(tx)
            if tx.wakes:
                self._announce()
            return done

        return await self._shielded(run())

    async def statement(self, sql: str, params: Sequence[Any] = (), *,
                        wake: bool = False) -> list[Record]:
        """One autocommit statement, one round trip (``_one_trip``); with ``wake``, when it
        returns rows (it changed some), announced once committed. Shielded like every
        write."""
        rows = await self._shielded(self._one_trip(numbered(sql), params))
        if wake and rows:
            self._announce()
        return [dict(r) for r in rows]

    def _announce(self) -> None:
        """Wake every process waiting for work (``listen``) after a commit that added some: a
        NOTIFY of its own, sent once that commit is done, which nobody waits for. A NOTIFY in
        the committing transaction would hold PostgreSQL's one lock on the notification
        queue through that commit's WAL flush, so every commit that notifies, every ack's
        among them, would wait for the one before it instead of sharing a flush (measured at
        10 at once: half as many commits a second, each twice as long). The NOTIFY's own
        commit does not wait for the WAL (``_ANNOUNCE``): it holds no data, and a server
        that crashes loses notifications anyway. One commit after another while a NOTIFY is
        on its way: one more is sent after it, so the last commit is always announced after
        it was made. If this process dies first, or the NOTIFY fails, the runners' polls
        (every few seconds) find the work."""
        self._announce_again = True
        if self._announcing is None or self._announcing.done():
            self._announcing = asyncio.ensure_future(self._announce_all())

    async def _announce_all(self) -> None:
        while self._announce_again and not self._closed:
            self._announce_again = False
            try:
                await self._pool.execute(_ANNOUNCE, self.channel)
            except Exception:  # noqa: BLE001 - nobody awaits it; the runners' polls find the work
                log.debug("a wake-up was not sent; the runners' polls find the work")

    async def _one_trip(self, query: str, params: Sequence[Any]) -> list[asyncpg.Record]:
        """One statement on the connection kept for the acks' path when it is free (at the
        same moment, others go through the pool, whose calls cost a second round trip to
        reset the connection given back)."""
        if self._closed:
            raise asyncpg.InterfaceError("the database is closed")
        if self._holding.locked():
            return await self._pool.fetch(query, *params)
        async with self._holding:
            if self._closed:
                raise asyncpg.InterfaceError("the database is closed")
            if self._held is not None and self._held.is_closed():
                await self._pool.release(self._held)  # the server ended it
                self._held = None
            if self._held is None:
                self._held = await self._pool.acquire()
            return await self._held.fetch(query, *params)

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        return [dict(r) for r in await self._pool.fetch(numbered(sql), *params)]

    def refused(self, exc: BaseException) -> bool:
        return isinstance(exc, (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError,
                                UnicodeError))

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        """A session advisory lock, tried, not waited for, on a connection of its own (no
        pooled one: ``_session_kept``), which ends with it, and the lock with it; if its
        holder dies, its session ends too. (The walk over users.list holds it for minutes.)"""
        async with self._session() as conn:
            yield bool(await conn.fetchval("SELECT pg_try_advisory_lock($1)", self.key(name)))

    @contextlib.asynccontextmanager
    async def _session(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection outside the pool, closed (its session ended) on the way out."""
        conn = await asyncpg.connect(self.url, timeout=CONNECT_TIMEOUT_S)
        try:
            yield conn
        finally:
            await conn.close(timeout=CONNECT_TIMEOUT_S)  # (then aborted: the session ends)

    async def checkpoint(self) -> bool:
        """Make the dead row versions a purge left behind reusable space now (VACUUM), not at
        autovacuum's leisure. What was deleted was sealed (bot/vault.py) in the first place."""
        async with self._pool.acquire() as conn:
            await conn.execute("VACUUM requests")
        return True
