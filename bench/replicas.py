"""Replicas on PostgreSQL (bench/cluster.py): completed requests/s end to end with 1 and 2
`passcode-bot serve` replicas behind a round-robin balancer, the RSS of each process; then N
requests on 3 replicas while one at a time is SIGKILLed every few seconds and started again:
every request completed, one request, one reset, one approvals post and one result DM each,
and the wall time."""

from __future__ import annotations

import base64
import os
import statistics
from pathlib import Path

from bench import cluster, flow, people, pg
from bench.report import Tally, f, table

THROUGHPUT_POST_RATE = 1000.0
LEASE_S = 10.0  # JOB_LEASE_SECONDS: how soon a killed replica's jobs come back (default 120 s)


async def one_run(work: Path, server: str, requesters: list[people.Requester],
                  fleet: list[dict[str, object]], *, replicas: int, rate: float,
                  post_rate: float, kill_every: tuple[float, float] | None,
                  ) -> tuple[flow.Run, list[list[float]]]:
    secret = base64.urlsafe_b64encode(os.urandom(32)).decode()
    async with pg.fresh_schema(server) as url:
        emu = cluster.emulator_for(fleet)
        async with emu:
            run_dir = work / f"replicas{replicas}-{'kill' if kill_every else 'steady'}"
            run_dir.mkdir(parents=True, exist_ok=True)
            env = cluster.replica_env(db_url=url, emu=emu, secret=secret, work=run_dir,
                                      fleet=fleet, lease_s=LEASE_S,
                                      post_rate=post_rate)
            servers = [cluster.Replica(f"replica{i}", env, run_dir) for i in range(replicas)]
            rss: list[list[float]] = []
            try:
                run = await flow.run(servers, emu, url, requesters, rate=rate,
                                        kill_every=kill_every, wait=LEASE_S + 60)
                rss = [s.rss_mb() for s in servers]
            finally:
                for s in servers:
                    await s.stop()
    return run, rss


def _check(tally: Tally, what: str, run: flow.Run, count: int) -> None:
    """Lost or doubled work is an error; work done slowly (flow.SLOW) a target missed."""
    late = run.verdict.problems.get("late", [])
    tally.target(f"{what}: every acknowledged step stored within {flow.LATE_S:g} s",
                 not late, f"{len(late)} late" + (f", e.g. {late[0]}" if late else ""))
    after = run.verdict.problems.get("modal-after-trigger", [])
    tally.target(f"{what}: every Show passcode modal within the trigger's {flow.TRIGGER_S:g} s",
                 not after, f"{len(after)} after it" + (f", e.g. {after[0]}" if after else ""))
    for line in run.verdict.lines():
        if line.split(":")[0] not in flow.SLOW:
            tally.error(f"{what}: {line}")
    if run.verdict.facts.get("completed_flows") != count and not run.verdict.problems:
        tally.error(f"{what}: {run.verdict.facts}")


async def measure(work: Path, *, server: str | None, count: int, throughput_count: int,
                  post_rate: float, kill_every: tuple[float, float] | None,
                  tally: Tally) -> None:
    url = pg.server_url(server)
    problem = await pg.unreachable(url)
    if problem is not None:
        tally.error(f"replicas: PostgreSQL not reachable at {url}: {problem}")
        return
    fleet = people.fleet(max(5000, 5 * count))
    requesters = people.requesters(fleet)

    rows = []
    for n in (1, 2):
        run, rss = await one_run(work, url, requesters[:throughput_count], fleet, replicas=n,
                                 rate=200.0, post_rate=THROUGHPUT_POST_RATE, kill_every=None)
        _check(tally, f"{n} replica(s)", run, throughput_count)
        per = ", ".join("+".join(f"{m:.0f}" for m in r) for r in rss)
        acks = sorted(run.slack["latencies"])
        rows.append([str(n), str(throughput_count), f(run.wall, 1),
                     f(throughput_count / run.wall, 1),
                     f(1000 * statistics.median(acks)) if acks else "-",
                     f(1000 * acks[int(0.99 * (len(acks) - 1))]) if acks else "-", per])
    print(f"  {throughput_count} requests end to end (reset, approve, show passcode), all sent "
          f"at once (200/s); approvals posts paced at {THROUGHPUT_POST_RATE:g}/s per replica (the "
          f"bot, not Slack's 1/s, is measured); RSS in MB per replica, front+worker, after the run")
    print(table(["replicas", "requests", "wall s", "completed/s", "ack p50 ms", "ack p99 ms",
                 "RSS MB (front+worker)"], rows))

    if kill_every is None:
        print(f"\n  {count} requests on 3 replicas, no kills (--kill-every 0)")
    else:
        print(f"\n  {count} requests on 3 replicas, one SIGKILLed every {kill_every[0]:g}-"
              f"{kill_every[1]:g} s and started again (job lease {LEASE_S:g} s)")
    run, _ = await one_run(work, url, requesters[:count], fleet, replicas=3, rate=20.0,
                           post_rate=post_rate, kill_every=kill_every)
    facts = run.verdict.facts
    print(f"  wall {f(run.wall, 1)} s for {count} requests; {len(run.kills)} kills; "
          f"database {facts.get('states')}; {facts.get('backend_actions')} backend actions, "
          f"{facts.get('approvals_posts')} approvals posts, {facts.get('result_dms')} result "
          f"DMs; Slack sent {run.slack['sent']} deliveries ({run.slack['retries']} retries, "
          f"{run.slack['undelivered']} never acknowledged), balancer {run.slack['balancer']}")
    for kind in run.verdict.problems:
        print(f"    {kind}: {flow.KINDS.get(kind, '')}")
    _check(tally, "3 replicas", run, count)
    tally.target("replicas: every request completed, nothing doubled",
                 not set(run.verdict.problems) - flow.SLOW,
                 f"{facts.get('completed_flows')} of {count} flows completed")
