"""SQLite's write transactions on the loop's own thread (bot/storage/connection.py
``_at_once``): a transaction made only of statements runs from BEGIN to COMMIT at once; one
that waits on anything else is not half-written there and runs whole on the writer's thread
instead; one that meets another process's write lock is tried again at once, and goes to the
writer's thread only when the lock stays taken. Real database files, another process's
connection as plain sqlite3."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path

from bot.storage.connection import CHECKPOINT_EVERY, RESTART_AFTER_FRAMES, SqliteDatabase, Tx

INSERT = "INSERT INTO write_budget (bucket, taken_at) VALUES (?, ?)"


def taken(path: Path) -> list[tuple[str, str]]:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT bucket, taken_at FROM write_budget ORDER BY taken_at").fetchall()


async def test_a_transaction_that_waits_on_something_else_is_written_once_whole(
        tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    tries = 0
    try:
        async def work(tx: Tx) -> str:
            nonlocal tries
            tries += 1
            await tx.execute(INSERT, ("b", "1"))
            await asyncio.sleep(0)  # not a statement: this cannot run at once
            await tx.execute(INSERT, ("b", "2"))
            return "done"

        assert await db.write(work) == "done"
        assert tries == 2  # tried at once, given up at the sleep, run again on the writer
        assert taken(path) == [("b", "1"), ("b", "2")]
    finally:
        await db.close()


async def test_a_transaction_meeting_another_processes_write_lock_waits_and_commits_once(
        tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(INSERT, ("other", "0"))

        async def work(tx: Tx) -> None:
            await tx.execute(INSERT, ("ours", "1"))
            await tx.execute(INSERT, ("ours", "2"))

        writing = asyncio.create_task(db.write(work))
        await asyncio.sleep(0.3)
        assert not writing.done()  # waiting on the writer's thread for the lock
        other.execute("COMMIT")
        await asyncio.wait_for(writing, 10)
        assert taken(path) == [("other", "0"), ("ours", "1"), ("ours", "2")]
    finally:
        other.close()
        await db.close()


async def test_a_write_that_met_another_processes_lock_never_holds_it_between_statements(
        tmp_path: Path) -> None:
    """Tried again at once once the other process lets the lock go, not on the writer's
    thread: there it would hold the lock across every statement's hop, and the other process
    (the acks' inserts beside a worker at idle priority) would meet it in between."""
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    prober = sqlite3.connect(path, isolation_level=None, timeout=0)
    released, met = False, []

    async def probing() -> None:  # the other process again, on every turn of the loop
        while True:
            if released:
                try:
                    prober.execute("BEGIN IMMEDIATE")
                    prober.execute("ROLLBACK")
                except sqlite3.OperationalError:
                    met.append(1)
            await asyncio.sleep(0)

    async def work(tx: Tx) -> None:
        for i in range(20):
            await tx.execute(INSERT, ("ours", f"{i:03d}"))

    prober_task = asyncio.create_task(probing())
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute(INSERT, ("other", "0"))
        writing = asyncio.create_task(db.write(work))
        for _ in range(3):
            await asyncio.sleep(0)
        assert not writing.done()  # it met the lock, and waits
        other.execute("COMMIT")
        released = True
        await asyncio.wait_for(writing, 10)
        assert len(taken(path)) == 21
        assert met == []
    finally:
        prober_task.cancel()
        other.close()
        prober.close()
        await db.close()


async def test_a_failing_transaction_at_once_leaves_nothing_and_the_next_one_works(
        tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    try:
        async def failing(tx: Tx) -> None:
            await tx.execute(INSERT, ("b", "1"))
            raise LookupError("no such request")

        async def fine(tx: Tx) -> None:
            await tx.execute(INSERT, ("b", "2"))

        try:
            await db.write(failing)
        except LookupError:
            pass
        else:
            raise AssertionError("the work's error did not come through")
        await db.write(fine)
        assert taken(path) == [("b", "2")]
    finally:
        await db.close()


async def test_commits_at_once_keep_the_wal_small(tmp_path: Path) -> None:
    """The quick connection never checkpoints on its own (that would block the loop):
    every CHECKPOINT_EVERY of its commits, a thread copies the WAL back, so the WAL
    starts over instead of growing by every commit (a page or more each)."""
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    try:
        for i in range(15 * CHECKPOINT_EVERY):
            await db.statement(INSERT + " RETURNING bucket", ("b", f"{i:06d}"))
            if i % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1:
                await asyncio.sleep(0.05)  # (the checkpoint runs on a thread)
        wal = Path(f"{path}-wal").stat().st_size
        assert wal < 4 * CHECKPOINT_EVERY * 4096, wal  # without: 15x that and more
    finally:
        await db.close()


async def test_the_wal_starts_over_while_another_connection_keeps_reading(
        tmp_path: Path) -> None:
    """Writes without a pause beside a connection that reads all the time (a worker):
    a passive checkpoint copies the WAL back, but the moment in which a writer may start it
    again (all of it copied, nobody reading it) hardly ever comes, so the checkpoint starts
    it over itself (RESTART, never waiting). Without that the WAL held every frame written
    here, and every commit grew dearer."""
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    reading = threading.Event()
    stop = threading.Event()

    def reader() -> None:
        with closing(sqlite3.connect(path)) as other:
            while not stop.is_set():
                other.execute("SELECT COUNT(*) FROM write_budget").fetchone()
                reading.set()
                time.sleep(0.0005)  # (one that reads without a pause ever lets nothing go)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        reading.wait(5)
        writes = 8 * RESTART_AFTER_FRAMES
        for i in range(writes):
            await db.statement(INSERT + " RETURNING bucket", ("b", f"{i:06d}"))
            if i % 20 == 0:
                await asyncio.sleep(0)  # (a checkpoint's end on its thread comes through)
        stop.set()
        thread.join()
        with closing(sqlite3.connect(path)) as other:
            _, frames, _ = other.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        assert frames < 2 * RESTART_AFTER_FRAMES, frames  # each write adds a frame or more
    finally:
        stop.set()
        thread.join()
        await db.close()


async def test_a_transaction_whose_cleanup_fails_after_waiting_leaves_nothing_open(
        tmp_path: Path) -> None:
    """Work that waits on something else and then fails in its own cleanup: the error comes
    through, nothing of it is written, and the quick connection is not left inside its
    transaction (every later write would go into it, never committed)."""
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    try:
        async def failing(tx: Tx) -> None:
            try:
                await tx.execute(INSERT, ("b", "1"))
                await asyncio.sleep(0)
            finally:
                raise LookupError("cleanup failed")

        async def fine(tx: Tx) -> None:
            await tx.execute(INSERT, ("b", "2"))

        try:
            await db.write(failing)
        except LookupError:
            pass
        else:
            raise AssertionError("the work's error did not come through")
        await db.write(fine)
        await db.statement(INSERT + " RETURNING bucket", ("b", "3"))
        assert taken(path) == [("b", "2"), ("b", "3")]
    finally:
        await db.close()


async def test_statements_from_tasks_the_work_spawned_are_written_once(tmp_path: Path) -> None:
    """Work that runs its statements in tasks of their own (gather) waits on them, so it runs
    again on the writer; the first try's tasks, running later, must not write outside any
    transaction (they did: every row twice)."""
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    try:
        async def work(tx: Tx) -> None:
            await asyncio.gather(tx.execute(INSERT, ("b", "1")), tx.execute(INSERT, ("b", "2")),
                                 return_exceptions=True)

        await db.write(work)
        for _ in range(5):
            await asyncio.sleep(0.01)  # the first try's tasks have run by now
        assert taken(path) == [("b", "1"), ("b", "2")]
    finally:
        await db.close()


async def test_a_bulk_transaction_lets_the_loop_go_between_statements(tmp_path: Path) -> None:
    """A migration, a copy or a re-seal (``bulk``) runs on the writer's thread: run at once on
    the loop's, a long one would hold up every ack meanwhile."""
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    ticks = 0

    async def ticking() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    ticker = asyncio.create_task(ticking())
    try:
        async def work(tx: Tx) -> int:
            before = ticks
            for i in range(50):
                await tx.execute(INSERT, ("b", f"{i:03d}"))
            return ticks - before

        await asyncio.sleep(0)
        assert await db.write(work, bulk=True) > 0
        assert len(taken(path)) == 50
        assert await db.write(work) == 0  # (not bulk: at once, the loop held throughout)
    finally:
        ticker.cancel()
        await db.close()


async def test_writes_made_during_a_bulk_transaction_run_at_once_after_it(
        tmp_path: Path) -> None:
    """Queued behind a transaction on the writer's thread, each write would hold SQLite's
    write lock across its hops there, with the loop running meanwhile (a worker at idle
    priority made the acks' inserts meet it); they wait for its end and run at once instead.
    Another process trying the lock on every turn of the loop meets it only during the bulk
    transaction itself."""
    path = tmp_path / "bot.db"
    db = await SqliteDatabase.open(str(path))
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    bulk_open, inside, met_after = asyncio.Event(), asyncio.Event(), []

    async def probing() -> None:  # another process's writer, on every turn of the loop
        while True:
            try:
                other.execute("BEGIN IMMEDIATE")
                other.execute("ROLLBACK")
            except sqlite3.OperationalError:
                if not bulk_open.is_set():
                    met_after.append(1)
            await asyncio.sleep(0)

    async def bulk(tx: Tx) -> None:
        inside.set()
        for i in range(20):
            await tx.execute(INSERT, ("bulk", f"{i:03d}"))

    def one(i: int) -> Callable[[Tx], Awaitable[None]]:
        async def work(tx: Tx) -> None:
            await tx.execute(INSERT, ("one", f"{i:03d}"))
            await tx.execute(INSERT, ("two", f"{i:03d}"))
        return work

    prober = asyncio.create_task(probing())
    try:
        bulk_open.set()
        writing = asyncio.create_task(db.write(bulk, bulk=True))
        writing.add_done_callback(lambda _: bulk_open.clear())  # (committed by then)
        await inside.wait()
        await asyncio.gather(writing, *(db.write(one(i)) for i in range(10)))
        assert len(taken(path)) == 40
        assert met_after == []
    finally:
        prober.cancel()
        other.close()
        await db.close()
