"""`python -m bench.serve_ours_worker` (started by bench.serve_ours, never by hand): our
worker process as `passcode-bot serve` runs it (handlers/runtime/worker.py: its link, its
loop, the product's work composed by handlers/bootstrap.py), on the simulated backend with a
synthetic fleet (with ``--graph``: the Intune backend over bench.serve_graph, for the picker),
a recording pacer, a loop-lag sampler, and the benchmark's own questions (stats, lag,
lag-reset, settle-work) answered on a socket of their own (``--probes``, bench/probes.py)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
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
from bot.config import Settings
from bot.ports import DeviceBackend
from bot.roles import FileRoleDirectory
from handlers.bootstrap import compose_work
from handlers.runtime import worker as worker_process
from handlers.runtime.inline import InlineRuntime
from handlers.runtime.lifecycle import die_with, lower_priority
from handlers.runtime.link import WorkerLink, from_wire
from handlers.slack.client import build_client
from handlers.slack.identity import Identity
from handlers.slack.pacing import ChannelPacer
from handlers.work.worker import Worker


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
    return parser.parse_known_args()[0]


async def compose(probes: Probes, settings: Settings, link: WorkerLink) -> InlineRuntime:
    """The product's work (handlers/bootstrap.py ``compose_work``) over the bench's fleet,
    roles and recording pacer."""
    entries = people.fleet(probes.args.fleet)
    probes.device_ids = [str(e["id"]) for e in entries]
    backend: DeviceBackend
    if probes.args.graph:  # open as long as this process
        graph = json.loads(probes.args.graph)
        backend = await probes.resources.enter_async_context(graph_backend(graph))
    else:
        backend = probes.backend = SimulatedBackend(
            entries, pending_for=timedelta(seconds=probes.args.pending_for))
    del entries
    client = build_client(settings)
    work = await compose_work(settings, client, Identity(client), on_locale=link.locale,
                              backend=backend,
                              roles=FileRoleDirectory({"Helpdesk Operator": [APPROVER]}))
    probes.pacer = RecordingPacer(probes.args.post_rate, probes.args.post_burst)
    work.services.runner.notifier.pacer = probes.pacer  # type: ignore[attr-defined]
    probes.lag.start()
    probes.pauses.install()
    return work


def questions(probes: Probes, worker: Worker) -> dict[str, Probe]:
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
        probes.lag.samples.clear()
        probes.pauses.pauses.clear()
        return {"ok": True}

    async def settle_work() -> dict[str, int]:
        """Wait (at most 30 s) until no work item is left (jobs, paced posts may wait)."""
        deadline = time.monotonic() + 30
        while worker.tasks and time.monotonic() < deadline:
            await asyncio.wait(list(worker.tasks), timeout=1)
        return {"tasks": len(worker.tasks)}

    return {"stats": stats, "lag": lag, "lag-reset": lag_reset, "settle-work": settle_work}


async def run(probes: Probes, fd: int) -> int:
    """The product's worker life (handlers/runtime/worker.py ``run``), composed with the
    bench's parts, and the probes answered on their own socket."""
    link, first = await worker_process.accept(fd)
    try:
        settings = from_wire(first["settings"])
        lower_priority(settings.worker_priority)
        work = await compose(probes, settings, link)
    except Exception as exc:  # noqa: BLE001 - the front reports it
        await link.refuse(exc)
        return 2
    server = await serve_probes(probes.args.probes, questions(probes, work.worker))
    try:
        return await worker_process.serve(link, work)
    finally:
        server.close()
        await probes.resources.aclose()


def main() -> int:
    front = worker_process.arguments()
    die_with(front.parent)
    return asyncio.run(run(Probes(arguments()), front.fd))


if __name__ == "__main__":
    sys.exit(main())
