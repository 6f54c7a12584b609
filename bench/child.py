"""The child side of a benchmark subprocess: announce readiness, answer commands on stdin
(one JSON line each on stdout), sample event-loop lag, read our own RSS."""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

Command = Callable[[list[str]], Awaitable[Any]]


class GcPauses:
    """Every garbage collection's duration, by generation: a full collection over a large heap
    stops the loop like any other blocking call."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []
        self._started = 0.0

    def install(self) -> None:
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif len(self.pauses) < 1_000_000:
            self.pauses.append((info["generation"], time.perf_counter() - self._started))

    def report(self) -> dict[str, float]:
        full = [d for g, d in self.pauses if g == 2]
        return {"collections": len(self.pauses), "full": len(full),
                "max_ms": max((d for _, d in self.pauses), default=0.0) * 1000,
                "max_full_ms": max(full, default=0.0) * 1000}


def rss_mb(pid: int | str = "self") -> float:
    """Resident set size from /proc/<pid>/status (VmRSS), in MB."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class LagSampler:
    """How late the event loop wakes a task that asked to sleep ``interval`` seconds: any
    callback that blocks the loop shows up as lag of about its running time. Started by the
    phases that report lag (``lag-reset``), not for our processes' whole life: its 200
    wake-ups a second are work bare Bolt does not do, and the ack phase compares the two."""

    def __init__(self, interval: float = 0.005) -> None:
        self.interval = interval
        self.samples: list[float] = []
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Sample from now on, with no samples kept from before."""
        self.samples.clear()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="lag-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(self.interval)
            self.samples.append(max(0.0, loop.time() - before - self.interval))
            if len(self.samples) > 1_000_000:  # bounded: about 1.5 hours of samples
                del self.samples[:500_000]

    def report(self) -> dict[str, float]:
        ordered = sorted(self.samples) or [0.0]
        p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
        return {"samples": len(self.samples), "max_ms": ordered[-1] * 1000, "p99_ms": p99 * 1000}


async def serve_commands(ready: dict[str, Any], commands: dict[str, Command]) -> None:
    """Print ``{"ready": ...}``, then answer each stdin line until ``quit`` or end of input."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _reply({"ready": ready})
    while line := await reader.readline():
        words = line.decode().split()
        if not words:
            continue
        if words[0] == "quit":
            break
        command = commands.get(words[0])
        try:
            answer = await command(words[1:]) if command else {"error": f"unknown {words[0]}"}
        except Exception as exc:  # noqa: BLE001 - the parent hears about it, the child lives on
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        _reply(answer)


def _reply(answer: Any) -> None:
    sys.stdout.write(json.dumps(answer) + "\n")
    sys.stdout.flush()
