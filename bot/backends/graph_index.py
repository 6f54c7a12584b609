"""The Intune backend's copy of the device list for the picker: the shared DeviceIndex
(bot/backends/index.py, the simulated backend's too) and how it is kept fresh.

- **Full load**: on first use, then every ``refresh`` (15 minutes) in the background; the old
  index answers meanwhile (an options load has 3 s, a 100,000-device list takes longer).
- **Delta** (every ``delta_every``, 1 minute, in the background, when the picker is in use):
  the devices enrolled since shortly before the last full load (``enrolledDateTime gt``, one
  of the few filters Microsoft documents, fact sheet §4), so a new phone is found by any part
  of its name within a minute. Graph's filters are trusted for nothing: a row not enrolled
  after the mark means the filter was ignored, and deltas stop (logged) until the next start;
  at most ``DELTA_MAX_ROWS`` rows are read per delta.
- **A miss** (bot/backends/fallback.py): an approver's search that finds nothing is asked live
  by exact id, serial and name.
- **Learning**: every device a live lookup or a delta finds goes into the index (a newer copy
  replaces the old one, without a rebuild), and into the next full load if one is running.

A device deleted in Intune stays until the next full load; resets always read the device live.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Awaitable, Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from bot import memory
from bot.backends.compact import Builder
from bot.backends.devices import device_from_graph
from bot.backends.fallback import WAIT_S, MissFallback
from bot.backends.graph_http import GraphClient
from bot.backends.index import DeviceIndex
from bot.ports import BackendError, Clock, Device

logger = logging.getLogger(__name__)

REFRESH = timedelta(minutes=15)
DELTA_EVERY = timedelta(minutes=1)
# The delta asks from this long before the last full load began: our clock and Intune's may
# disagree, and a device enrolled while the list was read may be on no page of it.
DELTA_OVERLAP = timedelta(minutes=5)
DELTA_MAX_ROWS = 2000

Lookup = Callable[[str], Awaitable[list[Device]]]
ParseTime = Callable[[object], datetime | None]


class IntuneIndex:
    """The picker's device index over Graph's device list, kept fresh as above."""

    def __init__(
        self,
        graph: GraphClient,
        devices_path: str,
        select: str,
        *,
        lookup: Lookup,
        parse_time: ParseTime,
        clock: Clock,
        refresh: timedelta = REFRESH,
        delta_every: timedelta | None = DELTA_EVERY,
        lookup_wait_s: float = WAIT_S,
    ) -> None:
        """``lookup`` is the exact live lookup a miss runs; ``parse_time`` reads Graph's
        DateTimeOffset; ``delta_every`` None: no deltas."""
        self._graph, self._path, self._select = graph, devices_path, select
        self._parse_time, self._clock = parse_time, clock
        self._refresh, self._delta_every = refresh, delta_every
        self._index: DeviceIndex | None = None
        self._built_at: datetime | None = None
        self._lock = asyncio.Lock()
        self._loading: list[Device] | None = None  # found live while a full load runs
        self._delta_at: datetime | None = None
        self._delta_off = False
        self._tasks: dict[str, asyncio.Task[None]] = {}  # "refresh", "delta"
        self.fallback = MissFallback(lookup, self.learn, clock, wait_s=lookup_wait_s)

    async def current(self) -> DeviceIndex:
        """The index: loaded on first use; a due full load or delta starts in the background."""
        if self._index is None:
            async with self._lock:
                if self._index is None:
                    await self._load()
        elif self._due(self._built_at, self._refresh):
            self._start("refresh", self._refresh_quietly)
        elif (self._delta_every is not None and not self._delta_off
              and self._due(self._delta_at or self._built_at, self._delta_every)):
            self._start("delta", self._delta_quietly)
        assert self._index is not None
        return self._index

    async def refresh(self) -> None:
        """Load the whole device list now (paged)."""
        async with self._lock:
            await self._load()

    def learn(self, devices: list[Device]) -> None:
        """Put devices found live into the index (and into a full load under way)."""
        if self._index is not None:
            for device in devices:
                if self._index.get(device.id) != device:  # a delta re-reads the same ones
                    self._index.add(device)
        if self._loading is not None:
            self._loading.extend(devices)

    async def aclose(self) -> None:
        """Stop the background loads and lookups."""
        await self.fallback.aclose()
        for task in list(self._tasks.values()):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- loads -------------------------------------------------------------------------------

    async def _load(self) -> None:
        started = self._clock.now()
        # Each page's devices go into the builder as they are read, held as the index holds
        # them (bot/backends/compact.py): 100,000 Device objects kept until the build left
        # ~100 MB with Python's allocator once they were freed.
        built = Builder()
        self._loading = []
        # The collector stays off while 100,000 devices are read and indexed (each full
        # collection over them stopped the loop for 200-350 ms, three per load), then one
        # collection clears the garbage and the new index is frozen out of its sight, as the
        # startup heap is (handlers/worker.py): no later collection walks it, and reference
        # counting still frees it when the next load replaces it. (Freezing without that
        # collection kept each load's cyclic garbage, the pages read among it: ~12 MB per
        # load at 30,000 devices.)
        collecting = gc.isenabled()
        gc.disable()
        try:
            async for rows in self._graph.pages(
                self._path, params={"$select": self._select}, what="the device list"
            ):
                for row in rows:
                    built.add(device_from_graph(row))
                del rows
            listed = len(self._loading)
            for device in self._loading:  # found live meanwhile: at least as new as the list
                built.add(device)
            # Building 100,000 devices' index takes a second or two of CPU: in a thread, so
            # the loop (and the picker, from the old index) keeps answering meanwhile.
            index = await asyncio.to_thread(DeviceIndex, built)
            for device in self._loading[listed:]:  # found while it was built
                index.add(device)
        finally:
            self._loading = None
            if collecting:
                gc.enable()
        self.fallback.forget_misses()
        self._index, self._built_at, self._delta_at = index, started, started
        del index, built  # the old index is gone now (freed by reference counting)
        if collecting:
            # One collection (~0.3 s at 100,000 devices) so no garbage is frozen with it.
            gc.collect()
            gc.freeze()
        memory.give_back()  # what the pages and the build freed
        logger.info("device index refreshed: %d devices", len(self._index))

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except BackendError as exc:
            # Keep serving the old index; try again in a minute rather than on every keystroke.
            logger.warning("device index refresh failed: %s", exc.message)
            self._built_at = self._clock.now() - self._refresh + timedelta(minutes=1)

    async def _delta_quietly(self) -> None:
        self._delta_at = self._clock.now()
        try:
            await self._delta()
        except BackendError as exc:
            logger.warning("device index delta failed: %s", exc.message)

    async def _delta(self) -> None:
        """The devices enrolled since DELTA_OVERLAP before the last full load, learnt."""
        assert self._built_at is not None
        mark = self._built_at - DELTA_OVERLAP
        params = {
            "$filter": f"enrolledDateTime gt {mark.strftime('%Y-%m-%dT%H:%M:%SZ')}",
            "$select": f"{self._select},enrolledDateTime",
        }
        found: list[Device] = []
        async for rows in self._graph.pages(
            self._path, params=params, what="the devices enrolled lately"
        ):
            for row in rows:
                enrolled = self._parse_time(row.get("enrolledDateTime"))
                if enrolled is None or enrolled <= mark:
                    logger.warning("Graph answered the enrolledDateTime filter with a device "
                                   "enrolled before it: the filter is not honoured, so no more "
                                   "deltas until the next start (full loads go on)")
                    self._delta_off = True
                    return
                found.append(device_from_graph(row))
            if len(found) >= DELTA_MAX_ROWS:
                logger.warning("more than %d devices enrolled since the last full load: the "
                               "rest wait for the next one", DELTA_MAX_ROWS)
                break
        self.learn(found)

    def _due(self, since: datetime | None, every: timedelta) -> bool:
        return since is not None and self._clock.now() - since >= every

    def _start(self, name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = self._tasks.get(name)
        if task is None or task.done():
            self._tasks[name] = asyncio.create_task(run(), name=f"device index {name}")
