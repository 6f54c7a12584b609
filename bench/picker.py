"""The device picker at scale: options loads through the real app over HTTP for synthetic
fleets of 1,000 / 10,000 / 100,000 devices, and the cost of one query as the fleet grows."""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from bench import APPROVER, fresh, people
from bench.intune import graph_backend
from bench.load import Run, closed_loop, session
from bench.proc import Child
from bench.report import Tally, f, table
from bench.slack_requests import Prepared, Signer
from bench.stack import Processes
from bot.backends.simulated import SimulatedBackend
from bot.ports import DeviceBackend
from handlers.views import dms

P95_TARGET_MS = 50.0
CONCURRENCY = (1, 10)


def queries(entries: list[dict[str, Any]], seed: int = 1) -> list[str]:
    """What approvers type: name and serial prefixes keystroke by keystroke (Slack sends one
    request per keystroke from the third), the empty query that opens the list, misses."""
    rng = random.Random(seed)
    typed: list[str] = ["", "zzzz", "no such device"]
    for entry in rng.sample(entries, 8):
        name, serial = str(entry["deviceName"]).lower(), str(entry["serialNumber"]).lower()
        typed += [name[:i] for i in range(3, len(name) + 1)]
        typed += [serial[:i] for i in range(3, 9)]
    return typed


def requests_for(signer: Signer, entries: list[dict[str, Any]], count: int) -> list[Prepared]:
    """Mostly an approver searching the whole fleet; every fifth a person picking their own."""
    typed = queries(entries)
    own = people.requesters(entries[:2000])[:20]
    out = []
    for i in range(count):
        if i % 5 == 4:
            who = own[i % len(own)]
            out.append(signer.options(who.user_id, who.device_name.lower()[: 3 + i % 5]))
        else:
            out.append(signer.options(APPROVER, typed[i % len(typed)]))
    return out


Costs = dict[str, dict[int, float]]  # query class -> fleet size -> median microseconds


Fresh = dict[int, tuple[dict[int, Run], dict[str, Any]]]  # fleet size -> bench.fresh results


async def measure(procs: Processes, fleets: list[int], *, requests: int, reps: int,
                  tally: Tally, backend: str = "simulated",
                  ) -> tuple[dict[int, dict[int, Run]], Costs, Fresh]:
    """Per fleet size: options loads over HTTP, then (our server stopped) the in-process cost;
    ``backend`` "intune" runs both on the Intune backend over a fake Graph of the fleet, and
    after the loads, misses and devices enrolled after start (bench.fresh)."""
    signer = Signer(procs.slack_url.removesuffix("api/"))
    results: dict[int, dict[int, Run]] = {}
    costs: Costs = {name: {} for name in QUERY_CLASSES}
    fresh_results: Fresh = {}
    for n in fleets:
        entries = people.fleet(n)
        graph = await procs.graph(n) if backend == "intune" else None
        try:
            results[n] = await _http_runs(procs, signer, entries, requests, tally, graph,
                                          fresh_results)
            measured = await query_costs(entries, reps, graph.ready if graph else None)
        finally:
            if graph is not None:
                await procs.stop(graph)
        for name, micros in measured.items():
            costs[name][n] = micros
        del entries
    return results, costs, fresh_results


async def _http_runs(procs: Processes, signer: Signer, entries: list[dict[str, Any]],
                     requests: int, tally: Tally, graph: Child | None, fresh_results: Fresh,
                     ) -> dict[int, Run]:
    """Options loads over HTTP against our server, at each concurrency, for one fleet; on
    the Intune backend (``graph``: the fake Graph), then bench.fresh's runs."""
    n = len(entries)
    ours = await procs.ours(fleet=n, graph=graph.ready if graph else None)
    try:
        runs: dict[int, Run] = {}
        async with session(max(CONCURRENCY)) as http:
            await ours.ask("lag-reset")
            await closed_loop(http, ours.url, requests_for(signer, entries, 20), 1, 30)
            for conc in CONCURRENCY:
                run = await closed_loop(http, ours.url, requests_for(signer, entries, requests),
                                        conc, 60)
                if run.errors:
                    tally.error(f"picker n={n} c={conc}: {run.errors} answers not 2xx")
                runs[conc] = run
            if graph is not None:
                fresh_results[n] = await fresh.measure(http, ours.url, signer, graph, n, tally)
                fresh_results[n][1]["reload"] = await fresh.during_reload(
                    http, ours, requests_for(signer, entries, 200))
        lag = await ours.ask("lag")
        stats = await ours.ask("stats")
        print(f"  {n:>7,} devices: server ready in {ours.ready['startup_s']:.1f} s, idle RSS "
              f"{ours.ready['rss_mb']:.0f} MB (after: {stats['rss_mb']:.0f} MB), "
              f"max loop lag {f(lag['max_ms'])} ms")
        return runs
    finally:
        await procs.stop(ours)


def print_http(results: dict[int, dict[int, Run]], tally: Tally) -> str:
    header = ["devices", "c", "req/s", "p50 ms", "p95 ms", "p99 ms"]
    rows = [[f"{n:,}", str(c), f(run.rps, 0), f(run.ms(.5)), f(run.ms(.95)), f(run.ms(.99))]
            for n, by_c in results.items() for c, run in by_c.items()]
    text = table(header, rows)
    print(text)
    for n, by_c in results.items():
        worst = max(run.ms(.95) for run in by_c.values())
        tally.target(f"options load p95 < {P95_TARGET_MS:g} ms at {n:,} devices",
                     worst < P95_TARGET_MS, f"{f(worst)} ms")
    return text


# -- the cost of one query, in this process -----------------------------------------------------

QUERY_CLASSES: dict[str, Callable[[list[dict[str, Any]]], str]] = {
    "empty query": lambda e: "",
    "common prefix": lambda e: "pixel",
    "exact serial (1 hit)": lambda e: str(e[-1]["serialNumber"]).lower(),
    "no match": lambda e: "zzzz",
}


async def query_costs(entries: list[dict[str, Any]], reps: int,
                      graph: dict[str, Any] | None = None) -> dict[str, float]:
    """Median microseconds of one search plus building its options, per query class; on the
    Intune backend over the Graph emulator ``graph`` names, if given."""
    if graph is not None:
        async with graph_backend(graph) as intune:
            return await _costs(intune, entries, reps)
    return await _costs(SimulatedBackend(entries), entries, reps)


async def _costs(backend: DeviceBackend, entries: list[dict[str, Any]],
                 reps: int) -> dict[str, float]:
    out = {}
    for name, pick in QUERY_CLASSES.items():
        query, samples = pick(entries), []
        for _ in range(reps):
            started = time.perf_counter()
            dms.device_options(await backend.search_devices(query, limit=100))
            samples.append(time.perf_counter() - started)
        out[name] = statistics.median(samples) * 1e6
        await asyncio.sleep(0)
    return out


def print_costs(costs: Costs, tally: Tally) -> str:
    """The cost table, and each growth between fleet sizes next to n log n's."""
    fleets = sorted(next(iter(costs.values())))
    pairs = list(itertools.pairwise(fleets))
    header = ["query", *[f"{n:,} µs" for n in fleets],
              *[f"×{b // a} growth (n log n: {_nlogn(b) / _nlogn(a):.1f})" for a, b in pairs]]  # noqa: RUF001 - the multiplication sign is intended
    rows, worst = [], 0.0
    for name, by_n in costs.items():
        growth = [by_n[b] / by_n[a] for a, b in pairs]
        worst = max([worst, *(g / (_nlogn(b) / _nlogn(a))
                               for g, (a, b) in zip(growth, pairs, strict=True))])
        rows.append([name, *[f(by_n[n], 0) for n in fleets], *[f(g, 1) for g in growth]])
    text = table(header, rows)
    print(text)
    tally.target("per-query cost grows no faster than n log n", worst <= 1.0,
                 f"worst growth is {worst:.2f} of the n log n growth")
    return text


def _nlogn(n: int) -> float:
    return n * math.log(n)
