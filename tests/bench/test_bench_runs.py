"""`python -m bench` itself, small: every phase runs against the real processes (front and
worker, bare Bolt, the Slack emulator) and exits 0 with no errors. Its timing targets may
print MISS on a busy machine; only errors (answers not 2xx, requests lost or doubled) fail.
Every run says --shared-machine: at idle priority, the emulators and our worker could wait on a
program of the CI machine's for as long as it ran (it once did: no approvals post in 5 s)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_small_run_of_every_phase_has_no_errors() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--shared-machine", "--requests", "20",
         "--fleets", "1000", "--e2e-requests", "30", "--steady-seconds", "1",
         "--only", "acks,steady,picker,e2e", "--ack-stores", "sqlite"],
        cwd=REPO, capture_output=True, text=True, timeout=170, check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert " 0 error(s)" in out, out
    for section in ("Ack latency", "Steady stream", "Device picker", "End to end: 30 requests"):
        assert section in out, out
    assert "database: {'completed': 30}" in out, out


def test_the_picker_runs_on_the_intune_backend_over_a_fake_graph() -> None:
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--shared-machine", "--only", "picker",
         "--fleets", "1000", "--picker-backend", "intune"],
        cwd=REPO, capture_output=True, text=True, timeout=170, check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert " 0 error(s)" in out, out
    assert "1,000 devices: server ready" in out, out


def test_the_postgresql_phases_run(postgres_server: str) -> None:
    """Ours on PostgreSQL in the ack phase, and the replicas phase (1 and 2 replicas, then 3;
    no kills here: tests/reliability/test_replicas.py is the kill test)."""
    run = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--shared-machine", "--only", "acks,replicas",
         "--requests", "20", "--database-url", postgres_server, "--replica-requests", "20",
         "--throughput-requests", "10", "--kill-every", "0"],
        cwd=REPO, capture_output=True, text=True, timeout=170, check=False,
    )
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert " 0 error(s)" in out, out
    for section in ("ours on PostgreSQL", "Replicas on PostgreSQL", "20 of 20 flows completed"):
        assert section in out, out
    assert "|        2 |       10 |" in out, out
