"""The one retry primitive: how often each layer tries again, how long it waits, and one
switch that makes every real wait zero in tests (after stamina's ``set_testing``).

Which layer retries what, and why (each says it once; no layer retries what another
already retries):

=====================  ===========================================  ==========================
layer                  what it retries, how often                   why
=====================  ===========================================  ==========================
Slack Web API          slack_sdk's own handlers (slack/client.py):  Slack's documented 429s and
(``SLACK_*``)          429 up to 3 times after Retry-After; 500/503 transient errors; the SDK
                       and dropped connections twice, 0.5 s, 1 s.   knows which calls failed
                       The SDK's rule: plus up to 1 s of jitter.    before they were taken.
Graph calls            429 (Retry-After, else Intune's 20 s window  Graph's throttling and
(``GRAPH``,            +0-25 %), 502/503/504 and connection errors: gateway errors (fact sheet
bot/backends/          5 tries, 0.5 s doubling to 20 s, at most     §6); a 401 means an expired
graph_http.py)         60 s of waiting; 401 once, with a renewed    token (§5).
                       token. A POST is resent only when nothing
                       was sent (connect error) or on 429 /
                       503+Retry-After.
Start of a reset       After an unknown outcome (500/502/504, bare  resetPasscode is not
(bot/backends/         503, timeout, dropped answer) never blindly: idempotent: a second reset
graph.py)              wait RESET_GRACE, read deviceActionResults   replaces the first
                       and remoteActionAudits; POST once more only  passcode.
                       when both read fine and show nothing, else
                       the request ends *unconfirmed* (issue 12).
                       Every POST first takes a slot of the shared
                       write budget (200 / 20 s, in the database).
Job queue              A failed job runs again later (a row, not a  Work survives a restart;
(``JOB_*``, bot/       sleep): notify 12 tries, execute 200; 2 s    an approved reset waiting
jobs.py)               doubling, capped at 5 min (execute: 1 min),  out an outage goes ahead
                       +-20 %; the service's deadline ends a reset. within a minute of its end.
Polling the reset      deviceActionResults read on the schedule     A fast result reaches the
(``POLL``, bot/        1, 1, 2, 3, 5, 8, 13, 20, 30 s, then every   requester within seconds
usecases/execute.py)   30 s until EXECUTION_TIMEOUT; no jitter.     (product.md "Timing").
=====================  ===========================================  ==========================

Not retries: the channel pacer (handlers/slack/pacing.py) spaces posts out before they are sent,
and a job that must wait its turn is deferred (``Later``) without counting an attempt.

One jitter rule for every backoff of ours: the step (``base_delay`` doubling per retry, up
to ``max_delay``) is scaled by a factor drawn uniformly from ``jitter``. A Retry-After is
waited out as given (no jitter: the server named the moment). A 429 without Retry-After
waits ``throttle_wait`` (Intune's 20-second window), jittered upwards (``THROTTLE_JITTER``).
"""

from __future__ import annotations

import asyncio
import math
import random
from dataclasses import dataclass

_testing = False


def set_testing(testing: bool) -> None:
    """Make every real wait of a retry zero (tests), or real again. Delays are still
    computed and handed to an injected sleep, so tests can check them."""
    global _testing
    _testing = testing


def is_testing() -> bool:
    return _testing


async def wait(seconds: float) -> None:
    """Sleep before a retry: ``seconds``, or no time at all under ``set_testing(True)``."""
    await asyncio.sleep(0 if _testing else seconds)


@dataclass(frozen=True, slots=True)
class Backoff:
    """How hard one layer tries: ``attempts`` tries in all (the first included), waits
    growing from ``base_delay`` by doubling up to ``max_delay``, at most ``max_wait`` seconds
    of waiting in all, each wait scaled by a factor drawn uniformly from ``jitter``."""

    attempts: int
    base_delay: float
    max_delay: float
    max_wait: float = math.inf
    jitter: tuple[float, float] = (0.5, 1.0)
    # A 429 without Retry-After waits this long (jittered) instead of the step (issue 12).
    throttle_wait: float | None = None

    def step(self, retry: int) -> float:
        """The un-jittered wait before retry number ``retry`` (1-based)."""
        return min(self.max_delay, self.base_delay * 2.0 ** (retry - 1))

    def delay(self, retry: int, retry_after: float | None = None, *,
              throttled: bool = False) -> float:
        """The wait before retry number ``retry``: Retry-After as given when the server sent
        one, else the jittered step (or ``throttle_wait`` for a throttled answer)."""
        if retry_after is not None:
            return retry_after
        if throttled and self.throttle_wait is not None:
            # Past the window, never inside it: the window plus up to a quarter more, so
            # the processes throttled together do not all come back at the same moment.
            return jittered(self.throttle_wait, THROTTLE_JITTER)
        return jittered(self.step(retry), self.jitter)

    def may_retry(self, tries: int, waited: float = 0.0, delay: float = 0.0) -> bool:
        """Whether, after ``tries`` tries and ``waited`` seconds of waiting, one more try
        after ``delay`` seconds stays within the policy."""
        return tries < self.attempts and waited + delay <= self.max_wait


@dataclass(frozen=True, slots=True)
class Schedule:
    """Fixed waits, the last repeated: for polling, where the pace is chosen, not backed off."""

    delays: tuple[float, ...]

    def delay(self, n: int) -> float:
        """The wait after read number ``n`` (1-based)."""
        return self.delays[min(n, len(self.delays)) - 1]


def jittered(step: float, spread: tuple[float, float]) -> float:
    """The jitter rule: ``step`` scaled by a factor drawn uniformly from ``spread``."""
    return step * random.uniform(*spread)


# A 429 without Retry-After: Intune counts requests in 20-second windows ("Checked 2026-12":
# its 429s often carry none), so the wait is the window, jittered upwards only.
INTUNE_WINDOW_S = 20.0
THROTTLE_JITTER = (1.0, 1.25)

# Graph calls (fact sheet §6). A reset whose outcome is unknown is not resent from here
# (bot/backends/graph.py looks twice first).
GRAPH = Backoff(attempts=5, base_delay=0.5, max_delay=20.0, max_wait=60.0, jitter=(0.5, 1.0),
                throttle_wait=INTUNE_WINDOW_S)

# Intune's write budget per app and tenant: 200 POST/PUT/PATCH/DELETE in 20 s (fact sheet §6).
# Every reset takes a slot from the database's shared budget first (bot/storage/budget.py).
INTUNE_WRITES_PER_WINDOW = 200

# Failed jobs: 2, 4, 8, ... seconds (``step(attempts)`` is 2**attempts), +-20 %, so retries
# do not bunch up. An approved reset waiting out a backend outage is tried again at least
# once a minute, so it goes ahead soon after the outage ends: with the 5-minute cap a
# 10-minute outage ran into EXECUTION_TIMEOUT. The service's deadline, not the number of
# tries, ends it (200 tries at a minute apart outlast any sensible EXECUTION_TIMEOUT).
JOB_NOTIFY = Backoff(attempts=12, base_delay=2.0, max_delay=300.0, jitter=(0.8, 1.2))
JOB_EXECUTE = Backoff(attempts=200, base_delay=2.0, max_delay=60.0, jitter=(0.8, 1.2))

# Reading deviceActionResults after the reset starts: quick at first, then every 30 s.
POLL = Schedule((1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0))

# slack_sdk's handlers (handlers/slack/client.py): retries after the first try, per kind of failure.
SLACK_RATE_LIMIT_RETRIES = 3
SLACK_SERVER_ERROR_RETRIES = 2
SLACK_CONNECTION_ERROR_RETRIES = 2
