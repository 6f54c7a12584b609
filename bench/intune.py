"""The Intune backend for the picker benchmark: a GraphBackend over the Graph emulator of
bench.serve_graph (``graph`` is that child's ready line), its device index loaded (where the
picker is answered) before the first request is timed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.bootstrap import build_backend, build_graph
from bot.clock import SystemClock
from bot.config import Settings
from bot.ports import DeviceBackend

PAGE_SIZE = 1000  # Intune's own page size for managedDevices


@contextlib.asynccontextmanager
async def graph_backend(graph: dict[str, Any], *, warm: bool = True
                        ) -> AsyncIterator[DeviceBackend]:
    """The Intune backend over the emulator that ``graph`` (bench.serve_graph's ready) names,
    built by the core's composition root (bot/bootstrap.py) from settings that point at it;
    its device index loaded first when ``warm``."""
    settings = Settings(_env_file=None, backend="intune",  # type: ignore[call-arg]
                        ssl_cert_file=graph["ca_bundle"], **graph["settings"])
    clock = SystemClock()
    client = build_graph(settings, clock, None)
    backend = build_backend(settings, clock, client)
    try:
        if warm:
            await backend.refresh_index()  # type: ignore[attr-defined]
        yield backend
    finally:
        await backend.aclose()
        if client is not None:
            await client.aclose()
