"""`passcode-bot migrate-store`: everything of one database that must outlive the move, copied
into another, empty one (SQLite to PostgreSQL, or back), ids, hashes and sealed values exactly
as they are, in one transaction of the target: all or nothing.

Every table the migrations (bot/storage/schema.py) create is named here, copied or left with
the reason (tests/integration/test_storage.py checks that no table is forgotten):

- ``requests``, ``audit`` (the hash chain), ``jobs``: the bot's records and its due work.
- ``inbox``: acknowledged work not run yet must survive the move (an ack promises it), and the
  delivery keys of the items done keep recognising Slack's late retries.
- ``simulated_resets``: the simulated Intune's resets, in flight or done (a request executing
  on the simulated backend finds its reset again), passcodes sealed as they were.
- ``locales``: the people's Slack locales, so helps stay in their language after the move.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage import Store, StoreError
from bot.storage.connection import Tx

# Each table with the column(s) it is ordered by (its key), in the order they are copied.
TABLES: tuple[tuple[str, str], ...] = (
    ("requests", "id"), ("audit", "seq"), ("jobs", "id"), ("inbox", "id"),
    ("simulated_resets", "ref"), ("locales", "user_id"),
)
NUMBERED = {"audit": "seq", "jobs": "id", "inbox": "id"}
# Tables not copied, and why.
LEFT: dict[str, str] = {
    "schema_version": "the target is migrated when it is opened; it has its own",
    "worker_beats": "heartbeats of processes that ran on the source: copied, they would make "
                    "the target's /readyz report a worker that does not run there",
    "write_budget": "Intune write slots of the last 20 s (issue 12): with every process "
                    "stopped for the move, none is still inside its window",
    "locale_walks": "when users.list was last walked: the target's first worker walks it "
                    "again (the locales themselves are copied, so helps keep their language)",
}


@dataclass(frozen=True)
class Copied:
    requests: int
    audit: int
    jobs: int
    inbox: int
    simulated_resets: int
    locales: int


async def copy_store(source: Store, target: Store) -> Copied:
    """Copy everything from ``source`` into ``target``, which must hold nothing yet. Both are
    open, so both are migrated to this release's schema: the columns are the same."""
    for table, _ in TABLES:
        if await target.database.read(f"SELECT 1 AS x FROM {table} LIMIT 1"):
            raise StoreError(f"the target database already holds {table}; migrate-store copies "
                             "into an empty database only. Nothing was copied.")
    contents = {table: await source.database.read(f"SELECT * FROM {table} ORDER BY {key}")
                for table, key in TABLES}

    async def work(tx: Tx) -> None:
        for table, rows in contents.items():
            if not rows:
                continue
            columns = list(rows[0])
            await tx.executemany(
                f"INSERT INTO {table} ({', '.join(columns)})"
                f" VALUES ({', '.join('?' for _ in columns)})",
                [[row[c] for c in columns] for row in rows],
            )
        if tx.dialect.renumber:
            for table, column in NUMBERED.items():
                await tx.execute(tx.dialect.renumber.format(table=table, column=column))

    await target.database.write(work, bulk=True)
    return Copied(*(len(contents[table]) for table, _ in TABLES))
