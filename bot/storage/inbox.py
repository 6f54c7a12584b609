"""The durable inbox (issue 13): every command, click and submission's work, committed before
Slack gets its ack, then claimed by a worker like a job (leased; on PostgreSQL with FOR UPDATE
SKIP LOCKED, so any number of workers share it) and marked done once it has run.

An item is known by its ``delivery`` (unique): how the door recognises a Slack retry or a
redelivery on any replica (handlers/slack/app.py ``delivery_key``). The store keeps the item
as its kind and its encoded text; what it means is the Slack app's business.

Wake-ups: on PostgreSQL a NOTIFY sent once the inserting statement has committed reaches
every process that waits for work (the channel the jobs use: bot/storage/postgres.py). On
SQLite the acking process and its worker may be two processes on one file, which share no
event; the worker reads ``PRAGMA data_version`` every ``SQLITE_POLL_S``: SQLite answers it
from the shared WAL index without reading a table, it changes with every commit of any other
connection, so no wake-up is lost, and an idle worker costs twenty such reads a second.
Within one process an event wakes it at once.

Group commit: the items added in one turn of the event loop (the acks of requests that
arrived together) are committed in one statement, so that fifty acks at once cost one commit,
not fifty (on PostgreSQL one WAL flush); each caller still returns only once its own item is
committed. Items added while that commit is on its way wait for it and form the next one: one
such statement at a time, as large as the acks waiting make it. (Started each at once beside
the one on its way, at ten requests at a time on PostgreSQL they were mostly of one or two
items: 1,200 statements for 2,000 acks, where one at a time makes 450 of them.)
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from datetime import UTC, datetime

from bot.ports import InboxItem
from bot.storage.connection import Database, ts
from bot.storage.dialect import Dialect

SQLITE_POLL_S = 0.05
PURGE_STEP = 500  # done items forgotten per statement
ADD_TOGETHER = 100  # items committed in one statement at most
# One statement text for any number of items (its rows one JSON parameter): PostgreSQL
# prepares it once per connection; a VALUES list of n rows would be a hundred texts, more
# than asyncpg's statement cache holds. One item alone (every ack at concurrency 1, most at
# 10 on SQLite) has a VALUES text of its own: reading the JSON cost the insert more than a
# tenth of its time (measured on SQLite: 27 us against 19).
_ADD = ("INSERT INTO inbox (delivery, kind, item, here, created_at, lease_until) {rows}"
        " ON CONFLICT (delivery) DO NOTHING RETURNING id, delivery")
_ADD_ONE = _ADD.format(rows="VALUES (?, ?, ?, ?, ?, ?)")
_TYPES = ("TEXT", "TEXT", "TEXT", "INTEGER", "TEXT", "TEXT")

_Row = tuple[str, str, str, int, str | None, str | None]
_Adding = tuple[_Row, "asyncio.Future[int | None]"]


@functools.cache
def _add_many(dialect: Dialect) -> str:
    return _ADD.format(rows=dialect.rows_of_json(_TYPES))


def _later(now: datetime, seconds: float) -> str | None:
    return ts(datetime.fromtimestamp(now.timestamp() + seconds, UTC))


class SqlInbox:
    """The Inbox port (bot/ports.py) over the ``inbox`` table."""

    _db: Database
    _jobs_added: asyncio.Event
    _inbox_added: asyncio.Event
    _data_version: int | None
    _adding: list[_Adding]  # added since the last commit started, committed in the next
    _committing: asyncio.Task[None] | None  # the one committing them (done: none is)

    async def add_to_inbox(self, delivery: str, kind: str, item: str, now: datetime, *,
                           here_lease_s: float | None = None) -> int | None:
        """Commit one item; its id, or None when ``delivery`` is in the inbox already (a
        retry, or the same delivery on another replica at the same moment). With
        ``here_lease_s`` the caller runs it itself: it is leased to the caller from the start,
        and a worker takes it over only if that lease runs out."""
        lease = _later(now, here_lease_s) if here_lease_s is not None else None
        added: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._adding.append(((delivery, kind, item, int(here_lease_s is not None), ts(now),
                              lease), added))
        if self._committing is None or self._committing.done():  # it runs at the next turn
            self._committing = asyncio.ensure_future(self._commit_added())
        return await added

    async def _commit_added(self) -> None:
        """Commit what was added since the last commit started, until nothing is left,
        ADD_TOGETHER at a time (each chunk one autocommit statement; PostgreSQL: every
        worker woken once it is committed), and answer each caller: its item's id, or None
        for a delivery in the inbox already (a retry, the same delivery on another replica,
        or twice in this chunk)."""
        while self._adding:
            batch, self._adding = self._adding, []
            try:
                await self._commit_batch(batch)
            finally:  # (cancelled: the loop is closing) nobody is left waiting for an answer
                for _, added in batch:
                    added.cancel()

    async def _commit_batch(self, batch: list[_Adding]) -> None:
        for start in range(0, len(batch), ADD_TOGETHER):
            chunk = batch[start:start + ADD_TOGETHER]
            try:
                ids = await self._insert(chunk)
            except Exception as exc:  # noqa: BLE001 - each caller's own answer: no ack
                if len(chunk) > 1 and self._db.refused(exc):  # it fails only its own ack
                    for one in chunk:
                        await self._commit_batch([one])
                    continue
                for _, added in chunk:
                    if not added.done():
                        added.set_exception(exc)
                continue
            for row, added in chunk:
                found = ids.pop(row[0], None)  # (the first of a delivery's callers, even gone)
                if not added.done():
                    added.set_result(found)

    async def _insert(self, chunk: list[_Adding]) -> dict[str, int]:
        """One statement: the ids of the rows it added, by delivery. The rows go in delivery
        order, so that two replicas inserting the same deliveries (a retry on each) take
        their keys' locks in one order and never wait on each other in a circle."""
        dialect = self._db.dialect
        if len(chunk) == 1:
            sql, params = _ADD_ONE, dialect.values_of_row(chunk[0][0])
        else:
            sql = _add_many(dialect)
            params = [dialect.json_of_rows(sorted((row for row, _ in chunk), key=lambda r: r[0]))]
        rows = await self._db.statement(sql, params, wake=any(not row[3] for row, _ in chunk))
        ids = {str(r["delivery"]): int(r["id"]) for r in rows}
        if any(not row[3] and row[0] in ids for row, _ in chunk):
            self._inbox_added.set()
        return ids

    async def delivered(self, delivery: str) -> bool:
        """Whether an item of this delivery was committed (it is done, or will be)."""
        rows = await self._db.read("SELECT 1 AS x FROM inbox WHERE delivery = ?", (delivery,))
        return bool(rows)

    async def claim_inbox(self, now: datetime, lease_s: float, limit: int = 20
                          ) -> list[InboxItem]:
        """Lease up to ``limit`` items not done whose lease (if any) ran out, oldest first."""
        lease = _later(now, lease_s)

        rows = await self._db.statement(
            "UPDATE inbox SET lease_until = ?, attempts = attempts + 1 WHERE id IN ("
            " SELECT id FROM inbox WHERE done_at IS NULL"
            " AND (lease_until IS NULL OR lease_until <= ?) ORDER BY id LIMIT ?"
            + self._db.dialect.skip_locked + ") RETURNING id, kind, item, attempts",
            (lease, ts(now), limit))
        return sorted((InboxItem(int(r["id"]), r["kind"], r["item"], int(r["attempts"]))
                       for r in rows), key=lambda i: i.id)

    async def renew_inbox(self, item_id: int, until: datetime, claim: int) -> bool:
        return bool(await self._db.statement(
            "UPDATE inbox SET lease_until = ? WHERE id = ? AND attempts = ? AND done_at IS NULL"
            " RETURNING id", (ts(until), item_id, claim)))

    async def finish_inbox(self, item_id: int, at: datetime, claim: int) -> None:
        await self._db.execute(
            "UPDATE inbox SET done_at = ?, lease_until = NULL WHERE id = ? AND attempts = ?",
            (ts(at), item_id, claim))

    async def release_inbox_leases(self) -> None:
        """At a worker's start on SQLite (one worker per file): the items the last worker held
        are free now. Items an acking process runs itself keep their lease; on PostgreSQL
        nothing changes (other workers may be running what they hold)."""
        if self._db.dialect.name == "sqlite":
            await self._db.execute(
                "UPDATE inbox SET lease_until = NULL WHERE done_at IS NULL AND here = 0")

    async def purge_inbox(self, before: datetime) -> None:
        """Forget items done before ``before``: long after Slack stops retrying them (it
        retries within minutes, and the door refuses a signature five minutes old)."""
        while len(await self._db.statement(  # in steps: never a long write on the loop
                "DELETE FROM inbox WHERE id IN (SELECT id FROM inbox WHERE done_at IS NOT NULL"
                " AND done_at < ? LIMIT ?) RETURNING id", (ts(before), PURGE_STEP))) == PURGE_STEP:
            await asyncio.sleep(0)

    async def inbox_pending(self) -> int:
        """Items not done yet (the tests, settling)."""
        rows = await self._db.read("SELECT COUNT(*) AS n FROM inbox WHERE done_at IS NULL")
        return int(rows[0]["n"]) if rows else 0

    async def wait_for_inbox(self, timeout: float) -> None:
        """Return when items may have been added since the last call, or after ``timeout``."""
        await self._db.listen()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        sqlite = self._db.dialect.name == "sqlite"
        while (left := deadline - loop.time()) > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._inbox_added.wait(),
                                       min(left, SQLITE_POLL_S) if sqlite else left)
                break
            if sqlite and await self._changed():
                self._jobs_added.set()  # another process's commit may have scheduled jobs too
                break
        self._inbox_added.clear()

    async def _changed(self) -> bool:
        rows = await self._db.read("PRAGMA data_version")
        version = int(next(iter(rows[0].values()))) if rows else 0
        changed = getattr(self, "_data_version", None) not in (None, version)
        self._data_version = version
        return changed
