"""`python -m bench.serve_ours_worker` (started by bench.serve_ours, never by hand): our
worker process as `passcode-bot serve` runs it (handlers/runtime/worker.py: its settings
from the environment, the product's work composed by handlers/bootstrap.py in the worker
role, the durable inbox and the jobs, at WORKER_PRIORITY), on the simulated backend with a
synthetic fleet (with ``--graph``: the Intune backend over bench.serve_graph, for the picker),
a recording pacer, a loop-lag sampler, and the benchmark's own questions (stats, lag,
lag-reset, settle-work) answered on a socket of their own (``--probes``, bench/probes.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from bench import APPROVALS, APPROVER, people
from bench.child import GcPauses, LagSampler, rss_mb
from bench.intune import graph_backend
from bench.probes import Probe, serve_probes
from bench.report import max_in_window
from bot.backends.simulated import SimulatedBackend
from bot.config import Settings, load_settings
from bot.ports import DeviceBackend
from bot.roles import FileRoleDirectory
from handlers.bootstrap import compose_work
from handlers.runtime.inline import InlineRuntime
from handlers.runtime.lifecycle import die_with, freeze_startup_heap, lower_priority
from handlers.slack.client import build_client
from handlers.slack.identity import Identity
from handlers.slack.pacing import ChannelPacer


class RecordingPacer(ChannelPacer):
    """The product's pacer, noting when it lets each approvals-channel post go."""

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self.released: list[float] = []

    def take(self, channel: str, key: str | None, now: float) -> float:
        go = super().take(channel, key, now)
        if channel == APPROVALS:
            self.released.append(go)
        return go


@dataclass
class Probes:
    args: argparse.Namespace
    backend: SimulatedBackend | None = None  # the simulated backend, when it is the one
    resources: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack)
    pacer: RecordingPacer | None = None
    device_ids: list[str] = field(default_factory=list)
    lag: LagSampler = field(default_factory=LagSampler)
    pauses: GcPauses = field(default_factory=GcPauses)


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=int, default=1000)
    parser.add_argument("--pending-for", type=float, default=0.2)
    parser.add_argument("--post-rate", type=float, required=True)
    parser.add_argument("--post-burst", type=int, required=True)
    parser.add_argument("--graph", help="bench.serve_graph's ready line: use the Intune backend")
    parser.add_argument("--probes", required=True, help="the Unix socket to answer probes on")
    parser.add_argument("--parent", type=int, required=True)  # added by WorkerChild.start
    return parser.parse_known_args()[0]


async def bench_backend(probes: Probes, *, warm: bool = True) -> DeviceBackend:
    """The bench's fleet (the same in the front and the worker: people.fleet is
    deterministic), on the simulated backend or (``--graph``) the Intune one, its device
    index loaded when ``warm`` (the front: it answers the picker; a worker loads it only if
    it ever searches, as in the product)."""
    entries = people.fleet(probes.args.fleet)
    probes.device_ids = [str(e["id"]) for e in entries]
    if probes.args.graph:  # open as long as this process
        graph = json.loads(probes.args.graph)
        return await probes.resources.enter_async_context(graph_backend(graph, warm=warm))
    return SimulatedBackend(entries, pending_for=timedelta(seconds=probes.args.pending_for))


BENCH_ROLES = {"Helpdesk Operator": [APPROVER]}


async def compose(probes: Probes, settings: Settings) -> InlineRuntime:
    """The product's work (handlers/bootstrap.py ``compose_work``, the worker role) over the
    bench's fleet, roles and recording pacer."""
    backend = await bench_backend(probes, warm=False)
    if isinstance(backend, SimulatedBackend):
        probes.backend = backend
    client = build_client(settings)
    # The emulator has no rate limit for users.list: the start-up walk over the fleet's
    # people (49,664 of them at 100,000 devices) is done in seconds, before anything is
    # measured, instead of taking Slack's pace (12 minutes) while the benchmark runs.
    identity = Identity(client, list_pause_s=0.0)
    work = await compose_work(settings, client, identity, role="worker",
                              backend=backend, roles=FileRoleDirectory(BENCH_ROLES))
    probes.pacer = RecordingPacer(probes.args.post_rate, probes.args.post_burst)
    work.services.runner.notifier.pacer = probes.pacer  # type: ignore[attr-defined]
    probes.pauses.install()
    return work


def questions(probes: Probes, work: InlineRuntime) -> dict[str, Probe]:
    worker = work.worker

    async def stats() -> dict[str, Any]:
        assert probes.pacer is not None
        backend = probes.backend
        if backend is None:  # the Intune backend: only the picker runs on it
            return {"rss_mb": rss_mb(), "tasks": len(worker.tasks)}
        doubled = sum(len(backend.actions_for(d)) > 1 for d in probes.device_ids)
        return {"rss_mb": rss_mb(), "resets_started": backend.resets_started,
                "devices_reset_twice": doubled, "tasks": len(worker.tasks),
                "approvals_released_max_per_1s": max_in_window(probes.pacer.released)}

    async def lag() -> dict[str, Any]:
        return {**probes.lag.report(), "gc": probes.pauses.report()}

    async def lag_reset() -> dict[str, bool]:
        probes.lag.start()
        probes.pauses.pauses.clear()
        return {"ok": True}

    async def settle_work() -> dict[str, int]:
        """Wait (at most 30 s) until no work item is left in the inbox or running (jobs,
        paced posts may wait)."""
        deadline = time.monotonic() + 30
        store = work.services.store
        await asyncio.wait_for(work.locales_learnt(), 30)  # (at start: users.list)
        while time.monotonic() < deadline and (worker.tasks or await store.inbox_pending()):
            if worker.tasks:
                await asyncio.wait(list(worker.tasks), timeout=1)
            else:
                await asyncio.sleep(0.05)
        return {"tasks": len(worker.tasks) + await store.inbox_pending()}

    return {"stats": stats, "lag": lag, "lag-reset": lag_reset, "settle-work": settle_work}


async def run(probes: Probes) -> int:
    """The product's worker life (handlers/runtime/worker.py ``work``), composed with the
    bench's parts, and the probes answered on their own socket (once they answer, it is
    ready), until SIGTERM."""
    settings = load_settings()
    lower_priority(settings.worker_priority)
    work = await compose(probes, settings)
    await work.start()
    freeze_startup_heap()
    server = await serve_probes(probes.args.probes, questions(probes, work))
    stopping = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stopping.set)
    try:
        await stopping.wait()
        return 0
    finally:
        server.close()
        await work.aclose()
        await probes.resources.aclose()


def main() -> int:
    args = arguments()
    die_with(args.parent)
    return asyncio.run(run(Probes(args)))


if __name__ == "__main__":
    sys.exit(main())
