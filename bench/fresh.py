"""The picker on the Intune backend when the index has no answer: misses (each a live exact
lookup of the fake Graph: serialNumber eq, then deviceName eq, over the whole fleet) and
devices enrolled in the fake Graph after our server started, found by their serial (the live
lookup) and then by a part of their name (the index, which learnt them)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp

from bench import APPROVER
from bench.load import Run, closed_loop, send
from bench.proc import Child
from bench.report import Tally, f, table
from bench.slack_requests import Prepared, Signer
from bot.backends.fallback import WAIT_S

MISSES = 200
ENROLLED = 20
CONCURRENCY = (1, 10)


def fresh_device(k: int, template: dict[str, Any]) -> dict[str, Any]:
    """Enrolled after start: no name or serial in the synthetic fleet contains these."""
    return {**template, "id": f"f7e5b0c1-0000-4000-8000-{k:012d}",
            "deviceName": f"FRESH-{k:05d}-TAB", "serialNumber": f"NEWSER{k:06d}X",
            "enrolledDateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}


async def during_reload(http: aiohttp.ClientSession, ours: Child,
                        requests: list[Prepared]) -> tuple[Run, float]:
    """Options loads one after another (c=1) while the front, which answers them, reloads
    its whole index, as it does every 15 minutes; and how long the reload took."""
    reload = asyncio.create_task(ours.ask("reload"))
    run, url = Run(), ours.url.rstrip("/") + "/slack/events"
    began = time.perf_counter()
    for request in itertools.cycle(requests):
        if reload.done():
            break
        await send(http, url, request, run)
    answer = await reload
    run.wall = time.perf_counter() - began
    return run, float(answer["seconds"])


async def measure(http: aiohttp.ClientSession, url: str, signer: Signer, graph: Child,
                  n: int, tally: Tally) -> tuple[dict[int, Run], dict[str, Any]]:
    """Miss runs at each concurrency, then the enrolled devices, one at a time."""
    misses: dict[int, Run] = {}
    asked: dict[int, int] = {}  # misses Graph was asked about (the rest: all lookups busy)
    for conc in CONCURRENCY:
        typed = [f"nosuch-{conc}-{i:05d}-q" for i in range(MISSES)]  # never typed before
        before = await graph.ask("lookups")
        run = await closed_loop(http, url, [signer.options(APPROVER, t) for t in typed],
                                conc, 120)
        asked[conc] = (await graph.ask("lookups") - before) // 2  # serialNumber, deviceName
        if run.errors:
            tally.error(f"picker misses n={n} c={conc}: {run.errors} answers not 2xx")
        misses[conc] = run
    added = await graph.ask("enrol", ENROLLED)
    by_serial, by_name, found_serial, found_name = Run(), Run(), 0, 0
    for device in added:
        found_serial += device["id"] in await _ask(http, url, signer, device["serial"].lower(),
                                                   by_serial)
        found_name += device["id"] in await _ask(http, url, signer, device["name"][:11].lower(),
                                                 by_name)
    tally.target(f"a device enrolled after start is found by its serial at {n:,} devices",
                 found_serial == len(added), f"{found_serial}/{len(added)}")
    tally.target(f"...and on the next keystroke by a part of its name at {n:,} devices",
                 found_name == len(added), f"{found_name}/{len(added)}")
    worst = max(run.ms(.95) for run in misses.values())
    tally.target(f"a miss (live lookup) is answered within the lookup's {WAIT_S:g} s at "
                 f"{n:,} devices", worst < WAIT_S * 1000, f"p95 {f(worst)} ms")
    return misses, {"asked": asked, "serial": by_serial, "name": by_name,
                    "found_serial": found_serial, "found_name": found_name,
                    "enrolled": len(added)}


async def _ask(http: aiohttp.ClientSession, url: str, signer: Signer, text: str,
               run: Run) -> list[str]:
    """One options load: its latency goes into ``run``; the option values come back."""
    request = signer.options(APPROVER, text)
    started = time.perf_counter()
    async with http.post(url.rstrip("/") + "/slack/events", data=request.body,
                         headers=request.headers) as resp:
        body = await resp.read()
        run.statuses[resp.status] += 1
    run.latencies.append(time.perf_counter() - started)
    run.wall += run.latencies[-1]
    return [o["value"] for o in json.loads(body or b"{}").get("options", [])]


def print_table(results: dict[int, tuple[dict[int, Run], dict[str, Any]]]) -> str:
    """Misses, enrolled devices and (if measured) the loads during a full reload."""
    header = ["devices", "what", "c", "loads", "p50 ms", "p95 ms", "p99 ms", "asked / found"]
    rows = []
    for n, (misses, enrolled) in results.items():
        for conc, run in misses.items():
            rows.append([f"{n:,}", "miss: live lookup", str(conc), str(len(run.latencies)),
                         f(run.ms(.5)), f(run.ms(.95)), f(run.ms(.99)),
                         f"{enrolled['asked'][conc]} asked"])
        for key, what in (("serial", "enrolled after start: its serial"),
                          ("name", "then a part of its name")):
            run = enrolled[key]
            rows.append([f"{n:,}", what, "1", str(len(run.latencies)), f(run.ms(.5)),
                         f(run.ms(.95)), f(run.ms(.99)),
                         f"{enrolled['found_' + key]}/{enrolled['enrolled']}"])
        if "reload" in enrolled:
            run, seconds = enrolled["reload"]
            rows.append([f"{n:,}", f"during a full reload ({seconds:.1f} s)", "1",
                         str(len(run.latencies)), f(run.ms(.5)), f(run.ms(.95)),
                         f(run.ms(1.0)) + " (max)", "-"])
    text = table(header, rows)
    print(text)
    return text
