"""A fresh PostgreSQL schema for a benchmark run, dropped afterwards (the server of
``--database-url``, default TEST_DATABASE_URL or the CI machine's)."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def server_url(given: str | None = None) -> str:
    return given or os.environ.get("TEST_DATABASE_URL") or DEFAULT_SERVER


async def unreachable(url: str) -> str | None:
    try:
        conn = await asyncpg.connect(url, timeout=3)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    await conn.close()
    return None


@asynccontextmanager
async def fresh_schema(url: str, prefix: str = "bench") -> AsyncIterator[str]:
    """A URL whose connections work in a new, empty schema."""
    schema = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(url, timeout=5)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
    finally:
        await conn.close()
    try:
        yield f"{url}{'&' if '?' in url else '?'}search_path={schema}"
    finally:
        conn = await asyncpg.connect(url, timeout=5)
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        finally:
            await conn.close()
