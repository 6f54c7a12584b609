"""GET /healthz and GET /readyz on the door, over real HTTP, on SQLite and PostgreSQL: ready
when the database answers, its migrations are current, a job runner beat within 30 s and no
due job has waited too long; 503 naming the failed check otherwise. Attacked from outside:
the health routes are unsigned GETs that open no other path and say nothing but the checks."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.clock import ManualClock
from bot.domain import JobKind, JobSpec, NotifyEvent
from bot.storage import MIGRATIONS, Store
from bot.storage.jobs import add_jobs
from handlers.slack.app import web_app
from handlers.slack.health import Readiness
from tests.scenario.harness import SIGNING_SECRET, Stack, make_stack


@pytest.fixture
async def stack(tmp_path: Path, secret: str, database_url: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret, database_url=database_url):
        yield s


async def get(url: str, method: str = "GET", **kw: Any) -> tuple[int, Any, str]:
    async with aiohttp.ClientSession() as http, http.request(method, url, **kw) as r:
        text = await r.text()
        try:
            body = json.loads(text)
        except ValueError:
            body = None
        return r.status, body, text


class Door:
    """The door (web_app) over the stack's Slack app and database, with a Readiness on the
    stack's manual clock, served on a port of its own."""

    def __init__(self, stack: Stack, clock: ManualClock) -> None:
        settings = stack.bot.services.settings
        self.readiness = Readiness(lambda: Store.open_small(settings.database_url),
                                   max_job_delay_s=300.0, clock=clock)
        self.app = web_app(stack.bot.app, settings, lambda: {"ok": True},
                           stack.bot.services.store.delivered, self.readiness)
        self.runner = web.AppRunner(self.app)
        self.url = ""

    async def __aenter__(self) -> Door:
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self.runner.addresses[0][1]}"
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.runner.cleanup()


ALL_OK = {"database": "ok", "migrations": "ok", "worker": "ok", "jobs": "ok"}


async def test_ready_when_the_database_migrations_worker_and_jobs_are(stack: Stack) -> None:
    status, body, _ = await get(stack.bot.url + "/readyz")
    assert (status, body) == (200, {"ok": True, "checks": ALL_OK})
    status, body, _ = await get(stack.bot.url + "/healthz")
    assert status == 200 and body["ok"] is True


async def test_a_stopped_worker_shows_within_30_seconds(stack: Stack) -> None:
    clock = ManualClock(stack.clock.now())
    async with Door(stack, clock) as door:
        got = await get(door.url + "/readyz")
        assert got[:2] == (200, {"ok": True, "checks": ALL_OK}), got
        await stack.bot.services.runner.stop()  # its heartbeat stops with it
        clock.advance(timedelta(seconds=29))
        assert (await get(door.url + "/readyz"))[0] == 200
        clock.advance(timedelta(seconds=2))
        status, body, _ = await get(door.url + "/readyz")
        assert status == 503
        assert body == {"ok": False, "checks": {**ALL_OK, "worker": "last heartbeat 31 s ago"}}
        status, _, _ = await get(door.url + "/healthz")
        assert status == 200  # alive: the process serves


async def test_a_due_job_nobody_runs_shows_after_the_threshold(stack: Stack) -> None:
    clock = ManualClock(stack.clock.now())
    store = stack.store
    async with Door(stack, clock) as door:
        await stack.bot.services.runner.stop()

        async def schedule(tx: Any) -> None:  # a job falls due; no runner takes it
            await add_jobs(tx, "r-nobody-runs", clock.now(),
                           [JobSpec(JobKind.NOTIFY, NotifyEvent.RESULT)])

        await store.database.write(schedule)
        clock.advance(timedelta(seconds=299))
        await store.beat("a-live-one", "h", 1, clock.now(), clock.now())
        assert (await get(door.url + "/readyz"))[0] == 200
        clock.advance(timedelta(seconds=2))
        await store.beat("a-live-one", "h", 1, clock.now(), clock.now())  # a runner, but stuck
        status, body, _ = await get(door.url + "/readyz")
        assert status == 503
        assert body["checks"]["worker"] == "ok"
        assert body["checks"]["jobs"] == "oldest due job waiting 301 s"


async def test_migrations_behind_are_not_ready(stack: Stack) -> None:
    store = stack.store
    await store.database.execute("DELETE FROM schema_version WHERE version = ?",
                                 (len(MIGRATIONS),))
    status, body, _ = await get(stack.bot.url + "/readyz")
    assert status == 503
    want = len(MIGRATIONS)
    assert body["checks"]["migrations"] == f"behind ({want - 1} of {want})"


async def test_an_unreachable_database_is_named_without_its_address(stack: Stack) -> None:
    url = "postgresql://bot:hunter2-secret@127.0.0.1:1/nowhere"
    readiness = Readiness(lambda: Store.open_small(url), max_job_delay_s=300.0)
    app = web_app(stack.bot.app, stack.bot.services.settings, lambda: {"ok": True},
                  stack.bot.services.store.delivered, readiness)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        status, body, text = await get(f"http://127.0.0.1:{runner.addresses[0][1]}/readyz")
    finally:
        await runner.cleanup()
    assert (status, body) == (503, {"ok": False, "checks": {"database": "unreachable"}})
    assert "hunter2" not in text and "127.0.0.1" not in text and "nowhere" not in text


async def test_health_routes_open_no_other_path_and_say_nothing_else(stack: Stack,
                                                                     secret: str) -> None:
    base, emu, store = stack.bot.url, stack.emu, stack.store
    before_jobs, before_calls = await store.pending_jobs(), len(emu.calls)
    settings = stack.bot.services.settings
    secrets_ = [SIGNING_SECRET, emu.token, secret, settings.database_url,
                str(Path(settings.database_path).name), "hunter2"]
    command = stack.driver.command_body("UHELEN", "reset PIXEL8-ALICE")
    bodies = [command, command + "&ssl_check=1", b"ssl_check=1&readyz=1&healthz=1",
              json.dumps({"type": "url_verification", "challenge": "x", "path": "/readyz"})
              .encode()]
    for path in ("/readyz", "/healthz"):
        for body in bodies:
            for method in ("POST", "PUT", "DELETE", "PATCH"):
                status, _, text = await get(base + path, method, data=body)
                assert status == 405, (path, method, status)  # never routed as Slack's
                assert not any(s in text for s in secrets_ if s)
    for body in bodies:  # and through the Slack door, unsigned, today's 401
        status, _, _ = await get(base + "/slack/events", "POST", data=body,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 401
    for path in ("/readyz?token=xoxb-probe&x=%3Cscript%3E", "/readyz/../slack/events",
                 "/healthz?payload=%7B%7D"):
        status, body, text = await get(base + path, headers={"X-Slack-Signature": "v0=00",
                                                             "X-Probe": "<script>"})
        assert "xoxb-probe" not in text and "script" not in text
        assert not any(s in text for s in secrets_ if s)
        if body is not None and path.startswith("/readyz?"):
            assert set(body) == {"ok", "checks"} and set(body["checks"]) == set(ALL_OK)
    assert len(emu.calls) == before_calls  # no Slack call
    assert await store.pending_jobs() == before_jobs  # nothing changed


async def passcode_bot_status(*args: str) -> tuple[int, str]:
    """`passcode-bot status` in a process of its own (this loop keeps serving meanwhile)."""
    root = Path(__file__).resolve().parents[2]
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "handlers.cli", "status", *args, cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode()


async def test_passcode_bot_status_prints_the_checks_and_exits_0_or_1(stack: Stack) -> None:
    clock = ManualClock(stack.clock.now())
    async with Door(stack, clock) as door:
        code, out = await passcode_bot_status("--url", door.url + "/readyz")
        assert code == 0, out
        assert out.splitlines() == [f"ready: {door.url}/readyz", "  database    ok",
                                    "  migrations  ok", "  worker      ok", "  jobs        ok"]
        await stack.bot.services.runner.stop()
        clock.advance(timedelta(seconds=45))
        code, out = await passcode_bot_status("--url", door.url + "/readyz")
        assert code == 1
        assert "not ready" in out and "  worker      last heartbeat 45 s ago" in out
    code, out = await passcode_bot_status("--url", door.url + "/readyz")  # nobody there now
    assert code == 1 and out.startswith("not ready: nothing answers at ")
    code, out = await passcode_bot_status("--url", stack.bot.url + "/healthz")
    assert code == 1 and "not a passcode-bot readiness answer" in out


async def test_a_missing_database_file_is_unreachable_and_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "bot.db"
    readiness = Readiness(lambda: Store.open_small(f"sqlite:///{missing}"), max_job_delay_s=1.0)
    assert await readiness.check() == (False, {"ok": False,
                                               "checks": {"database": "unreachable"}})
    assert not missing.exists() and not missing.parent.exists()
