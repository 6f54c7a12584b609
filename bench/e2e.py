"""End to end: N resets through request -> approve -> execute -> deliver on the simulated
backend, an approver clicking Approve as each approvals post appears. Afterwards the SQLite
database, the backend and the Slack emulator's recorded calls must agree: N completed, N
backend actions, N approvals posts, N waiting DMs and N result DMs, one per request."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import APPROVER
from bench.load import Run, closed_loop, send, session
from bench.people import Requester
from bench.proc import Child
from bench.report import Tally, f
from bench.slack_requests import Signer
from bench.stack import Processes
from handlers.slack.pacing import DEFAULT_BURST

FLEET = 5000


@dataclass
class Outcome:
    wall: float
    acks: Run
    db: dict[str, Any]
    server: dict[str, Any]
    slack: dict[str, Any]


async def measure(procs: Processes, requesters: list[Requester], *, count: int,
                  post_rate: float, time_limit: float, tally: Tally) -> Outcome:
    await procs.slack.ask("clear")
    ours = await procs.ours(fleet=FLEET, post_rate=post_rate, pending_for=0.05)
    db = procs.work / f"{ours.name}.db"
    signer = Signer(procs.slack_url.removesuffix("api/"))
    commands = [signer.command(r.user_id, f"reset {r.device_name}", "reset")
                for r in requesters[:count]]
    acks = Run()
    # Stop waiting once nothing has moved for a while: something was lost; say so at once.
    wait = Waiting(time.perf_counter() + time_limit, stall_s=max(5.0, 3 / post_rate))
    try:
        async with session(20) as http:
            await closed_loop(http, ours.url, [signer.command(APPROVER, "help")], 1, 30)
            began = time.perf_counter()
            requesting = asyncio.create_task(closed_loop(http, ours.url, commands, 10, time_limit))
            await _approve_as_posted(procs.slack, http, ours.url, signer, count, acks, wait,
                                     requesting)
            acks.extend(await requesting)

            async def completed() -> int:
                return _completed(db)

            async def result_dms() -> int:
                return len((await procs.slack.ask("summary"))["result_dms"])

            await wait.until(completed, count)
            await wait.until(result_dms, count)
            wall = time.perf_counter() - began
            slack = await procs.slack.ask("summary")
        await ours.ask("settle")
        server = await ours.ask("stats")
    finally:
        await procs.stop(ours)
    outcome = Outcome(wall, acks, _read_db(db), server, slack)
    _check(outcome, count, post_rate, tally)
    return outcome


@dataclass
class Waiting:
    """Polling with a deadline, cut short once nothing has moved for ``stall_s``: whichever
    count moved last (clicks, completions, DMs), so stalled stages do not add up."""

    deadline: float
    stall_s: float
    moved: float = field(default_factory=time.perf_counter)

    def progress(self) -> None:
        self.moved = time.perf_counter()

    def over(self) -> bool:
        now = time.perf_counter()
        return now >= self.deadline or now - self.moved >= self.stall_s

    async def until(self, count: Callable[[], Awaitable[int]], goal: int) -> None:
        seen = -1
        while (now := await count()) < goal:
            if now > seen >= 0:
                self.progress()
            seen = now
            if self.over():
                return
            await asyncio.sleep(0.2)


async def _approve_as_posted(slack: Child, http: Any, url: str, signer: Signer, count: int,
                             acks: Run, wait: Waiting, requesting: asyncio.Task[Run]) -> None:
    """Poll the emulator for new approvals posts and click Approve on each, once. While the
    requests are still being sent nothing counts as stalled: the closed loop keeps the front
    busy, and the worker, at idle priority, waits for its turn."""
    since, clicked = 0, set[str]()
    target = url.rstrip("/") + "/slack/events"
    wait.progress()
    while len(clicked) < count and not wait.over():
        answer = await slack.ask("approvals", since)
        since = answer["next"]
        fresh = [(rid, ts) for rid, ts in answer["posts"] if rid and rid not in clicked]
        clicked.update(rid for rid, _ in fresh)
        await asyncio.gather(*(send(http, target, signer.approve(APPROVER, rid, ts), acks)
                               for rid, ts in fresh))
        if fresh or not requesting.done():
            wait.progress()
        else:
            await asyncio.sleep(0.05)


def _connect(db: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)


def _completed(db: Path) -> int:
    with _connect(db) as conn:
        return int(conn.execute(
            "SELECT COUNT(*) FROM requests WHERE state = 'completed'").fetchone()[0])


def _read_db(db: Path) -> dict[str, Any]:
    with _connect(db) as conn:
        states = dict(conn.execute("SELECT state, COUNT(*) FROM requests GROUP BY state"))
        total, devices, actions = conn.execute(
            "SELECT COUNT(*), COUNT(DISTINCT device_id), COUNT(DISTINCT NULLIF(action_ref, ''))"
            " FROM requests").fetchone()
        undone, dead = conn.execute(
            "SELECT COUNT(*) - COUNT(done_at), COALESCE(SUM(dead), 0) FROM jobs").fetchone()
        ids = {row[0] for row in conn.execute("SELECT id FROM requests")}
    return {"states": states, "requests": total, "devices": devices, "action_refs": actions,
            "jobs_not_done": undone, "jobs_dead": dead, "ids": ids}


def _check(o: Outcome, count: int, post_rate: float, tally: Tally) -> None:
    ids = o.db["ids"]
    checks = {
        "answers not 2xx": o.acks.errors,
        "requests in the database": o.db["requests"] - count,
        "completed requests": o.db["states"].get("completed", 0) - count,
        "distinct devices": o.db["devices"] - count,
        "recorded backend actions": o.db["action_refs"] - count,
        "backend resets started": o.server["resets_started"] - count,
        "devices reset twice": o.server["devices_reset_twice"],
        "jobs left undone or dead": o.db["jobs_not_done"] + o.db["jobs_dead"],
    }
    for what in ("approvals", "waiting_dms", "result_dms"):
        posts: dict[str, int] = o.slack[what]
        checks[f"{what} (total)"] = sum(posts.values()) - count
        checks[f"{what} not one per request"] = len(set(posts) ^ ids) + sum(
            n != 1 for n in posts.values())
    for what, off in checks.items():
        if off:
            tally.error(f"end to end: {what} off by {off}")
    for method, channel, text, at in o.slack["doubled"]:
        print(f"    posted more than once? {method} {channel} at {at:.3f}: {text}")
    limit = DEFAULT_BURST + post_rate
    released = o.server["approvals_released_max_per_1s"]
    print(f"  {count} requests end to end in {f(o.wall, 1)} s ({f(count / o.wall, 1)} completed/s);"
          f" approvals posts paced at {post_rate:g}/s (product default 1/s: about {count} s)")
    print(f"  approvals posts: the pacer let at most {released} go in any 1 s of its schedule (it "
          f"allows {limit:g}: a burst of {DEFAULT_BURST}, then {post_rate:g}/s); the emulator "
          f"received at most {o.slack['approvals_max_per_1s']} in any 1 s (event-loop and network "
          f"jitter), {count} over {f(o.slack['approvals_span_s'], 1)} s")
    print(f"  acks during the run (commands and clicks): p50 {f(o.acks.ms(.5))} ms, "
          f"p99 {f(o.acks.ms(.99))} ms")
    print(f"  database: {o.db['states']}; backend resets {o.server['resets_started']}; "
          f"emulator: {len(o.slack['approvals'])} approvals posts, "
          f"{sum(o.slack['waiting_dms'].values())} waiting DMs, "
          f"{sum(o.slack['result_dms'].values())} result DMs, {o.slack['failed']} failed calls")
    tally.target("end to end: approvals posts paced", released <= limit,
                 f"at most {released} let through in any 1 s")
