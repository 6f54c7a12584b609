"""Per-channel pacing of chat.postMessage.

Slack allows about one chat.postMessage per second per channel, with short bursts tolerated,
and answers more with 429 (api.slack.com/apis/rate-limits). The approvals channel is where
that bites: a burst of requests would otherwise hit 429s and fall back on slack_sdk's retry
handler. The pacer spaces posts instead. It runs inside notification jobs, never on the ack
path, so acks are not slowed; and each channel has its own schedule, so a queue of approvals
posts never delays a DM (every DM is a channel of its own).

The schedule is the generic cell rate algorithm: each channel keeps one number, the
"theoretical arrival time" of its next post. ``burst`` posts may go at once; after that one
every ``1 / rate`` seconds. A caller reserves its slot synchronously, then sleeps until it,
so waiters go in the order they called ``wait`` and nothing is shared across channels.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

# Slack's documented limit for chat.postMessage: about 1 message per second per channel.
DEFAULT_RATE = 1.0
DEFAULT_BURST = 3
_PRUNE_AT = 1024

Sleep = Callable[[float], Awaitable[None]]


class ChannelPacer:
    """``await pacer.wait(channel)`` before each chat.postMessage to that channel."""

    def __init__(
        self,
        rate: float = DEFAULT_RATE,
        burst: int = DEFAULT_BURST,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive (messages per second)")
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) * self._interval
        self._clock = clock
        self._sleep = sleep
        self._next: dict[str, float] = {}  # channel -> theoretical arrival time of its next post
        self._prune_at = _PRUNE_AT

    def reserve(self, channel: str) -> float:
        """Take the channel's next slot; returns how many seconds until it (0: go now)."""
        now = self._clock()
        tat = max(self._next.get(channel, now), now)
        start = max(now, tat - self._tolerance)
        self._next[channel] = tat + self._interval
        if len(self._next) > self._prune_at:
            self._prune(now)
        return start - now

    async def wait(self, channel: str) -> None:
        """Return when a post to ``channel`` keeps within the rate."""
        delay = self.reserve(channel)
        if delay > 0:
            await self._sleep(delay)

    def _prune(self, now: float) -> None:
        """Forget channels whose schedule has caught up with now: they start afresh anyway."""
        self._next = {c: t for c, t in self._next.items() if t > now}
        self._prune_at = max(_PRUNE_AT, 2 * len(self._next))
