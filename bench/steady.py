"""A steady stream of resets (20/s for 10 s by default, open loop: requests keep coming
whatever the answers do), each by a new person for their own device, so every one creates a
request, looks the person up, writes SQLite and queues Slack posts behind the 1/s pacer.
Reports ack latency and the largest event-loop stall seen inside our server."""

from __future__ import annotations

from typing import Any

from bench import APPROVER
from bench.load import Run, closed_loop, open_loop, session
from bench.people import Requester
from bench.report import Tally, f
from bench.slack_requests import Signer
from bench.stack import Processes

ACK_TARGET_MS = 50.0
LAG_TARGET_MS = 50.0


async def measure(procs: Processes, requesters: list[Requester], *, rate: float,
                  seconds: float, tally: Tally) -> dict[str, float]:
    ours = await procs.ours(fleet=5000)  # the product's default pacing: 1 post/s per channel
    signer = Signer(procs.slack_url.removesuffix("api/"))
    count = int(rate * seconds)
    people = requesters[-count:]  # nobody the other phases use first
    try:
        async with session(50) as http:
            warm = [signer.command(APPROVER, "help") for _ in range(10)]
            await closed_loop(http, ours.url, warm, 1, 30)
            await ours.ask("lag-reset")
            batch = [signer.command(p.user_id, f"reset {p.device_name}", "reset") for p in people]
            run = await open_loop(http, ours.url, batch, rate)
        lag = await ours.ask("lag")
        await ours.ask("settle")
        stats = await ours.ask("stats")
    finally:
        await procs.stop(ours)
    if run.errors:
        tally.error(f"steady: {run.errors} answers not 2xx ({dict(run.statuses)})")
    return _report(run, lag, stats, rate, seconds, tally)


def _report(run: Run, lag: dict[str, Any], stats: dict[str, Any], rate: float,
            seconds: float, tally: Tally) -> dict[str, float]:
    gc, max_lag = lag["gc"], float(lag["max_ms"])
    print(f"  {len(run.latencies)} resets at {rate:g}/s for {seconds:g} s: ack p50 {f(run.ms(.5))}"
          f" ms, p95 {f(run.ms(.95))}, p99 {f(run.ms(.99))}, max {f(run.ms(1))}")
    print(f"  event loop inside our server: max lag {f(max_lag)} ms, p99 {f(lag['p99_ms'])} ms "
          f"over {lag['samples']} samples; garbage collections {gc['collections']} "
          f"({gc['full']} full), longest {f(gc['max_ms'])} ms; RSS after {stats['rss_mb']:.0f} MB")
    tally.target(f"steady {rate:g} resets/s: ack p99 < {ACK_TARGET_MS:g} ms",
                 run.ms(.99) < ACK_TARGET_MS, f"{f(run.ms(.99))} ms")
    tally.target(f"steady {rate:g} resets/s: no event-loop stall >= {LAG_TARGET_MS:g} ms",
                 max_lag < LAG_TARGET_MS, f"max lag {f(max_lag)} ms")
    return {"p50": run.ms(.5), "p99": run.ms(.99), "max_lag": max_lag}
