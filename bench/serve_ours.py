"""`python -m bench.serve_ours --slack-url URL --fleet N --db PATH`: passcode-bot as
`passcode-bot serve` runs it: the front (this process: signatures, acks, INFO logging with
the redaction filter, composed by handlers/bootstrap.py with the product's process runtime)
and its worker process (bench.serve_ours_worker: the product's worker
with a synthetic fleet on the simulated backend, the job runner, the approvals-post pacer),
plus a loop-lag sampler in each (from the first ``lag-reset``). ``--post-rate`` configures
the pacer (the product default is 1 post/s/channel).

Commands on stdin: ``stats``, ``lag`` (and ``lag-reset``), ``settle``."""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import logging
import os
import shutil
import sys
import tempfile
import time
from typing import Any

from bench import APPROVALS, SIGNING_SECRET
from bench.child import GcPauses, LagSampler, rss_mb, serve_commands
from bench.probes import ProbeClient
from bench.proc import pin
from bench.serve_ours_worker import BENCH_ROLES, Probes, bench_backend
from bot.config import Settings
from bot.logs import setup_logging
from bot.roles import FileRoleDirectory
from handlers.bootstrap import start as start_bot
from handlers.demo.slack_emulator import BOT_TOKEN
from handlers.runtime.lifecycle import freeze_startup_heap
from handlers.runtime.process import WorkerChild
from handlers.runtime.server import Running
from handlers.slack.pacing import DEFAULT_BURST, DEFAULT_RATE


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slack-url", required=True)
    parser.add_argument("--fleet", type=int, default=1000)
    parser.add_argument("--db", required=True,
                        help="a SQLite file, or a postgresql:// URL")
    parser.add_argument("--post-rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--post-burst", type=int, default=DEFAULT_BURST)
    parser.add_argument("--pending-for", type=float, default=0.2, help="seconds a reset pends")
    parser.add_argument("--graph", default="",
                        help="bench.serve_graph's ready line (JSON): the Intune backend over it")
    parser.add_argument("--profile", help="write a cProfile of the front to this file")
    return parser.parse_args()


async def start(args: argparse.Namespace, probes: str
                ) -> tuple[Running, WorkerChild, contextlib.AsyncExitStack]:
    """The front (the web role: acks, the picker's options from its own index) and our
    worker process, which reads the same settings from its environment: nothing passes
    between them but the database."""
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": args.slack_url, "APPROVALS_CHANNEL": APPROVALS,
           "HOST": "127.0.0.1", "PORT": "0", "DATABASE_URL": args.db if "://" in args.db else f"sqlite:///{args.db}",
           "PASSCODE_BOT_SECRET": secret, "BACKGROUND_WORK": "process",
           # One approver here approves 1,000 requests in seconds and types hundreds of
           # picker queries: far past what one person can send. The limit costs a lookup.
           "PERSON_ACTIONS_PER_MINUTE": "0"}
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
    resources = contextlib.AsyncExitStack()
    bench_probes = Probes(args)
    bench_probes.resources = resources
    backend = await bench_backend(bench_probes)
    front = await start_bot(settings, role="web", backend=backend,
                            roles=FileRoleDirectory(BENCH_ROLES))
    os.environ.update(env)  # the worker's settings: its environment, as for any command
    command = (sys.executable, "-m", "bench.serve_ours_worker", "--probes", probes,
               "--fleet", str(args.fleet), "--pending-for", str(args.pending_for),
               "--post-rate", str(args.post_rate), "--post-burst", str(args.post_burst),
               *(("--graph", args.graph) if args.graph else ()))
    worker = await WorkerChild.start(command)
    client = ProbeClient(probes)
    for _ in range(2400):  # ready once its probes answer (a 100,000-device fleet: seconds)
        if worker.stopped.done():
            raise RuntimeError("the bench's worker process exited while starting")
        try:
            await client.ask("lag", timeout=5)
            break
        except OSError:
            await asyncio.sleep(0.05)
    await client.aclose()
    return front, worker, resources


async def main() -> None:
    pin()
    args = arguments()
    setup_logging(logging.INFO)  # as `passcode-bot serve`: stderr, redacted
    began = time.perf_counter()
    probe_dir = tempfile.mkdtemp(prefix="passcode-bench-")
    front, worker, resources = await start(args, os.path.join(probe_dir, "probes.sock"))
    probes = ProbeClient(os.path.join(probe_dir, "probes.sock"))
    freeze_startup_heap()  # as `passcode-bot serve` does
    lag, pauses = LagSampler(), GcPauses()  # (the sampler from the first ``lag-reset``)
    pauses.install()
    worker_pid = worker.pid

    async def stats(_: list[str]) -> dict[str, Any]:
        worker = await probes.ask("stats")
        mine = rss_mb()
        return {**worker, "rss_mb": mine + worker["rss_mb"], "front_rss_mb": mine,
                "worker_rss_mb": worker["rss_mb"]}

    async def lag_report(_: list[str]) -> dict[str, Any]:
        return {**lag.report(), "gc": pauses.report(), "worker": await probes.ask("lag")}

    async def lag_reset(_: list[str]) -> dict[str, bool]:
        lag.start()
        pauses.pauses.clear()
        await probes.ask("lag-reset")
        return {"ok": True}

    async def settle(_: list[str]) -> dict[str, int]:
        """Wait (at most 30 s) until no work item is left in the worker."""
        return dict(await probes.ask("settle-work", timeout=60))

    async def reload(_: list[str]) -> dict[str, float]:
        """The front, which answers the picker, reloads its device index (the Intune backend
        only; the worker holds none of its own since issue 13 point 6, and before that the
        reload measured was the worker's, beside the index answering)."""
        began = time.perf_counter()
        await front.services.backend.refresh_index()  # type: ignore[attr-defined]
        return {"seconds": time.perf_counter() - began}

    front_rss, worker_rss = rss_mb(), rss_mb(worker_pid)
    try:
        await serve_commands(
            {"port": front.port, "pid": os.getpid(), "worker_pid": worker_pid,
             "rss_mb": front_rss + worker_rss, "front_rss_mb": front_rss,
             "worker_rss_mb": worker_rss, "startup_s": time.perf_counter() - began},
            {"stats": stats, "lag": lag_report, "lag-reset": lag_reset, "settle": settle,
             "reload": reload},
        )
    finally:
        await lag.stop()
        await probes.aclose()
        await front.stop()
        await worker.aclose()
        await resources.aclose()
        shutil.rmtree(probe_dir, ignore_errors=True)


if __name__ == "__main__":
    if "--profile" in sys.argv:
        import cProfile

        cProfile.run("asyncio.run(main())", sys.argv[sys.argv.index("--profile") + 1])
    else:
        asyncio.run(main())
