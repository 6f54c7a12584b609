"""A hung worker shows on GET /readyz within 30 s, with the real app: `passcode-bot serve`
(its front and its worker process) on a SQLite file; the worker is frozen (SIGSTOP: it holds
its leases and sockets, and does nothing, as a hung process does), the front keeps serving
and says so; thawed, it is ready again."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from handlers.demo.slack_emulator import SlackEmulator
from tests.served import App, free_port, until

APPROVALS = "C0APPROVALS"


async def readyz(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url + "/readyz") as r:
        return r.status, await r.json()


def children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
        return [int(p) for p in f.read().split()]


async def test_a_hung_worker_shows_on_readyz_within_30_seconds(tmp_path: Path,
                                                               secret: str) -> None:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    async with SlackEmulator() as emu:
        emu.add_channel(APPROVALS, name="passcode-approvals")
        port = free_port()
        app = App({**os.environ, "HOST": "127.0.0.1", "PORT": str(port),
                   "SLACK_BOT_TOKEN": emu.token, "SLACK_SIGNING_SECRET": "s" * 32,
                   "SLACK_API_URL": emu.api_url, "APPROVALS_CHANNEL": APPROVALS,
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
                   "PASSCODE_BOT_SECRET": secret}, tmp_path, port)
        await app.start()
        try:
            assert app.process is not None
            workers = children(app.process.pid)
            if not workers:
                pytest.skip("this `serve` runs its jobs in its own process")
            await until("readiness", lambda: _status(app.url, 200), app)
            os.kill(workers[0], signal.SIGSTOP)
            frozen = time.monotonic()
            try:
                await until("the hung worker to show", lambda: _status(app.url, 503), app,
                            wait=40.0)
                took = time.monotonic() - frozen
                status, body = await readyz(app.url)
                assert status == 503 and body["checks"]["worker"].startswith("last heartbeat")
                assert body["checks"]["database"] == "ok"
                assert took <= 30.0 + 5.0, took  # (at most 30 s after the last beat, plus load)
            finally:
                os.kill(workers[0], signal.SIGCONT)
            await until("readiness again", lambda: _status(app.url, 200), app, wait=20.0)
        finally:
            await app.kill()


async def _status(url: str, want: int) -> bool:
    await asyncio.sleep(0.2)
    try:
        return (await readyz(url))[0] == want
    except aiohttp.ClientError:
        return False
