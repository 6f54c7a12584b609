"""Several `passcode-bot serve` replicas on one database, as an operator runs them: each its own
process (front and worker) on a port of its own, behind a round-robin HTTP load balancer, and a
Slack that retries what did not get a 200 (``X-Slack-Retry-Num``). bench/flow.py drives people
through them while one replica at a time is SIGKILLed, and checks what is left.

Used by tests/reliability/test_replicas.py (small) and ``python -m bench --only replicas``
(1,000 requests). Only 127.0.0.1; every wait is bounded."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
from aiohttp import web

from bench import APPROVALS, APPROVER, SIGNING_SECRET, people
from bench.child import rss_mb
from handlers.demo.driver import sign
from handlers.demo.slack_emulator import SlackEmulator

ROOT = Path(__file__).resolve().parent.parent
SHIM = Path(__file__).resolve().parent / "shim"
SLACK_TIMEOUT = 3.0  # Slack gives up on an answer after 3 s and retries


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def _every_cpu() -> None:
    """In the child: every CPU the machine gave us (the benchmark pins its load generator to
    one, and children inherit it); the replicas share them as the kernel sees fit."""
    if _CPUS:
        os.sched_setaffinity(0, _CPUS)


# -- the replicas ------------------------------------------------------------------------------


class Replica:
    """One `passcode-bot serve` (its front and its worker process), in a session of its own so
    that a kill takes the whole replica at once, as a VM or container dying would."""

    def __init__(self, name: str, env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.port = free_port()
        self.env = {**env, "PORT": str(self.port)}
        self.logs = logs
        self.starts = 0
        self.kills = 0
        self.killed_at: list[float] = []  # time.monotonic() of each kill
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def start(self, timeout: float = 60.0) -> None:
        self.starts += 1
        with (self.logs / f"{self.name}-{self.starts}.log").open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "handlers.cli", "serve", cwd=ROOT, env=self.env,
                stdout=log, stderr=asyncio.subprocess.STDOUT, start_new_session=True,
                preexec_fn=_every_cpu)
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.monotonic() < deadline:
                if not self.alive:
                    raise RuntimeError(f"{self.name} exited at start:\n{self.tail()}")
                try:
                    async with http.get(f"{self.url}/healthz") as answer:
                        if answer.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.name} not healthy after {timeout:g} s:\n{self.tail()}")

    async def kill(self) -> None:
        """SIGKILL to the replica's process group: the front and its worker at once."""
        if self.proc is None or self.proc.returncode is not None:
            return
        self.kills += 1
        self.killed_at.append(time.monotonic())
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        await self.proc.wait()

    async def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.proc.wait(), 20)
        except TimeoutError:
            await self.kill()

    def pids(self) -> list[int]:
        """The front and the processes it started (its worker)."""
        if not self.alive or self.proc is None:
            return []
        found = [self.proc.pid]
        try:
            for task in os.listdir(f"/proc/{self.proc.pid}/task"):
                with open(f"/proc/{self.proc.pid}/task/{task}/children", encoding="ascii") as c:
                    found += [int(p) for p in c.read().split()]
        except OSError:
            pass
        return found

    def rss_mb(self) -> list[float]:
        out = []
        for pid in self.pids():
            with contextlib.suppress(OSError):
                out.append(rss_mb(pid))
        return out

    def tail(self, lines: int = 30) -> str:
        path = self.logs / f"{self.name}-{self.starts}.log"
        try:
            return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


REPLICA_HEADER = "X-Bench-Replica"  # the balancer says which replica answered


class Balancer:
    """Round robin over the replicas, as a load balancer with passive health checks: a
    connection refused goes to the next replica; an answer lost mid-request (the replica died
    holding it) is a 502, and a replica slower than Slack's 3 s a 504, as a real one says."""

    def __init__(self, replicas: list[Replica]) -> None:
        self.replicas = replicas
        self._next = 0
        self._runner: web.AppRunner | None = None
        self._http: aiohttp.ClientSession | None = None
        self.port = 0
        self.statuses: Counter[int] = Counter()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200),
            timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT))
        app = web.Application()
        app.router.add_post("/slack/events", self._forward)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._http is not None:
            await self._http.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._http is not None
        body = await request.read()
        headers = {k: v for k, v in request.headers.items()
                   if k.lower().startswith("x-slack-") or k.lower() == "content-type"}
        status, held = 502, ""
        for _ in range(len(self.replicas)):
            replica = self.replicas[self._next % len(self.replicas)]
            self._next += 1
            try:
                async with self._http.post(f"{replica.url}/slack/events", data=body,
                                           headers=headers) as answer:
                    text = await answer.read()
                    self.statuses[answer.status] += 1
                    return web.Response(status=answer.status, body=text,
                                        content_type=answer.content_type,
                                        headers={REPLICA_HEADER: replica.name})
            except aiohttp.ClientConnectorError:
                continue  # not listening: the next one
            except TimeoutError:
                status, held = 504, replica.name
                break
            except aiohttp.ClientError:
                held = replica.name
                break  # it took the request and died
        self.statuses[status] += 1
        return web.Response(status=status, headers={REPLICA_HEADER: held} if held else None)


# -- Slack: what it sends, and its retries ---------------------------------------------------


@dataclass(frozen=True)
class Delivered:
    answered: str  # the replica whose 2xx Slack took ("": none, after the retries)
    held: list[str]  # replicas that took an earlier attempt and answered nothing
    first_sent: float  # time.monotonic() of the first attempt


class Slack:
    """Sends signed requests to the balancer as Slack would; a delivery that does not get a
    2xx within 3 s is retried (up to 3 times, here after ``retry_after`` s instead of Slack's
    seconds to minutes) with ``X-Slack-Retry-Num``."""

    def __init__(self, url: str, emu: SlackEmulator, retry_after: float = 0.5) -> None:
        self.url = url.rstrip("/") + "/slack/events"
        self.emu = emu
        self.retry_after = retry_after
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=200),
            timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT + 1))
        self.sent = 0
        self.retries = 0
        self.undelivered = 0
        self.latencies: list[float] = []
        self._n = 0

    async def aclose(self) -> None:
        await self.http.close()

    async def deliver(self, body: str) -> str:
        """Once a delivery got a 2xx (Slack then considers it handled): the name of the
        replica that answered it. "" when none did, after Slack's retries."""
        return (await self.deliver_traced(body)).answered

    async def deliver_traced(self, body: str) -> Delivered:
        """``deliver``, and which replicas took an earlier attempt and gave no answer (they
        died holding it, or were too slow), and when the first attempt was sent."""
        held: list[str] = []
        first = time.monotonic()
        for attempt in range(4):
            ts = int(time.time())
            headers = {"Content-Type": "application/x-www-form-urlencoded",
                       "X-Slack-Request-Timestamp": str(ts),
                       "X-Slack-Signature": sign(SIGNING_SECRET, body, ts)}
            if attempt:
                self.retries += 1
                headers |= {"X-Slack-Retry-Num": str(attempt),
                            "X-Slack-Retry-Reason": "http_error"}
                await asyncio.sleep(self.retry_after)
            self.sent += 1
            began = time.perf_counter()
            try:
                async with self.http.post(self.url, data=body.encode(), headers=headers) as r:
                    await r.read()
                    if 200 <= r.status < 300:
                        self.latencies.append(time.perf_counter() - began)
                        return Delivered(r.headers.get(REPLICA_HEADER, "?"), held, first)
                    if r.headers.get(REPLICA_HEADER):
                        held.append(r.headers[REPLICA_HEADER])
            except (aiohttp.ClientError, TimeoutError):
                pass
        self.undelivered += 1
        return Delivered("", held, first)

    def command(self, user_id: str, text: str) -> str:
        self._n += 1
        return urlencode({
            "token": "legacy-unused", "team_id": "T0TEAM", "channel_id": "C0GENERAL",
            "user_id": user_id, "command": "/passcode", "text": text,
            "response_url": self.emu.response_url(f"cluster{self._n}"),
            "trigger_id": self.emu.new_trigger_id(user_id), "api_app_id": "A0PASSCODE"})

    def click(self, user_id: str, action_id: str, value: str, channel: str,
              ts: str) -> tuple[str, str]:
        """A button click in a message, and its trigger id."""
        trigger = self.emu.new_trigger_id(user_id)
        payload = {
            "type": "block_actions", "team": {"id": "T0TEAM"},
            "user": {"id": user_id, "team_id": "T0TEAM"}, "api_app_id": "A0PASSCODE",
            "trigger_id": trigger,
            "container": {"type": "message", "message_ts": ts, "channel_id": channel},
            "channel": {"id": channel}, "message": {"ts": ts, "text": ""},
            "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                         "value": value, "action_ts": f"{time.time():.6f}"}],
        }
        return urlencode({"payload": json.dumps(payload)}), trigger


# -- set-up ------------------------------------------------------------------------------------


def write_fleet(path: Path, entries: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps(entries), encoding="utf-8")


def replica_env(*, db_url: str, emu: SlackEmulator, secret: str, work: Path,
                fleet: list[dict[str, Any]], lease_s: float, post_rate: float | None = None,
                ) -> dict[str, str]:
    write_fleet(work / "fleet.json", fleet)
    roles = work / "roles.yaml"
    roles.write_text(f"roles:\n  Helpdesk Operator: [{APPROVER}]\n", encoding="utf-8")
    keep = {k: v for k, v in os.environ.items()
            if not k.upper().startswith(("SLACK_", "DATABASE_URL", "PASSCODE_", "BACKEND",
                                         "FLEET_FILE", "ROLES_", "APPROVALS_", "PORT"))}
    return {
        **keep,
        "PYTHONPATH": os.pathsep.join([str(SHIM), *filter(None, [keep.get("PYTHONPATH")])]),
        "JOB_LEASE_SECONDS": str(lease_s),
        **({"PASSCODE_SHIM_POST_RATE": str(post_rate)} if post_rate else {}),
        "HOST": "127.0.0.1",
        "SLACK_BOT_TOKEN": emu.token,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": emu.api_url,
        "APPROVALS_CHANNEL": APPROVALS,
        "DATABASE_URL": db_url,
        "PASSCODE_BOT_SECRET": secret,
        "ROLES_FILE": str(roles),
        "BACKEND": "simulated",
        "FLEET_FILE": str(work / "fleet.json"),
        "PERSON_ACTIONS_PER_MINUTE": "0",
    }


def emulator_for(fleet: list[dict[str, Any]]) -> SlackEmulator:
    emu = SlackEmulator(strict_triggers=False)
    emu.add_channel(APPROVALS, name="passcode-approvals")
    emu.add_user(APPROVER, name="helen", email="helen.helpdesk@example.com")
    for user_id, email in people.users(fleet).items():
        emu.add_user(user_id, name=email.split("@")[0], email=email)
    return emu

