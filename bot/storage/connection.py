"""What the store's code runs on, whichever the database: a ``Database`` (transactions, reads,
exclusive locks) handing out a ``Tx`` inside each write transaction. And the SQLite one: each
write in one IMMEDIATE transaction, at once on the loop's thread when it can be, else shielded
on a writer connection under an asyncio lock; reads on another connection, which WAL lets see
only committed data. Also the timestamp format."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

import aiosqlite

from bot.storage.dialect import SQLITE, Dialect
from bot.storage.schema import StoreError, migrate

T = TypeVar("T")
Record = dict[str, Any]


def ts(value: datetime | None) -> str | None:
    """A time as stored: UTC ISO 8601 with microseconds (sorts as text)."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec="microseconds")


def dt(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class Tx(Protocol):
    """One open write transaction."""

    dialect: Dialect

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Record]: ...

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Record | None: ...

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None: ...

    async def insert_unique(self, sql: str, params: Sequence[Any]) -> bool:
        """Run an INSERT; False, and the transaction goes on, when a unique key refused it."""

    async def lock(self, name: str) -> None:
        """Hold ``name`` until this transaction ends: other writers taking it wait."""

    async def jobs_added(self) -> None:
        """Jobs were scheduled: wake every waiting runner once this transaction commits."""


Work = Callable[[Tx], Awaitable[T]]


class Database(Protocol):
    dialect: Dialect
    path: str  # the SQLite file, or the PostgreSQL URL without its password

    async def write(self, work: Work[T], *, bulk: bool = False) -> T:
        """Run ``work`` in one transaction; shielded, so a cancelled caller never cuts it.
        ``bulk``: many statements (a migration, a copy, a re-seal), which SQLite then never
        runs on the event loop's thread (``SqliteDatabase.write``)."""

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        """Every row of one query; sees every write committed before it started."""

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """One statement in its own write transaction."""

    async def statement(self, sql: str, params: Sequence[Any] = (), *,
                        wake: bool = False) -> list[Record]:
        """One statement committed on its own, at the least cost the database allows: the
        rows it returns (``RETURNING``). ``wake``: wake every waiting runner once it is
        committed."""

    async def listen(self) -> None:
        """Be woken (the runners' waits) by other processes' commits of work from now on;
        called by the first wait, so a process that claims nothing (one that only acks)
        never hears them."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """True inside when no other process of this database holds ``name``; False (do not
        do the work) when one does."""

    def refused(self, exc: BaseException) -> bool:
        """Whether ``exc`` says the database refused what it was sent (a constraint, a value
        it cannot hold), not that it was out of reach or busy."""

    async def checkpoint(self) -> bool: ...

    async def close(self) -> None: ...


class _SqliteTransaction:
    """What both SQLite transactions share (on the writer's thread, ``SqliteTx``; at once on
    the loop's, ``QuickTx``): each says only how it runs a statement."""

    dialect = SQLITE

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    async def insert_unique(self, sql: str, params: Sequence[Any]) -> bool:
        try:
            await self.execute(sql, params)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" not in str(exc):
                raise
            return False
        return True

    async def lock(self, name: str) -> None:
        """Nothing to do: an IMMEDIATE transaction already holds the one write lock."""

    async def jobs_added(self) -> None:
        """Nothing to do: the store wakes its own runner (one process per SQLite file)."""


class SqliteTx(_SqliteTransaction):
    def __init__(self, db: aiosqlite.Connection) -> None:
        self._db = db

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        return [dict(r) for r in await self._db.execute_fetchall(sql, params)]

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Record | None:
        async with self._db.execute(sql, params) as cur:
            row = await cur.fetchone()
        return None if row is None else dict(row)

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self._db.execute(sql, params)

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        await self._db.executemany(sql, rows)


class QuickTx(_SqliteTransaction):
    """A write transaction on the quick connection (``SqliteDatabase.write``): every method
    runs at once on the loop's thread, so work given only these to wait on runs from BEGIN to
    COMMIT without ever letting the loop go."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.live = True  # until its transaction ends: a statement after it would autocommit

    def _open(self) -> sqlite3.Connection:
        if not self.live:  # e.g. a task the work spawned, running after it fell back
            raise RuntimeError("a statement after its transaction ended")
        return self._db

    async def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        return _rows(self._open(), sql, params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Record | None:
        rows = _rows(self._open(), sql, params)
        return rows[0] if rows else None

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._open().execute(sql, params).close()

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._open().executemany(sql, rows).close()


def _rows(db: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[Record]:
    cursor = db.execute(sql, params)
    try:
        rows = cursor.fetchall()
        names = [c[0] for c in cursor.description or ()]
    finally:
        cursor.close()
    return [dict(zip(names, row, strict=True)) for row in rows]


class ShieldedWrites:
    """What both databases' ``write`` share: a transaction runs as a task of its own and is
    shielded, so a caller cancelled mid-way (shutdown, a client gone) does not cut it in half
    (it commits or rolls back whole, then the cancellation goes on); ``close`` waits for the
    ones still running."""

    def __init__(self) -> None:
        self._writes: set[asyncio.Future[Any]] = set()

    async def _shielded(self, transaction: Awaitable[T]) -> T:
        task = asyncio.ensure_future(transaction)
        self._writes.add(task)
        task.add_done_callback(self._writes.discard)
        return await asyncio.shield(task)

    async def _writes_done(self) -> None:
        if self._writes:  # let shielded transactions finish before the connection goes
            await asyncio.gather(*self._writes, return_exceptions=True)

    async def write(self, work: Work[T], *, bulk: bool = False) -> T:
        raise NotImplementedError  # each database's own transaction

    async def statement(self, sql: str, params: Sequence[Any] = (), *,
                        wake: bool = False) -> list[Record]:
        raise NotImplementedError  # each database's own

    async def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        await self.statement(sql, params)


# How many commits on the quick connection between two checkpoints off the loop (SQLite's own
# automatic one comes at 1,000 pages of WAL: a commit of ours is a few pages).
CHECKPOINT_EVERY = 200
# The WAL is started over (``_checkpoint_now``) once it holds this many frames (4 MB of 4 KB
# pages; an insert's cost grew with the WAL by about 2 us a thousand frames), and while a
# reader or a writer is in the way, tried again after these pauses: a worker's reads leave it
# gaps of a millisecond or so.
RESTART_AFTER_FRAMES = 1000
RESTART_PAUSES_S = (0.001,) * 9 + (0.0,)

# A write's pauses on this thread between tries while another process holds the write lock,
# ~1 ms in all, blocking: the other's transaction is statements run at once, and most end
# within them. Blocking because the loop cannot wait less: an asyncio sleep under 1 ms lasts
# at least 1 ms (epoll's timeout is in whole milliseconds, rounded up), so waits that met the
# lock came out at ~0.5, 1.7 and 2.9 ms (measured: with these pauses, inserts in the reset
# benchmark at c=1 and c=10 that met the lock fell from ~100 of 2,400 to 19, most waiting
# under 1.2 ms).
HOLD_PAUSES_S = (0.00005, 0.0001, 0.0001, 0.0002, 0.0002, 0.0002, 0.0002)
# Then pauses that let the loop go on, about 46 ms in all; then the writer's thread waits with
# the busy timeout.
QUICK_PAUSES_S = (0.001, 0.001, 0.002, 0.002, *(0.005,) * 8)


def _idle_priority() -> bool:
    """Whether this thread runs at idle CPU priority (the worker beside the acks)."""
    return hasattr(os, "sched_getscheduler") and os.sched_getscheduler(0) == os.SCHED_IDLE


def _quick(path: str) -> sqlite3.Connection:
    """The connection ``statement`` and ``write`` use on the event loop's thread: autocommit,
    a busy timeout of 0 (it must never block the loop), and no automatic checkpoint (copying
    the WAL into the database would; a thread of its own does it, ``_wrote``)."""
    quick = sqlite3.connect(path, isolation_level=None)
    # (the busy timeout last: setting the others may meet another process's lock and wait)
    for pragma in ("wal_autocheckpoint=0", "synchronous=NORMAL", "secure_delete=ON",
                   "busy_timeout=0"):
        quick.execute(f"PRAGMA {pragma}")
    return quick


async def _wal(writer: aiosqlite.Connection) -> None:
    """Put the file in WAL mode (it stays so). The switch takes a lock SQLite does not wait
    for (no busy timeout): opened while another process is writing, it tries again."""
    for pause in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 0.0):
        try:
            async with writer.execute("PRAGMA journal_mode=WAL") as cursor:
                row = await cursor.fetchone()
            if row is not None and str(row[0]).lower() in ("wal", "memory"):
                return
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        await asyncio.sleep(pause)
    raise StoreError("could not put the SQLite database in WAL mode: another process keeps "
                     "it locked")


class _Busy(Exception):
    """Another process holds SQLite's write lock: nothing was written."""


def _busy(exc: sqlite3.OperationalError) -> bool:
    """SQLITE_BUSY or SQLITE_LOCKED, extended codes included."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


def _when_free(attempt: Callable[[], T], pauses: Sequence[float] = HOLD_PAUSES_S) -> T:
    """``attempt()`` (a statement that takes the write lock), tried again after each of
    ``pauses`` while another process holds the lock; then ``_Busy``."""
    for pause in (*pauses, None):
        try:
            return attempt()
        except sqlite3.OperationalError as exc:
            if not _busy(exc):
                raise
        if pause is None:
            raise _Busy
        time.sleep(pause)
    raise AssertionError("unreachable")


class SqliteDatabase(ShieldedWrites):
    """One SQLite file (WAL), migrated when opened."""

    dialect = SQLITE

    def __init__(self, path: str, writer: aiosqlite.Connection, reader: aiosqlite.Connection,
                 quick: sqlite3.Connection | None = None):
        self.path = path
        self._writer = writer
        self._reader = reader
        self._quick = quick
        self._lock = asyncio.Lock()
        self._quick_commits = 0
        self._checkpointing: asyncio.Future[None] | None = None
        self._checkpointer: sqlite3.Connection | None = None  # opened on its thread, kept
        super().__init__()

    @classmethod
    async def open(cls, path: str, *, migrated: bool = True) -> SqliteDatabase:
        """``migrated=False``: as it is, for reading only (GET /readyz)."""
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:  # first here: aiosqlite's thread would outlive a failed connect with a traceback
            sqlite3.connect(path).close()
        except sqlite3.OperationalError as exc:  # a directory, a path it may not write
            raise StoreError(f"cannot open the SQLite database at {path}: {exc}") from None
        writer = await aiosqlite.connect(path, isolation_level=None)
        reader: aiosqlite.Connection | None = None
        try:  # (a connection left open keeps its thread, and the process, alive)
            writer.row_factory = aiosqlite.Row
            await _wal(writer)
            await writer.execute("PRAGMA synchronous=NORMAL")
            await writer.execute("PRAGMA busy_timeout=5000")
            # Deleted content is overwritten with zeros, so a purged passcode leaves no bytes
            # behind in free space of the database file (checkpoint() then empties the WAL).
            await writer.execute("PRAGMA secure_delete=ON")
            reader = await aiosqlite.connect(path, isolation_level=None)
            reader.row_factory = aiosqlite.Row
            await reader.execute("PRAGMA busy_timeout=5000")
            quick = None if path == ":memory:" else _quick(path)
        except BaseException:
            for connection in (writer, reader):
                if connection is not None:
                    await connection.close()
            raise
        db = cls(path, writer, reader, quick)
        try:
            if migrated:
                await migrate(functools.partial(db.write, bulk=True))
        except BaseException:
            await db.close()
            raise
        return db

    async def close(self) -> None:
        await self._writes_done()
        if self._checkpointing is not None:
            await self._checkpointing
        if self._checkpointer is not None:
            self._checkpointer.close()
        if self._quick is not None:
            self._quick.close()
        await self._reader.close()
        await self._writer.close()

    async def write(self, work: Work[T], *, bulk: bool = False) -> T:
        """Run ``work`` in one IMMEDIATE transaction: at once on the quick connection when it
        can (``_at_once``) and is not ``bulk`` (a long one would hold the loop), else on the
        writer under the writer lock. While a transaction of the writer's is open, a write
        waits for its end and then runs at once: queued behind it on the writer's thread, each
        would hold SQLite's write lock across its hops, and the next ones would queue behind
        that (measured in a worker beside the acks: one write in nine went that way, at idle
        priority, and the acks' inserts met the lock three times in a hundred). For the same
        reason a write that meets another process's lock is tried again at once, first after
        ``HOLD_PAUSES_S`` and then after pauses that let the loop go on (``QUICK_PAUSES_S``),
        and goes to the writer's thread, whose busy timeout waits longer, only after them:
        there it would take the lock the moment the other let it go and hold it across every
        hop, and the other process's writes would then wait on it in turn.

        Shielded: a caller cancelled mid-way (shutdown, a client gone) does not cut the
        transaction in half; it commits or rolls back whole, then the cancellation goes on.
        """
        if self._quick is not None and not bulk:
            for n, pause in enumerate(QUICK_PAUSES_S):
                while self._lock.locked():  # its transaction holds SQLite's write lock: after it
                    async with self._lock:
                        pass
                try:
                    for result in self._at_once(self._quick, work, first=n == 0):
                        return result
                    break  # it waited on something else: on the writer, from the start
                except _Busy:
                    await asyncio.sleep(pause)

        async def run() -> T:
            async with self._lock:
                await self._writer.execute("BEGIN IMMEDIATE")
                try:
                    result = await work(SqliteTx(self._writer))
                except BaseException:
                    if self._writer.in_transaction:
                        await self._writer.execute("ROLLBACK")
                    raise
                await self._writer.execute("COMMIT")
                return result

        return await self._shielded(run())

    def _at_once(self, quick: sqlite3.Connection, work: Work[T], *, first: bool = True
                 ) -> list[T]:
        """Run ``work`` in one IMMEDIATE transaction on the quick connection, from BEGIN to
        COMMIT without letting the loop go: [its result]. Or [], nothing written, when
        ``work`` waited on anything but this transaction (it then runs again on the writer,
        from the start: work is only ever statements). ``_Busy``, nothing written, when
        another process holds the write lock.

        Why: on the writer's thread every statement of a transaction is a hop there and back
        (~250 µs), and the write lock is held across them. A worker at idle priority beside
        the acks loses the CPU between hops, holding the lock the acks' inserts wait for; run
        at once, it holds it only for the statements' own microseconds."""
        _when_free(lambda: quick.execute("BEGIN IMMEDIATE"), HOLD_PAUSES_S if first else ())
        tx = QuickTx(quick)
        steps = work(tx).__await__()
        try:
            try:
                steps.send(None)
            except StopIteration as finished:
                quick.execute("COMMIT")
                self._wrote()
                return [finished.value]
            steps.close()  # it waited on something else: not here
            return []
        finally:
            tx.live = False
            # as on the writer: SQLite may have rolled back already (and then a ROLLBACK
            # would raise over the error that made it)
            if quick.in_transaction:
                quick.execute("ROLLBACK")

    def _wrote(self) -> None:
        """A commit on the quick connection, which never checkpoints (copying the WAL into
        the database would block the loop): every CHECKPOINT_EVERY of them, a connection of
        its own on a thread checkpoints (``_checkpoint_now``; on the reader's thread, reads
        would queue behind it)."""
        self._quick_commits += 1
        if self._quick_commits % CHECKPOINT_EVERY == 0 and (
                self._checkpointing is None or self._checkpointing.done()):
            self._checkpointing = asyncio.ensure_future(self._checkpoint_off_loop())

    async def _checkpoint_off_loop(self) -> None:
        with contextlib.suppress(sqlite3.Error):  # (the WAL still copied next time)
            await asyncio.to_thread(self._checkpoint_now)  # (one at a time: _checkpointing)

    def _checkpoint_now(self) -> None:
        """Copy the WAL into the database, then let the next writer start it again from its
        first frame. First PASSIVE, which copies what it can and waits for nobody. Then
        RESTART, which copies the few frames committed meanwhile and resets the WAL if no
        reader is still reading it; it holds the write lock for that short while and, with
        a busy timeout of 0, waits for nothing: a reader or a writer in the way, it tries
        again after each of RESTART_PAUSES_S, and then next time. Only once the WAL holds
        RESTART_AFTER_FRAMES, and never at idle priority: the worker's thread, preempted by
        the acks while it held the write lock, held their inserts up with it (in the reset
        benchmark at c=50, 18 of the worker's 40 restarts took 5 to 23 ms).

        Without RESTART the WAL grew without end beside a worker: a writer starts the WAL
        again only if it found it wholly copied with nobody reading it, and with acks and
        a worker writing and reading all the time that moment hardly ever came. An ack's
        insert then cost more the longer the WAL was (measured in the reset benchmark: the
        WAL at 35,000 frames after 2,000 resets, the insert's p50 131 us; with RESTART
        under 4,000 frames and 68 us)."""
        if self._checkpointer is None:
            self._checkpointer = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
        checkpointer = self._checkpointer
        _, frames, _ = checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if frames < RESTART_AFTER_FRAMES or _idle_priority():
            return
        for pause in RESTART_PAUSES_S:  # (on this thread: the loop waits for none of them)
            busy, *_ = checkpointer.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()
            if not busy:
                return
            time.sleep(pause)

    async def statement(self, sql: str, params: Sequence[Any] = (), *,
                        wake: bool = False) -> list[Record]:
        """On this thread, when no write of ours is open: one autocommit statement on the quick
        connection costs ~15 µs, where aiosqlite's hop to its thread and back costs ~250 µs
        and a transaction of its own four such hops (measured on the 2-core machine). It blocks
        this thread for about 2 ms at the most: another process holding the write lock answers
        SQLITE_BUSY at once (a busy timeout of 0); it is tried again after ``HOLD_PAUSES_S``
        (~1 ms in all), and then as a ``write`` (whose first try pauses as long again, and
        whose later ones come after pauses that let this loop go on: SQLite's own busy wait
        sleeps 1, 2, 5, 10 ms between tries, which was most of an ack's p99 beside a busy
        worker). ``wake`` asks nothing here (one process per SQLite file)."""
        quick = self._quick
        if quick is not None and not self._lock.locked():
            with contextlib.suppress(_Busy):
                rows = _when_free(lambda: _rows(quick, sql, params))
                self._wrote()
                return rows

        async def work(tx: Tx) -> list[Record]:
            return await tx.fetch(sql, params)

        return await self.write(work)

    async def read(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        """Run a query and fetch every row in one step on the reader connection. An open
        cursor would hold its read snapshot, and overlapping ones keep an old snapshot alive:
        reads would then miss rows committed just before."""
        return [dict(r) for r in await self._reader.execute_fetchall(sql, params)]

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[bool]:
        yield True  # one process per SQLite file

    async def listen(self) -> None:
        """Nothing to start: the inbox's wait reads the file's ``data_version`` as it goes
        (another process's commit changes it) and wakes the job runner too."""

    def refused(self, exc: BaseException) -> bool:
        return isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError, UnicodeError,
                                OverflowError))

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
