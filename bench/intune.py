"""The Intune backend on a fake Graph for the picker benchmark: the Graph emulator serving a
synthetic fleet over HTTPS (throwaway CA) on 127.0.0.1, and a GraphBackend over it whose
picker index is loaded before the first request is timed."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Any

from bot.backends.graph import GraphBackend
from bot.backends.graph_http import GraphClient
from bot.config import Settings
from bot.emulators.graph import GraphEmulator

PAGE_SIZE = 1000  # Intune's own page size for managedDevices


@contextlib.asynccontextmanager
async def graph_backend(entries: list[dict[str, Any]]) -> AsyncIterator[GraphBackend]:
    """A GraphBackend over a Graph emulator holding ``entries``, its device index loaded."""
    emulator = GraphEmulator(entries, page_size=PAGE_SIZE)  # a CA of its own, removed at stop
    await emulator.start()
    graph = GraphClient.from_settings(
        Settings(_env_file=None, **emulator.settings_overrides()),  # type: ignore[call-arg]
        ca_bundle=emulator.ca_bundle,
    )
    backend = GraphBackend(graph)
    try:
        await backend.refresh_index()
        yield backend
    finally:
        await backend.aclose()
        await graph.aclose()
        await emulator.stop()
