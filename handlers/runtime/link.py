"""The link between the front and its worker process: a socket pair, one JSON object a line.

  front -> worker   {"op": "settings", "settings", "log_level"} first; then
                    {"op": "work", "item"}, {"op": "options" | "settle", "id", ...}, {"op": "quit"}
  worker -> front   {"op": "ready", "pid"} or {"op": "error", "error", "config"} first; then
                    {"op": "reply", "id", "result" | "error"}, {"op": "locale", "user", "locale"}

A work item travels as its type name and fields (handlers/work/items.py ``encode``) and is
rebuilt in the worker through the same table of known kinds. The settings travel with their
secrets: the socket is private to the two processes (issue 13 replaces this link with the
database, and the settings no longer travel)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.config import ConfigError, Settings

LIMIT = 1 << 24  # the longest line either side accepts (options replies are the largest)


def to_wire(settings: Settings) -> dict[str, Any]:
    """Settings as JSON the worker turns back into the same Settings (secrets included)."""
    out: dict[str, Any] = {}
    for name, value in settings:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, timedelta):
            value = f"{value.total_seconds()}s"
        elif isinstance(value, Path):
            value = str(value)
        out[name] = value
    return out


def from_wire(data: dict[str, Any]) -> Settings:
    return Settings(_env_file=None, **data)


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


class WorkerLink:
    """The worker's end of the link. What it sends (replies, locales) goes out together once
    per loop turn: one write, one wake-up of the front, however many are ready."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer
        self._outgoing: list[bytes] = []

    @classmethod
    async def accept(cls, fd: int) -> tuple[WorkerLink, dict[str, Any]]:
        """The link on the inherited socket ``fd``, and the front's first message."""
        reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd),
                                                            limit=LIMIT)
        first = json.loads(await reader.readline() or b"{}")
        return cls(reader, writer), first

    def send(self, message: dict[str, Any]) -> None:
        self._outgoing.append(line(message))
        if len(self._outgoing) == 1:
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        if data and not self._writer.is_closing():
            self._writer.write(data)

    def locale(self, user_id: str, locale: str) -> None:
        """Tell the front someone's locale (for the answers it gives with the ack)."""
        self.send({"op": "locale", "user": user_id, "locale": locale})

    def ready(self, **hello: Any) -> None:
        self.send({"op": "ready", **hello})

    async def refuse(self, exc: Exception) -> None:
        """Tell the front why this worker cannot start (one line), and close."""
        self.send({"op": "error", "error": f"{type(exc).__name__}: {exc}"[:500],
                   "config": isinstance(exc, ConfigError)})
        self.flush()
        await self._writer.drain()
        self._writer.close()

    async def messages(self) -> AsyncIterator[dict[str, Any]]:
        """The front's messages, until it closes the link."""
        while raw := await self._reader.readline():
            yield json.loads(raw)

    def close(self) -> None:
        self.flush()
        self._writer.close()
