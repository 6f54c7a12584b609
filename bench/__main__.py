"""`python -m bench [--quick]`: ack latency against bare Bolt, a steady reset stream, the
device picker at 1,000 / 10,000 / 100,000 devices, N requests end to end, and replicas on
PostgreSQL (requests/s with 1 and 2, N requests on 3 while one at a time is SIGKILLed).
Prints PASS or MISS per target; exits 1 only when a run had errors (non-2xx answers, lost or
doubled work)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from bench import acks, e2e, fresh, people, pg, picker, replicas, steady
from bench.proc import EMULATOR_PRIORITY_ENV, layout
from bench.report import Tally
from bench.stack import Processes

PHASES = ("acks", "steady", "picker", "e2e", "replicas")


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer requests: under a minute")
    parser.add_argument("--only", default=",".join(PHASES),
                        help=f"comma-separated phases among {', '.join(PHASES)} (default: all)")
    parser.add_argument("--requests", type=int, help="requests per ack cell (1000; quick 100)")
    parser.add_argument("--fleets", default="1000,10000,100000", help="picker fleet sizes")
    parser.add_argument("--picker-backend", choices=("simulated", "intune"), default="simulated",
                        help="the picker's backend: the simulated fleet, or the Intune backend "
                             "on a fake Graph serving the same devices")
    parser.add_argument("--e2e-requests", type=int, help="end-to-end requests (1000; quick 200)")
    parser.add_argument("--post-rate", type=float, default=50.0,
                        help="approvals posts per second in the end-to-end run (the product "
                             "default is 1/s, Slack's limit; 1,000 requests would take 1,000 s)")
    parser.add_argument("--steady-seconds", type=float, default=10.0)
    parser.add_argument("--database-url",
                        help="a PostgreSQL server for the PostgreSQL runs (a fresh schema in it "
                             "each; default TEST_DATABASE_URL or "
                             "postgresql://postgres@127.0.0.1:5432/test)")
    parser.add_argument("--ack-stores", choices=("sqlite", "sqlite,postgres"),
                        default="sqlite,postgres",
                        help="the ack phase's stores for ours (default both, in one run)")
    parser.add_argument("--replica-requests", type=int,
                        help="requests on 3 replicas with kills (1000; quick 100)")
    parser.add_argument("--throughput-requests", type=int,
                        help="requests for requests/s with 1 and 2 replicas (300; quick 50)")
    parser.add_argument("--shared-machine", action="store_true",
                        help="other programs may be busy on this machine (CI): the emulators "
                             "and our worker run at normal priority instead of idle, so none of "
                             "them waits on another program for as long as it runs (the figures "
                             "are then not a quiet machine's)")
    parser.add_argument("--kill-every", default="3,6",
                        help="seconds between SIGKILLs of a replica, a range 'a,b' (0: none)")
    args = parser.parse_args(argv)
    unknown = set(args.only.split(",")) - set(PHASES)
    if unknown:
        parser.error(f"unknown phase {', '.join(sorted(unknown))}")
    args.requests = args.requests or (100 if args.quick else 1000)
    args.e2e_requests = args.e2e_requests or (200 if args.quick else 1000)
    args.replica_requests = args.replica_requests or (100 if args.quick else 1000)
    args.throughput_requests = args.throughput_requests or (50 if args.quick else 300)
    every = [float(x) for x in args.kill_every.split(",")]
    args.kill_range = None if every == [0.0] else (every[0], every[-1])
    return args


async def run(args: argparse.Namespace, work: Path) -> Tally:
    tally = Tally()
    phases = set(args.only.split(","))
    fleets = [int(n) for n in args.fleets.split(",")]
    biggest = max([e2e.FLEET, *(fleets if "picker" in phases else [])])
    procs = await Processes.start(work, fleet=biggest)
    requesters = people.requesters(people.fleet(e2e.FLEET))
    try:
        if "acks" in phases:
            print("\n== Ack latency: ours (SQLite, PostgreSQL) vs bare Bolt, closed loop ==")
            async with contextlib.AsyncExitStack() as stack:
                postgres = None
                if args.ack_stores != "sqlite":
                    server = pg.server_url(args.database_url)
                    problem = await pg.unreachable(server)
                    if problem is not None:
                        tally.error(f"acks: PostgreSQL not reachable at {server}: {problem} "
                                    f"(--ack-stores sqlite runs without it)")
                    else:
                        postgres = await stack.enter_async_context(pg.fresh_schema(server))
                results = await acks.measure(procs, requesters, requests=args.requests,
                                             time_limit=3 if args.quick else 15, tally=tally,
                                             postgres=postgres)
            acks.print_table(results, tally)
        if "steady" in phases:
            print("\n== Steady stream of resets, open loop ==")
            await steady.measure(procs, requesters, rate=20, seconds=args.steady_seconds,
                                 tally=tally)
        if "picker" in phases:
            print("\n== Device picker: options loads over HTTP ==")
            by_fleet, costs, fresh_runs = await picker.measure(
                procs, fleets, requests=100 if args.quick else 1000,
                reps=15 if args.quick else 50, tally=tally, backend=args.picker_backend)
            picker.print_http(by_fleet, tally)
            if fresh_runs:
                print("\n  when the index has no answer (Intune backend, the fake Graph):")
                fresh.print_table(fresh_runs)
            print("\n  cost of one query in-process (search + options), median of repeats:")
            picker.print_costs(costs, tally)
        if "e2e" in phases:
            print(f"\n== End to end: {args.e2e_requests} requests ==")
            await e2e.measure(procs, requesters, count=args.e2e_requests,
                              post_rate=args.post_rate, time_limit=60 if args.quick else 300,
                              tally=tally)
    finally:
        await procs.stop(procs.slack)
    if "replicas" in phases:
        print(f"\n== Replicas on PostgreSQL: {args.replica_requests} requests ==")
        await replicas.measure(work, server=args.database_url, count=args.replica_requests,
                               throughput_count=args.throughput_requests,
                               post_rate=args.post_rate, kill_every=args.kill_range,
                               tally=tally)
    return tally


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    began = time.perf_counter()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"passcode-bot benchmark: {os.cpu_count()} cores, load average {load}, Python "
          f"{platform.python_version()}, slack-bolt {version('slack-bolt')}, "
          f"aiohttp {version('aiohttp')}{' (quick)' if args.quick else ''}")
    if args.shared_machine:  # every child reads its priority from its environment
        os.environ.update({EMULATOR_PRIORITY_ENV: "normal", "WORKER_PRIORITY": "normal"})
        print("  shared machine: the emulators and our worker at normal priority, not idle")
    client, server = layout()
    if client is not None:
        os.sched_setaffinity(0, {client})
        print(f"  load generator and Slack emulator on CPU {client}; every server (ours: front "
              f"and worker) on CPU {server}")
    work = Path(tempfile.mkdtemp(prefix="passcode-bench-"))
    try:
        tally = asyncio.run(run(args, work))
    except Exception as exc:  # noqa: BLE001 - a server that would not start, a child that died
        print(f"\nbenchmark failed: {type(exc).__name__}: {exc}\n(logs and databases kept in "
              f"{work})", file=sys.stderr)
        return 1
    if tally.errors:
        print(f"\nlogs and databases kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{len(tally.misses)} target(s) missed, {len(tally.errors)} error(s) in "
          f"{time.perf_counter() - began:.0f} s")
    for miss in tally.misses:
        print(f"  MISS {miss}")
    return 1 if tally.errors else 0


if __name__ == "__main__":
    sys.exit(main())
