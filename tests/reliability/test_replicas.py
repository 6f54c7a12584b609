"""Three `passcode-bot serve` replicas on one PostgreSQL schema, behind a round-robin load
balancer (bench/cluster.py), against the Slack emulator and the simulated backend. People ask
for resets, an approver approves each as its post appears, and each person shows the passcode
(bench/flow.py),
while one replica at a time is SIGKILLed (front and worker at once) every few seconds and
started again. Afterwards the database and the Slack emulator must agree: every request
completed, one request and one backend reset per device, one approvals post and one result DM
per request, no job left.

Whatever goes wrong is named by kind (bench/flow.py ``KINDS``), and any kind fails the test
but the slow ones (``flow.SLOW``): a step stored long after its ack on a machine too busy, and a
Show passcode whose modal a worker opened after the replica that acked the click was killed
before it could (with Slack the person is then told to click again). Both are reported."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from bench import cluster, flow, people
from tests import databases

N = 30
REPLICAS = 3
LEASE_S = 10.0  # JOB_LEASE_SECONDS: a killed replica's jobs come back after it
KILL_EVERY = (3.0, 6.0)


@pytest.fixture
def pg_url(postgres_server: str) -> object:
    with databases.fresh_schema(postgres_server) as url:
        yield url


async def test_replicas_killed_at_random_lose_nothing_and_double_nothing(
        pg_url: str, tmp_path: Path, secret: str) -> None:
    fleet = people.fleet(4 * N)
    requesters = people.requesters(fleet)[:N]
    assert len(requesters) == N
    emu = cluster.emulator_for(fleet)
    async with emu:
        env = cluster.replica_env(db_url=pg_url, emu=emu, secret=secret, work=tmp_path,
                                  fleet=fleet, lease_s=LEASE_S)
        replicas = [cluster.Replica(f"replica{i}", env, tmp_path) for i in range(REPLICAS)]
        try:
            run = await flow.run(replicas, emu, pg_url, requesters, rate=1.5,
                                    kill_every=KILL_EVERY, wait=LEASE_S + 30,
                                    seed=random.randrange(1 << 30))
        finally:
            for replica in replicas:
                await replica.stop()
    verdict = run.verdict
    report = "\n".join([f"kills: {', '.join(run.kills)}", f"facts: {verdict.facts}",
                        f"slack: { {k: v for k, v in run.slack.items() if k != 'latencies'} }",
                        *verdict.lines()])
    assert run.kills, "no replica was killed: the run was too short to test anything"
    wrong = set(verdict.problems) - flow.SLOW
    assert not wrong, "\n".join([*(f"{k}: {flow.KINDS.get(k, '')}" for k in wrong), report])
    assert verdict.facts["completed_flows"] == N, report
