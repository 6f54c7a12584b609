"""`passcode-bot migrate-store`: every request, audit event and job of one database copied into
another, empty one (SQLite to PostgreSQL, or back), ids, hashes and sealed passcodes exactly as
they are, in one transaction of the target: all or nothing."""

from __future__ import annotations

from dataclasses import dataclass

from bot.storage import Store, StoreError
from bot.storage.connection import Tx

# Each table with the column it is ordered by (its key), in the order they are copied.
TABLES: tuple[tuple[str, str], ...] = (("requests", "id"), ("audit", "seq"), ("jobs", "id"))
NUMBERED = {"audit": "seq", "jobs": "id"}


@dataclass(frozen=True)
class Copied:
    requests: int
    audit: int
    jobs: int


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

    await target.database.write(work)
    return Copied(*(len(contents[table]) for table, _ in TABLES))
