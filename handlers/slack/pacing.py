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

A job that would wait longer than ``max_sleep`` does not sleep: it raises bot.ports.Later,
keeping its slot under its key, and the job queue runs it again when the slot comes. A backlog
of thousands of approvals posts is then rows in the jobs table, not thousands of sleeping
tasks holding their requests (and job leases) in memory.

Slack's limit is per app, not per process: given a ``budget`` (bot.ports.WriteBudget, the
database's, as for Intune's writes: bot/storage/budget.py), every post also takes a slot of the
channel's budget there (``burst`` posts per ``burst / rate`` seconds), so any number of
replicas on one database keep to the pace together. The schedule above still orders this
process's own posts (and spreads its backlog over time); the database has the last word, and a
post it holds back waits, or comes back later (Later), like one the schedule held back.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from bot.ports import Later, WriteBudget

# Slack's documented limit for chat.postMessage: about 1 message per second per channel.
DEFAULT_RATE = 1.0
DEFAULT_BURST = 3
MAX_SLEEP_S = 1.0  # a keyed wait longer than this is handed back to the job queue
_PRUNE_AT = 1024
HELD_FOR_S = 3600.0  # a slot nobody came back for is forgotten after this

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
        max_sleep: float = MAX_SLEEP_S,
        budget: WriteBudget | None = None,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
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
        self.max_sleep = max_sleep
        self._held: dict[tuple[str, str], float] = {}  # (channel, key) -> its reserved slot
        self._sent: dict[str, float] = {}  # channel -> the same, by the posts that went
        self.budget = budget  # shared by every process on the database (None: this one only)
        self._wall = wall  # the budget's clock: the same in every process

    def reserve(self, channel: str) -> float:
        """Take the channel's next slot; returns how many seconds until it (0: go now)."""
        now = self._clock()
        tat = max(self._next.get(channel, now), now)
        start = max(now, tat - self._tolerance)
        self._next[channel] = tat + self._interval
        if len(self._next) > self._prune_at:
            self._prune(now)
        return start - now

    async def wait(self, channel: str, key: str | None = None) -> None:
        """Return when a post to ``channel`` keeps within the rate.

        With ``key`` (the same each time the same post is tried), a wait longer than
        ``max_sleep`` raises Later instead, and the slot stays reserved for ``key``: when the
        caller comes back at its time, it goes ahead of anyone who reserved later. Callers
        who come back late do not bunch up: a second schedule, of the posts that actually
        went, holds them to the same rate."""
        now = self._clock()
        go = self.take(channel, key, now)
        if go > now:
            await self._sleep(go - now)
        if self.budget is not None:
            await self._shared(self.budget, channel, key)

    async def _shared(self, budget: WriteBudget, channel: str, key: str | None) -> None:
        """Take a slot of the channel's budget in the database: at most ``burst`` posts per
        ``burst / rate`` seconds from every process together."""
        while True:
            wait = await budget.take_slot(f"slack.post:{channel}", self._wall(), self.burst,
                                          self.burst / self.rate)
            if wait <= 0:
                return
            if key is not None and wait > self.max_sleep:
                raise Later(wait)
            await self._sleep(wait)

    def take(self, channel: str, key: str | None, now: float) -> float:
        """The time (on the pacer's clock) this post goes: its slot, taken; or Later."""
        slot = self._held.pop((channel, key), None) if key is not None else None
        start = slot if slot is not None else now + self.reserve(channel)
        go = max(start, now, self._sent.get(channel, now) - self._tolerance)
        if key is not None and go - now > self.max_sleep:
            self._held[(channel, key)] = go
            if len(self._held) > _PRUNE_AT:
                self._held = {k: t for k, t in self._held.items() if t > now - HELD_FOR_S}
            raise Later(go - now)
        self._sent[channel] = max(self._sent.get(channel, go), go) + self._interval
        return go

    def _prune(self, now: float) -> None:
        """Forget channels whose schedule has caught up with now: they start afresh anyway."""
        self._next = {c: t for c, t in self._next.items() if t > now}
        self._sent = {c: t for c, t in self._sent.items() if t > now}
        self._prune_at = max(_PRUNE_AT, 2 * len(self._next))
