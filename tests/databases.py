"""The test databases: a SQLite file, or a fresh schema of its own on the PostgreSQL server
TEST_DATABASE_URL names, and plain SQL on either (to set up old schemas, to count rows, to read
everything stored) without going through the store under test."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import sqlite3
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import asyncpg

from bot.storage.dialect import is_postgres_url, numbered, redacted

T = TypeVar("T")
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"
# pct_<host>_<pid>_<random>: a schema of this host whose process is gone is dropped at start
# (a run on another machine or container sharing the server is left alone).
HOST = hashlib.blake2b(socket.gethostname().encode(), digest_size=3).hexdigest()
PREFIX = f"pct_{HOST}_"


def server_url() -> str:
    return os.environ.get("TEST_DATABASE_URL") or DEFAULT_SERVER


def in_thread(make: Callable[[], Awaitable[T]]) -> T:
    """Run a coroutine to the end on a loop of its own (fixtures are synchronous, and a test's
    loop may be running)."""

    async def run() -> T:
        return await make()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def unreachable(url: str) -> str | None:
    """Why the server at ``url`` cannot be used, or None when it answers."""

    async def probe() -> None:
        conn = await asyncpg.connect(url, timeout=3)
        await conn.close()

    try:
        in_thread(probe)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return None


def drop_stale_schemas(url: str) -> None:
    async def drop() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            names = [r[0] for r in await conn.fetch(
                "SELECT nspname FROM pg_namespace WHERE starts_with(nspname, $1)", PREFIX)]
            for name in names:
                pid = name.removeprefix(PREFIX).split("_")[0]
                if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                    await conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        finally:
            await conn.close()

    in_thread(drop)


def with_search_path(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}search_path={schema}"


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A URL whose connections work in a new, empty schema, dropped afterwards."""
    schema = f"{PREFIX}{os.getpid()}_{uuid.uuid4().hex[:12]}"

    async def run(sql: str) -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    in_thread(lambda: run(f'CREATE SCHEMA "{schema}"'))
    try:
        yield with_search_path(url, schema)
    finally:
        in_thread(lambda: run(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))


def _path(url: str) -> str:
    return url.removeprefix("sqlite:///")


def run_sql(url: str, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """Statements (with ``?`` placeholders) in one transaction, beside the store."""
    if not is_postgres_url(url):
        with closing(sqlite3.connect(_path(url))) as db, db:
            for sql, params in statements:
                db.execute(sql, params)
        return

    async def run() -> None:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            async with conn.transaction():
                for sql, params in statements:
                    await conn.execute(numbered(sql), *params)
        finally:
            await conn.close()

    in_thread(run)


async def run_sql_beside(url: str, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
    """``run_sql`` while a bot runs on this test's event loop: in a thread, so the loop goes on
    meanwhile. Called on the loop itself, the statement would wait for the bot's write lock
    (SQLite) or table lock (PostgreSQL), while the bot's transaction waits for the loop to
    send its COMMIT: SQLite gives up after its busy timeout ("database is locked", seen now
    and then in the suite), PostgreSQL waits for ever."""
    await asyncio.to_thread(run_sql, url, statements)


def rows(url: str, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    if not is_postgres_url(url):
        with closing(sqlite3.connect(_path(url))) as db:
            return [tuple(r) for r in db.execute(sql, params).fetchall()]

    async def run() -> list[tuple[Any, ...]]:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            return [tuple(r) for r in await conn.fetch(numbered(sql), *params)]
        finally:
            await conn.close()

    return in_thread(run)


def count(url: str, sql: str, *params: Any) -> int:
    return int(rows(url, sql, *params)[0][0])


def everything_stored(url: str) -> bytes:
    """Every byte the database holds for us: SQLite's files (with WAL), or every row of every
    table of the schema, as text and as raw bytes."""
    if not is_postgres_url(url):
        data = b""
        for suffix in ("", "-wal", "-shm"):
            path = Path(f"{_path(url)}{suffix}")
            if path.exists():
                data += path.read_bytes()
        return data
    schema = parse_qs(urlsplit(url).query).get("search_path", ["public"])[0]
    tables = [r[0] for r in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = ?",
                                 schema)]
    data = b""
    for table in tables:
        for row in rows(url, f'SELECT * FROM "{table}"'):
            for value in row:
                data += value if isinstance(value, bytes) else str(value).encode()
                data += b"\x00"
    return data


def describe(url: str) -> str:
    return redacted(url)


def listening(url: str, database: object) -> int:
    """Sessions of the server listening for ``database``'s wake-ups (a PostgresDatabase)."""
    from bot.storage.postgres import PostgresDatabase

    assert isinstance(database, PostgresDatabase)
    return count(url, "SELECT COUNT(*) FROM pg_stat_activity WHERE query = ?",
                 f'LISTEN "{database.channel}"')
