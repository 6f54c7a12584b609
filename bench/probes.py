"""The benchmark's own questions to our worker process (stats, lag, settle-work), over a Unix
socket of their own: the product's link to its worker carries only the product's messages."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

Probe = Callable[[], Awaitable[Any]]


async def serve_probes(path: str, probes: dict[str, Probe]) -> asyncio.Server:
    """Answer one JSON line per question (``{"op": name}``) on the Unix socket ``path``."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            op = str(json.loads(line).get("op", ""))
            probe = probes.get(op)
            try:
                result = await probe() if probe else {"error": f"no such probe: {op[:40]}"}
            except Exception as exc:  # noqa: BLE001 - the front hears about it
                result = {"error": f"{type(exc).__name__}: {exc}"}
            writer.write(json.dumps(result).encode() + b"\n")
            await writer.drain()
        writer.close()

    return await asyncio.start_unix_server(answer, path=path)


class ProbeClient:
    """The front's side: ask the worker's probes, one question at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = asyncio.Lock()
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def ask(self, op: str, timeout: float = 60.0) -> Any:
        async with self._lock:
            if self._streams is None:
                self._streams = await asyncio.open_unix_connection(self.path, limit=1 << 24)
            reader, writer = self._streams
            writer.write(json.dumps({"op": op}).encode() + b"\n")
            await writer.drain()
            return json.loads(await asyncio.wait_for(reader.readline(), timeout))

    async def aclose(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None
