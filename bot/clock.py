"""Clocks: the real one, and a manual one that tests and the demo move forward."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """Stands still until moved; `passcode-bot demo` uses it to show day 7 without waiting."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta) -> None:
        self._now += delta

    async def sleep(self, seconds: float) -> None:
        """Instead of waiting: move time on, and let other tasks run."""
        self.advance(timedelta(seconds=seconds))
        await asyncio.sleep(0)
