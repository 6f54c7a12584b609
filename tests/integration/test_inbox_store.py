"""The durable inbox on both databases (the ``database_url`` fixture), through two stores on one
database as two processes would: a delivery key is added once, whichever store adds it; a claim
never overlaps another; an item whose claimer died comes back once its lease runs out; an item
the acking process runs itself is not taken unless its lease runs out; and a worker waiting on
one store is woken by an item another store added."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from bot.storage import Store
from bot.storage.dialect import is_postgres_url, numbered
from handlers.runtime.inbox import Claim, keep_lease
from tests.databases import count, rows

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def test_a_delivery_is_added_once_across_two_stores(database_url: str) -> None:
    one, two = await Store.open(database_url), await Store.open(database_url)
    try:
        assert not await two.delivered("body:abc")
        results = await asyncio.gather(
            one.add_to_inbox("body:abc", "ResetCommand", "{}", NOW),
            two.add_to_inbox("body:abc", "ResetCommand", "{}", NOW))
        assert sorted(r is None for r in results) == [False, True]
        assert await one.delivered("body:abc") and await two.delivered("body:abc")
        assert await one.inbox_pending() == 1
    finally:
        await one.close()
        await two.close()


async def test_claims_never_overlap_and_a_dead_claimers_items_come_back(database_url: str) -> None:
    one, two = await Store.open(database_url), await Store.open(database_url)
    try:
        for i in range(30):
            await one.add_to_inbox(f"k{i}", "HomeOpened", "{}", NOW)
        a, b = await asyncio.gather(one.claim_inbox(NOW, 30, limit=20),
                                    two.claim_inbox(NOW, 30, limit=20))
        ids_a, ids_b = {i.id for i in a}, {i.id for i in b}
        assert not ids_a & ids_b and len(ids_a | ids_b) == 30
        assert await two.claim_inbox(NOW + timedelta(seconds=29), 30) == []
        for item in a:
            await one.finish_inbox(item.id, NOW, item.attempts)
        # ``one`` died holding nothing; ``two`` died holding b: after the lease, b is due again
        again = await one.claim_inbox(NOW + timedelta(seconds=31), 30, limit=50)
        assert {i.id for i in again} == ids_b and all(i.attempts == 2 for i in again)
    finally:
        await one.close()
        await two.close()


async def test_a_claim_taken_over_can_neither_renew_nor_finish(database_url: str) -> None:
    """A worker that stalled past its lease while another claimed the item (on another
    replica, or the acking process's own item taken over): its renewal says the claim is
    over and changes nothing, and its finish does not mark done what the other runs. The
    other's claim renews and finishes as ever."""
    one, two = await Store.open(database_url), await Store.open(database_url)
    try:
        here = await one.add_to_inbox("click", "Reveal", "{}", NOW, here_lease_s=10.0)
        await one.add_to_inbox("command", "StatusCommand", "{}", NOW)
        [first] = await one.claim_inbox(NOW, 20)
        later = NOW + timedelta(seconds=30)  # both leases have run out
        taken = {i.id: i for i in await two.claim_inbox(later, 20)}
        assert set(taken) == {here, first.id}
        for item_id, stale in ((here, 0), (first.id, first.attempts)):
            assert not await one.renew_inbox(item_id, later + timedelta(seconds=60), stale)
            await one.finish_inbox(item_id, later, stale)
        lease = "SELECT lease_until FROM inbox WHERE id = ?"
        assert count(database_url, "SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == 2
        assert rows(database_url, lease, here) == rows(database_url, lease, first.id)  # two's
        assert await two.claim_inbox(later + timedelta(seconds=1), 20) == []
        for item in taken.values():
            assert await two.renew_inbox(item.id, later + timedelta(seconds=60), item.attempts)
            await two.finish_inbox(item.id, later, item.attempts)
        assert count(database_url, "SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == 0
        assert not await two.renew_inbox(here, later, taken[here].attempts)  # done: over
    finally:
        await one.close()
        await two.close()


async def test_an_item_run_by_its_acking_process_is_taken_over_only_after_its_lease(
        database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        mine = await store.add_to_inbox("reveal", "Reveal", "{}", NOW, here_lease_s=20)
        assert mine is not None
        await store.release_inbox_leases()  # a worker starting meanwhile leaves it alone
        assert await store.claim_inbox(NOW + timedelta(seconds=10), 30) == []
        taken = await store.claim_inbox(NOW + timedelta(seconds=21), 30)
        assert [i.id for i in taken] == [mine]
    finally:
        await store.close()


async def test_a_waiting_worker_is_woken_by_another_stores_item(database_url: str) -> None:
    web, worker = await Store.open(database_url), await Store.open(database_url)
    try:
        await worker.wait_for_inbox(0.01)  # (SQLite: the first look learns the version)
        waiting = asyncio.create_task(worker.wait_for_inbox(30.0))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await web.add_to_inbox("k", "HomeOpened", "{}", NOW)
        await asyncio.wait_for(waiting, 10.0)  # long before the 30 s timeout
        assert [i.kind for i in await worker.claim_inbox(NOW, 30)] == ["HomeOpened"]
    finally:
        await web.close()
        await worker.close()


async def test_a_worker_is_woken_for_the_last_of_many_acks_in_a_row(database_url: str) -> None:
    """The last of acks committed one after another wakes a waiting worker (on PostgreSQL a
    NOTIFY sent after each commit, none in it): the worker waits up to 600 s between looks,
    so only wake-ups can make it claim every burst in time."""
    web, worker = await Store.open(database_url), await Store.open(database_url)
    try:
        await worker.wait_for_inbox(0.01)  # (PostgreSQL: listening; SQLite: the version)

        async def work(n: int) -> int:
            claimed = 0
            while claimed < n:
                claimed += len(await worker.claim_inbox(NOW, 30, limit=n))
                if claimed < n:
                    await worker.wait_for_inbox(600.0)
            return claimed

        for burst in range(10):
            working = asyncio.create_task(work(10))
            for i in range(10):
                await web.add_to_inbox(f"k{burst}-{i}", "HomeOpened", "{}", NOW)
            assert await asyncio.wait_for(working, 60.0) == 10  # (a guard against a hang)
    finally:
        await web.close()
        await worker.close()


async def test_done_items_are_purged_and_open_ones_kept(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        old = await store.add_to_inbox("old", "HomeOpened", "{}", NOW)
        await store.add_to_inbox("open", "HomeOpened", "{}", NOW)
        assert old is not None
        await store.finish_inbox(old, NOW, 0)  # (never claimed: the acking process's)
        await store.purge_inbox(NOW + timedelta(seconds=1))
        assert not await store.delivered("old") and await store.delivered("open")
    finally:
        await store.close()


async def test_an_ack_meeting_another_writer_waits_for_it_and_is_committed_once(
        database_url: str) -> None:
    """The ack's insert (``add_row``) meets another process's open write: on SQLite the
    write lock, which sends it from its quick path to the writer's thread to wait; on
    PostgreSQL an uncommitted row of the same delivery. It waits, then gives the right answer
    for what that writer did: None after the same delivery was committed, a new id after a
    rollback, and never an error."""
    store = await Store.open(database_url)
    sql = "INSERT INTO inbox (delivery, kind, item, here, created_at) VALUES (?,?,?,?,?)"
    try:
        for outcome in ("COMMIT", "ROLLBACK"):
            delivery = f"body:{outcome}"
            other = await _OtherWriter.open(database_url)
            await other.execute("BEGIN")
            await other.execute(sql, (delivery, "ResetCommand", "{}", 0, "2026"))
            adding = asyncio.create_task(store.add_to_inbox(delivery, "ResetCommand", "{}", NOW))
            await asyncio.sleep(0.3)
            assert not adding.done()  # it waits for the other writer
            await other.execute(outcome)
            await other.close()
            added = await asyncio.wait_for(adding, 10.0)
            assert (added is None) == (outcome == "COMMIT")
            assert await store.delivered(delivery)
        assert await store.inbox_pending() == 2
    finally:
        await store.close()


class _OtherWriter:
    """Another process's connection to the test database, plain SQL (``?`` placeholders)."""

    def __init__(self, sqlite: sqlite3.Connection | None, pg: asyncpg.Connection | None) -> None:
        self._sqlite, self._pg = sqlite, pg

    @classmethod
    async def open(cls, url: str) -> _OtherWriter:
        if is_postgres_url(url):
            return cls(None, await asyncpg.connect(url))
        # BEGIN as IMMEDIATE: the write lock at once, as another process's transaction holds it
        return cls(sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None), None)

    async def execute(self, sql: str, params: tuple[object, ...] = ()) -> None:
        if self._pg is not None:
            await self._pg.execute(numbered(sql), *params)
        else:
            assert self._sqlite is not None
            self._sqlite.execute("BEGIN IMMEDIATE" if sql == "BEGIN" else sql, params)

    async def close(self) -> None:
        if self._pg is not None:
            await self._pg.close()
        if self._sqlite is not None:
            self._sqlite.close()


async def test_an_item_whose_lease_is_kept_is_not_taken_over_until_it_stops(
        database_url: str) -> None:
    """The acking process renews the lease of what it runs itself (handlers/runtime/inbox.py
    ``keep_lease``), as a worker does: a slow item is not run a second time elsewhere."""
    store = await Store.open(database_url)
    try:
        item = await store.add_to_inbox("slow-reveal", "Reveal", "{}", datetime.now(UTC),
                                        here_lease_s=0.6)
        assert item is not None
        keeping = asyncio.create_task(keep_lease(store, item, 0.6, Claim(0)))
        await asyncio.sleep(1.5)  # over twice the lease
        assert await store.claim_inbox(datetime.now(UTC), 30) == []
        keeping.cancel()
        await asyncio.sleep(0.8)  # the last renewal runs out
        assert [i.id for i in await store.claim_inbox(datetime.now(UTC), 30)] == [item]
    finally:
        await store.close()


def wal_frames(database_url: str) -> int:
    """How many pages SQLite's WAL file has held since it was last emptied (each commit
    appends the pages it changed)."""
    path = Path(database_url.removeprefix("sqlite:///") + "-wal")
    return max(path.stat().st_size - 32, 0) // (4096 + 24) if path.exists() else 0


async def test_acks_made_together_are_committed_together(database_url: str) -> None:
    """250 acks at once: three statements (ADD_TOGETHER a statement), not 250 commits; each
    caller still gets its own item's id."""
    store = await Store.open(database_url)
    try:
        before = 0 if is_postgres_url(database_url) else wal_frames(database_url)
        ids = await asyncio.gather(*(store.add_to_inbox(f"k{i}", "HomeOpened", "{}", NOW)
                                     for i in range(250)))
        assert None not in ids and len(set(ids)) == 250
        assert rows(database_url, "SELECT delivery FROM inbox WHERE id = ?", ids[7]) == [("k7",)]
        if is_postgres_url(database_url):  # a row's xmin: the transaction that wrote it
            assert count(database_url, "SELECT COUNT(DISTINCT xmin::text) FROM inbox") == 3
        else:  # one commit each wrote three pages or more apiece: 750 frames at least
            assert wal_frames(database_url) - before < 60
    finally:
        await store.close()


async def test_one_delivery_added_twice_in_one_turn_is_added_once(database_url: str) -> None:
    store = await Store.open(database_url)
    try:
        ids = await asyncio.gather(*(store.add_to_inbox(key, "ResetCommand", "{}", NOW)
                                     for key in ("body:a", "body:b", "body:a", "body:a")))
        assert ids[1] is not None and ids[0] is not None and ids[2:] == [None, None]
        assert count(database_url, "SELECT COUNT(*) FROM inbox") == 2
    finally:
        await store.close()


REFUSED = [
    ("body:bad", None),  # no kind: a constraint
    ("event:a\x00", "ResetCommand"),  # NUL: SQLite's JSON would cut it to "event:a"
    ("event:a\x00b", "ResetCommand"),
    ("event:\ud800", "ResetCommand"),  # a lone surrogate: no UTF-8 text at all
    ("body:fine", "Reset\x00Command"),
]


@pytest.mark.parametrize(("delivery", "kind"), REFUSED)
async def test_an_item_the_database_refuses_alone_is_refused_and_leaves_nothing(
        database_url: str, delivery: str, kind: str) -> None:
    """One item alone goes in as a VALUES list, not as JSON: it is refused as it would be
    among others (both databases alike: SQLite would keep a NUL that PostgreSQL refuses),
    and the next one is added as ever."""
    store = await Store.open(database_url)
    try:
        with pytest.raises(Exception) as refused:
            await store.add_to_inbox(delivery, kind, "{}", NOW)
        assert store.database.refused(refused.value), refused.value
        assert count(database_url, "SELECT COUNT(*) FROM inbox") == 0
        assert isinstance(await store.add_to_inbox("event:a", "ResetCommand", "{}", NOW), int)
        assert rows(database_url, "SELECT delivery, kind FROM inbox") == [
            ("event:a", "ResetCommand")]
    finally:
        await store.close()


@pytest.mark.parametrize(("delivery", "kind"), REFUSED)
async def test_an_item_the_database_refuses_fails_its_own_ack_only(
        database_url: str, delivery: str, kind: str) -> None:
    """Committed together, one item the database refuses must not take the acks beside it
    down with it, nor become one of them: each of those gets its own id, and the database
    holds them, readable, and nothing of the refused one."""
    store = await Store.open(database_url)
    try:
        answers = await asyncio.gather(
            store.add_to_inbox("event:a", "ResetCommand", "{}", NOW),
            store.add_to_inbox(delivery, kind, "{}", NOW),
            store.add_to_inbox("event:c", "ResetCommand", "{}", NOW), return_exceptions=True)
        assert isinstance(answers[1], Exception)
        assert isinstance(answers[0], int) and isinstance(answers[2], int)
        assert rows(database_url, "SELECT id, delivery, kind FROM inbox ORDER BY delivery") == [
            (answers[0], "event:a", "ResetCommand"), (answers[2], "event:c", "ResetCommand")]
    finally:
        await store.close()


async def test_an_item_travels_into_the_inbox_byte_for_byte(database_url: str) -> None:
    """The rows of one commit go to the database as one JSON parameter: whatever an item
    holds (quotes, backslashes, a newline, a snowman, an emoji, JSON of its own) comes back
    exactly, with its lease and ``here`` as given."""
    item = '{"text":"a \\"quoted\\" back\\\\slash\\nline ☃ 🔐","n":1}'
    store = await Store.open(database_url)
    try:
        here, there = await asyncio.gather(
            store.add_to_inbox("body:'odd\"key\\", "Reveal", item, NOW, here_lease_s=10.0),
            store.add_to_inbox("body:plain", "ResetCommand", item, NOW))
        assert rows(database_url, "SELECT delivery, kind, item, here FROM inbox ORDER BY delivery"
                    ) == [("body:'odd\"key\\", "Reveal", item, 1),
                          ("body:plain", "ResetCommand", item, 0)]
        leases = dict(rows(database_url, "SELECT id, lease_until FROM inbox"))
        assert leases[there] is None and leases[here] is not None
        claimed = await store.claim_inbox(NOW, 20.0)
        assert [(c.id, c.item) for c in claimed] == [(there, item)]
        alone = await store.add_to_inbox("body:alone 'x\"", "ResetCommand", item, NOW)
        assert rows(database_url, "SELECT delivery, item FROM inbox WHERE id = ?", alone) == [
            ("body:alone 'x\"", item)]  # (alone: a VALUES list, not JSON)
    finally:
        await store.close()
