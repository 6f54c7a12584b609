"""The load generator: closed loop (N workers, each sending the next request as soon as the
last answered) and open loop (a fixed rate, whatever the answers do). Bounded in count and
time; only 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

from bench.slack_requests import Prepared


@dataclass
class Run:
    latencies: list[float] = field(default_factory=list)  # seconds, answered requests only
    statuses: Counter[int] = field(default_factory=Counter)  # 0: no answer
    wall: float = 0.0

    @property
    def errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if not 200 <= status < 300)

    @property
    def rps(self) -> float:
        return len(self.latencies) / self.wall if self.wall else 0.0

    def ms(self, q: float) -> float:
        """The q-quantile of the latencies (nearest rank), in milliseconds."""
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))] * 1000

    def extend(self, other: Run) -> None:
        self.latencies += other.latencies
        self.statuses.update(other.statuses)
        self.wall += other.wall


def session(concurrency: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=max(concurrency, 1), force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10))


def _local(url: str) -> str:
    if urlsplit(url).hostname != "127.0.0.1":
        raise ValueError(f"the benchmark only talks to 127.0.0.1, not {url}")
    return url.rstrip("/") + "/slack/events"


async def send(http: aiohttp.ClientSession, url: str, request: Prepared, run: Run) -> None:
    started = time.perf_counter()
    try:
        async with http.post(url, data=request.body, headers=request.headers) as resp:
            await resp.read()
            status = resp.status
    except (aiohttp.ClientError, TimeoutError):
        status = 0
    if status:
        run.latencies.append(time.perf_counter() - started)
    run.statuses[status] += 1


async def closed_loop(http: aiohttp.ClientSession, base_url: str, requests: Sequence[Prepared],
                      concurrency: int, time_limit: float) -> Run:
    """Send every request (or stop at ``time_limit`` s) with ``concurrency`` in flight."""
    url, run = _local(base_url), Run()
    todo = iter(requests)
    started = time.perf_counter()
    deadline = started + time_limit

    async def worker() -> None:
        for request in todo:
            if time.perf_counter() > deadline:
                return
            await send(http, url, request, run)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    run.wall = time.perf_counter() - started
    return run


async def open_loop(http: aiohttp.ClientSession, base_url: str, requests: Sequence[Prepared],
                    rate: float) -> Run:
    """Start request i at i / rate seconds, answered or not."""
    url, run = _local(base_url), Run()
    started = time.perf_counter()
    tasks = []
    for i, request in enumerate(requests):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(send(http, url, request, run)))
    await asyncio.gather(*tasks)
    run.wall = time.perf_counter() - started
    return run
