"""The Intune backend for the picker benchmark: a GraphBackend over the Graph emulator of
bench.serve_graph (``graph`` is that child's ready line), its device index loaded before the
first request is timed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.backends.graph import GraphBackend
from bot.backends.graph_http import GraphClient
from bot.config import Settings

PAGE_SIZE = 1000  # Intune's own page size for managedDevices


@contextlib.asynccontextmanager
async def graph_backend(graph: dict[str, Any]) -> AsyncIterator[GraphBackend]:
    """A GraphBackend over the emulator that ``graph`` (bench.serve_graph's ready) names."""
    client = GraphClient.from_settings(
        Settings(_env_file=None, **graph["settings"]),  # type: ignore[call-arg]
        ca_bundle=graph["ca_bundle"],
    )
    backend = GraphBackend(client)
    try:
        await backend.refresh_index()
        yield backend
    finally:
        await backend.aclose()
        await client.aclose()
