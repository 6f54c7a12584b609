"""The picker's fallback when the device index has no answer: an exact live lookup (by Intune
id, serial number and name) that the index learns from, so a device enrolled after the index
was loaded is found on the keystroke that names it, and on every keystroke after.

Generic over the lookup (the Intune backend passes its Graph lookup) and bounded, because an
options load must answer within Slack's 3 seconds and Graph allows an app 2,000 Intune reads
per 20 seconds (fact sheet "Checked 2026-12", Throttling):

- a key shorter than ``min_key`` is never looked up (Slack sends loads from the third
  character; a shorter one names no serial);
- the same key (case-insensitive) while its lookup runs shares that lookup;
- at most ``max_in_flight`` lookups ask Graph at once, the next wait their turn; beyond
  ``max_queued`` running or waiting, a miss answers from the index alone (nothing) and the
  next keystroke tries again;
- the options load waits ``wait_s`` at most; a slower lookup goes on in the background, and
  the index learns its devices for the next keystroke;
- a key that found nothing (or failed) is not asked again for ``miss_ttl``: typing past a
  miss, or an approver's repeated loads of it, cost Graph one lookup. A device enrolled in
  that window is found when the window ends (or by the next full refresh).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.ports import BackendError, Clock, Device

logger = logging.getLogger(__name__)

MIN_KEY = 3
WAIT_S = 1.5  # of the options load's 2.5 s in the worker (handlers/worker.py OPTIONS_TIMEOUT_S)
MISS_TTL = timedelta(seconds=30)
MAX_IN_FLIGHT = 4
MAX_QUEUED = 64
MAX_MISSES = 10_000  # remembered misses, oldest forgotten first

Lookup = Callable[[str], Awaitable[list[Device]]]
Learn = Callable[[list[Device]], None]


class MissFallback:
    """Exact live lookups for the keys the index has no device for, bounded as above."""

    def __init__(
        self,
        lookup: Lookup,
        learn: Learn,
        clock: Clock,
        *,
        min_key: int = MIN_KEY,
        wait_s: float = WAIT_S,
        miss_ttl: timedelta = MISS_TTL,
        max_in_flight: int = MAX_IN_FLIGHT,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self._lookup, self._learn, self._clock = lookup, learn, clock
        self.min_key, self.wait_s, self.miss_ttl = min_key, wait_s, miss_ttl
        self.max_queued = max(max_queued, max_in_flight)
        self._turns = asyncio.Semaphore(max_in_flight)
        self._running: dict[str, asyncio.Task[list[Device]]] = {}
        self._missed: OrderedDict[str, datetime] = OrderedDict()  # key -> until when

    async def after_miss(self, text: str) -> list[Device]:
        """The devices whose id, serial or name is ``text``, asked live; [] when the key is
        too short, recently missed, the lookups are all busy, or it is not done in time."""
        key = text.strip()
        folded = key.casefold()
        if len(key) < self.min_key or self._recently_missed(folded):
            return []
        task = self._running.get(folded)
        if task is None:
            if len(self._running) >= self.max_queued:
                return []
            task = asyncio.create_task(self._run(key, folded), name="device lookup")
            self._running[folded] = task
        done, _ = await asyncio.wait({task}, timeout=self.wait_s)
        if not done:
            logger.info("device lookup not done in %.1f s; the index learns it later",
                        self.wait_s)
            return []
        return task.result()

    async def _run(self, key: str, folded: str) -> list[Device]:
        try:
            async with self._turns:
                found = await self._lookup(key)
        except BackendError as exc:
            logger.warning("device lookup failed: %s", exc.message)
            found = []
        except Exception:  # a background task has no one else to tell
            logger.exception("device lookup failed")
            found = []
        finally:
            self._running.pop(folded, None)
        if found:
            self._learn(found)
        else:
            self._remember_miss(folded)
        return found

    def _recently_missed(self, folded: str) -> bool:
        until = self._missed.get(folded)
        if until is None:
            return False
        if self._clock.now() < until:
            return True
        del self._missed[folded]
        return False

    def _remember_miss(self, folded: str) -> None:
        self._missed[folded] = self._clock.now() + self.miss_ttl
        self._missed.move_to_end(folded)
        while len(self._missed) > MAX_MISSES:
            self._missed.popitem(last=False)

    def forget_misses(self) -> None:
        """After a full refresh the index knows what a miss would have found."""
        self._missed.clear()

    async def aclose(self) -> None:
        """Stop the lookups still running."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
