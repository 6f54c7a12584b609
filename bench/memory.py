"""Idle RSS per process, as an operator runs them: `python -m bench.memory [--devices 100000]
[--backend simulated|intune|both] [--roles serve,web,worker]`.

Each role is started as `passcode-bot <role>` with its settings in the environment (a SQLite
file of its own, the Slack emulator in this process): ``serve`` is the front and its worker
child (BACKGROUND_WORK=process), ``web`` and ``worker`` one process each. The simulated backend
reads a FLEET_FILE (JSON) of the synthetic fleet; the Intune backend a fake Graph
(bench.serve_graph, a process of its own) serving the same devices. Once a process is up (and
on Intune its device index loaded), the front gets a few picker loads (an approver's and a
requester's), then every process is left alone for ``--settle`` seconds and its VmRSS read
(/proc/<pid>/status), with its peak (VmHWM). Target: every process under 150 MB idle.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench import APPROVALS, APPROVER, SIGNING_SECRET, people
from bench.cluster import ROOT, emulator_for, free_port, write_fleet
from bench.proc import Child
from bench.slack_requests import Signer

RSS_TARGET_MB = 150.0
ROLES = ("serve", "web", "worker")


def status_mb(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def children(pid: int) -> list[int]:
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as c:
                found += [int(p) for p in c.read().split()]
    return found


def base_env(work: Path, emu: Any, backend: str, graph: dict[str, Any] | None) -> dict[str, str]:
    roles = work / "roles.yaml"
    roles.write_text(f"roles:\n  Helpdesk Operator: [{APPROVER}]\n", encoding="utf-8")
    keep = {k: v for k, v in os.environ.items()
            if not k.upper().startswith(("SLACK_", "DATABASE_URL", "PASSCODE_", "BACKEND",
                                         "FLEET_FILE", "ROLES_", "APPROVALS_", "PORT", "AZURE_",
                                         "GRAPH_"))}
    env = {**keep, "HOST": "127.0.0.1", "SLACK_BOT_TOKEN": emu.token,
           "SLACK_SIGNING_SECRET": SIGNING_SECRET, "SLACK_API_URL": emu.api_url,
           "APPROVALS_CHANNEL": APPROVALS, "ROLES_FILE": str(roles),
           "PASSCODE_BOT_SECRET": base64.urlsafe_b64encode(os.urandom(32)).decode(),
           "BACKEND": backend, "PERSON_ACTIONS_PER_MINUTE": "0"}
    if backend == "simulated":
        env["FLEET_FILE"] = str(work / "fleet.json")
    else:
        assert graph is not None
        env["SSL_CERT_FILE"] = graph["ca_bundle"]
        env.update({k.upper(): str(v) for k, v in graph["settings"].items()})
    return env


async def options(http: aiohttp.ClientSession, url: str, user_id: str, value: str) -> int:
    """One picker load; how many options it answered (-1: no 200)."""
    load = Signer("http://127.0.0.1/").options(user_id, value)
    async with http.post(f"{url}/slack/events", data=load.body, headers=load.headers) as answer:
        data = await answer.read()
        return len(json.loads(data).get("options", [])) if answer.status == 200 and data else -1


async def wait_log(log: Path, text: str, proc: asyncio.subprocess.Process, timeout: float
                   ) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if proc.returncode is not None:
            raise RuntimeError(f"exited:\n{log.read_text(errors='replace')[-3000:]}")
        if text in log.read_text(errors="replace"):
            return time.monotonic() - began
        await asyncio.sleep(0.1)
    raise RuntimeError(f"no {text!r} after {timeout:g} s:\n"
                       f"{log.read_text(errors='replace')[-3000:]}")


async def steady(pid: int, timeout: float = 180.0) -> None:
    """Until no process of ``pid``'s (it and its children) has grown by 1 MB in 2 s."""
    began, last = time.monotonic(), [-1.0]
    while time.monotonic() - began < timeout:
        await asyncio.sleep(2.0)
        now = [status_mb(p, "VmRSS") for p in [pid, *children(pid)]]
        if len(now) == len(last) and all(abs(a - b) < 1.0 for a, b in zip(now, last, strict=True)):
            return
        last = now


async def one_role(role: str, env: dict[str, str], work: Path, backend: str,
                   entries: list[dict[str, Any]], settle: float) -> dict[str, Any]:
    port = free_port()
    log = work / f"{backend}-{role}.log"
    env = {**env, "PORT": str(port), "DATABASE_URL": f"sqlite:///{work}/{backend}-{role}.db",
           }
    began = time.monotonic()
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "handlers.cli", role, cwd=ROOT, env=env, stdout=out,
            stderr=asyncio.subprocess.STDOUT, start_new_session=True)
    try:
        up = "worker running" if role == "worker" else "listening on port"
        await wait_log(log, up, proc, 180)
        if role == "serve":
            await wait_log(log, "worker running", proc, 180)
        ready = time.monotonic() - began
        if backend == "intune" and role != "worker":  # the front's index is loaded...
            await wait_log(log, "device index refreshed", proc, 180)
        await steady(proc.pid)  # ...and any other process's too, if it builds one
        loaded = time.monotonic() - began
        answers: list[int] = []
        if role != "worker":
            url = f"http://127.0.0.1:{port}"
            own = people.requesters(entries[:2000])[0]
            async with aiohttp.ClientSession() as http:
                for who, value in ((APPROVER, ""), (APPROVER, "ph"), (APPROVER, entries[7]
                                   ["deviceName"][:6].lower()), (own.user_id, own.device_name
                                   [:3].lower()), (APPROVER, "no such device")):
                    answers.append(await options(http, url, who, value))
        await asyncio.sleep(settle)
        pids = [proc.pid, *children(proc.pid)]
        names = ["front" if role == "serve" else role, "worker"][: len(pids)]
        per = {name: (status_mb(pid, "VmRSS"), status_mb(pid, "VmHWM"))
               for name, pid in zip(names, pids, strict=False)}
        return {"role": role, "ready_s": ready, "loaded_s": loaded, "answers": answers,
                "rss": per}
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 30)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                await proc.wait()


async def run(args: argparse.Namespace) -> int:
    entries = people.fleet(args.devices)
    backends = ("simulated", "intune") if args.backend == "both" else (args.backend,)
    missed = 0
    print(f"Idle RSS per process, {args.devices:,} devices (target < {RSS_TARGET_MB:g} MB); "
          f"load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        work = Path(tmp)
        write_fleet(work / "fleet.json", entries)
        emu = emulator_for(entries)
        async with emu:
            for backend in backends:
                graph = None
                if backend == "intune":
                    graph = await Child.start("graph", "bench.serve_graph", "--fleet",
                                              str(args.devices), log_dir=work, timeout=300)
                try:
                    env = base_env(work, emu, backend, graph.ready if graph else None)
                    for role in args.roles.split(","):
                        got = await one_role(role, env, work, backend, entries, args.settle)
                        for name, (rss, peak) in got["rss"].items():
                            ok = rss < RSS_TARGET_MB
                            missed += not ok
                            print(f"  {backend:9} {role:6} {name:6} idle {rss:6.1f} MB  "
                                  f"peak {peak:6.1f} MB  {'PASS' if ok else 'MISS'}")
                        print(f"  {backend:9} {role:6} listening after {got['ready_s']:.1f} s,"
                              f" index loaded after {got['loaded_s']:.1f} s; picker answers "
                              f"(options each): {got['answers']}")
                finally:
                    if graph is not None:
                        await graph.stop()
    print(f"  {missed or 'no'} process(es) over the target; load average after: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0  # a target missed never fails the run (as `python -m bench`)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--backend", choices=("simulated", "intune", "both"), default="both")
    parser.add_argument("--roles", default=",".join(ROLES))
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds left idle before RSS is read")
    args = parser.parse_args(argv)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
