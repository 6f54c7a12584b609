"""`python -m bench.serve_ours --slack-url URL --fleet N --db PATH`: passcode-bot as
`passcode-bot serve` runs it (INFO logging with the redaction filter, the job runner, the
approvals-post pacer), on the simulated backend with a synthetic fleet, plus a loop-lag
sampler. ``--post-rate`` configures the pacer (the product default is 1 post/s/channel).

Commands on stdin: ``stats``, ``lag`` (and ``lag-reset``), ``settle``."""

from __future__ import annotations

import argparse
import asyncio
import base64
import logging
import os
import sys
import time
from datetime import timedelta
from typing import Any

from pydantic import SecretStr

from bench import APPROVALS, APPROVER, SIGNING_SECRET, people
from bench.child import GcPauses, LagSampler, rss_mb, serve_commands
from bench.report import max_in_window
from bot.backends.simulated import SimulatedBackend
from bot.config import Settings
from bot.emulators.slack import BOT_TOKEN
from bot.logs import setup_logging
from bot.roles import FileRoleDirectory
from handlers.pacing import DEFAULT_BURST, DEFAULT_RATE, ChannelPacer
from handlers.server import RunningBot, freeze_startup_heap, start_bot


class RecordingPacer(ChannelPacer):
    """The product's pacer, noting when it let each approvals-channel post through."""

    def __init__(self, rate: float, burst: int) -> None:
        super().__init__(rate, burst)
        self.released: list[float] = []

    async def wait(self, channel: str) -> None:
        await super().wait(channel)
        if channel == APPROVALS:
            self.released.append(time.monotonic())


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--slack-url", required=True)
    parser.add_argument("--fleet", type=int, default=1000)
    parser.add_argument("--db", required=True)
    parser.add_argument("--post-rate", type=float, default=DEFAULT_RATE)
    parser.add_argument("--post-burst", type=int, default=DEFAULT_BURST)
    parser.add_argument("--pending-for", type=float, default=0.2, help="seconds a reset pends")
    parser.add_argument("--profile", help="write a cProfile of the whole run to this file")
    return parser.parse_args()


async def start(
    args: argparse.Namespace,
) -> tuple[RunningBot, SimulatedBackend, list[str], RecordingPacer]:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_api_url=args.slack_url,
        approvals_channel=APPROVALS,
        port=0,
        database_url=f"sqlite:///{args.db}",
        passcode_bot_secret=SecretStr(base64.urlsafe_b64encode(os.urandom(32)).decode()),
    )
    entries = people.fleet(args.fleet)
    device_ids = [str(e["id"]) for e in entries]
    backend = SimulatedBackend(entries, pending_for=timedelta(seconds=args.pending_for))
    del entries
    bot = await start_bot(settings, host="127.0.0.1", backend=backend,
                          roles=FileRoleDirectory({"Helpdesk Operator": [APPROVER]}))
    pacer = RecordingPacer(args.post_rate, args.post_burst)
    bot.services.runner.notifier.pacer = pacer  # type: ignore[attr-defined]
    return bot, backend, device_ids, pacer


async def main() -> None:
    args = arguments()
    setup_logging(logging.INFO)  # as `passcode-bot serve`: stderr, redacted
    began = time.perf_counter()
    bot, backend, device_ids, pacer = await start(args)
    freeze_startup_heap()  # as `passcode-bot serve` does
    lag, pauses = LagSampler(), GcPauses()
    lag.start()
    pauses.install()
    ctx = bot.app.ctx  # type: ignore[attr-defined]

    async def stats(_: list[str]) -> dict[str, Any]:
        doubled = sum(len(backend.actions_for(d)) > 1 for d in device_ids)
        return {"rss_mb": rss_mb(), "resets_started": backend.resets_started,
                "devices_reset_twice": doubled, "tasks": len(ctx.tasks),
                "approvals_released_max_per_1s": max_in_window(pacer.released)}

    async def lag_report(_: list[str]) -> dict[str, Any]:
        return {**lag.report(), "gc": pauses.report()}

    async def lag_reset(_: list[str]) -> dict[str, bool]:
        lag.samples.clear()
        pauses.pauses.clear()
        return {"ok": True}

    async def settle(_: list[str]) -> dict[str, int]:
        """Wait (at most 30 s) until no listener's background work is left."""
        deadline = time.monotonic() + 30
        while ctx.tasks and time.monotonic() < deadline:
            await asyncio.wait(list(ctx.tasks), timeout=1)
        return {"tasks": len(ctx.tasks)}

    try:
        await serve_commands(
            {"port": bot.port, "pid": os.getpid(), "rss_mb": rss_mb(),
             "startup_s": time.perf_counter() - began},
            {"stats": stats, "lag": lag_report, "lag-reset": lag_reset, "settle": settle},
        )
    finally:
        await lag.stop()
        await bot.stop()


if __name__ == "__main__":
    if "--profile" in sys.argv:
        import cProfile

        cProfile.run("asyncio.run(main())", sys.argv[sys.argv.index("--profile") + 1])
    else:
        asyncio.run(main())
