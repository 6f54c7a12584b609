"""GET /healthz and GET /readyz, mounted on the door (handlers/slack/app.py ``web_app``).

/healthz: the process serves (its body: the runtime's word, as before). /readyz: the
process can do its job, for a load balancer and `passcode-bot status`: the database answers,
its migrations are current, some job runner's heartbeat is younger than 30 s (one stopped or
hung shows within 30 s), and the oldest due job nobody holds has waited less than
READY_MAX_JOB_DELAY_SECONDS. 200 or 503, with a small JSON body naming each check: no
secrets, no database address, nothing of the request (unsigned GETs, answered by anyone
who can reach the port; the routes read no body, query or header).

The checks read the database through a small store of their own (two connections at most,
opened at the first probe and again after a failed open), each probe under a time limit."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web

from bot.clock import SystemClock
from bot.config import Settings
from bot.ports import Clock
from bot.storage import MIGRATIONS, Store
from bot.storage.health import Readings

log = logging.getLogger(__name__)

HEARTBEAT_MAX_AGE_S = 30.0
PROBE_TIMEOUT_S = 5.0

Open = Callable[[], Awaitable[Store]]


class Readiness:
    """The checks behind GET /readyz."""

    def __init__(self, open_store: Open, *, max_job_delay_s: float,
                 clock: Clock | None = None) -> None:
        self._open = open_store
        self._store: Store | None = None
        self._opening = asyncio.Lock()
        self.max_job_delay_s = max_job_delay_s
        self.clock = clock or SystemClock()

    @classmethod
    def of(cls, settings: Settings, clock: Clock | None = None) -> Readiness:
        return cls(lambda: Store.open_small(settings.database_url),
                   max_job_delay_s=settings.ready_max_job_delay_seconds, clock=clock)

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready, the body): each check's name with "ok" or what is wrong, in words of
        our own (an exception's text could carry the database's address)."""
        now = self.clock.now()
        try:
            readings = await asyncio.wait_for(self._read(now), PROBE_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - any failure to read is "not reachable"
            log.warning("readiness: the database did not answer (%s)", type(exc).__name__)
            return False, {"ok": False, "checks": {"database": "unreachable"}}
        checks = {"database": "ok", **judge(readings, now, self.max_job_delay_s)}
        ready = all(v == "ok" for v in checks.values())
        return ready, {"ok": ready, "checks": checks}

    async def _read(self, now: datetime) -> Readings:
        async with self._opening:
            if self._store is None:
                self._store = await self._open()
        return await self._store.readings(now)

    async def aclose(self) -> None:
        if self._store is not None:
            await self._store.close()
            self._store = None


def judge(r: Readings, now: datetime, max_job_delay_s: float) -> dict[str, str]:
    """Each check after the database's own: "ok", or what is wrong (no raw values but ages)."""
    want = len(MIGRATIONS)
    # Ahead (a newer release migrated the database during a rolling restart) is current
    # enough: migrations only add, so this release keeps working beside the next.
    schema = "ok" if r.schema_version >= want else f"behind ({r.schema_version} of {want})"
    if r.newest_beat is None:
        worker = "no heartbeat"
    else:
        age = (now - r.newest_beat).total_seconds()
        worker = "ok" if age < HEARTBEAT_MAX_AGE_S else f"last heartbeat {int(age)} s ago"
    jobs = "ok"
    if r.oldest_due is not None:
        waited = (now - r.oldest_due).total_seconds()
        if waited >= max_job_delay_s:
            jobs = f"oldest due job waiting {int(waited)} s"
    return {"migrations": schema, "worker": worker, "jobs": jobs}


def mount(web_application: web.Application, alive: Callable[[], dict[str, Any]],
          readiness: Readiness) -> None:
    """Add GET /healthz and GET /readyz (and HEAD, which aiohttp adds to a GET) to the door;
    the readiness store closes with the application."""

    async def healthz(_: web.Request) -> web.Response:
        state = alive()
        return web.json_response(state, status=200 if state.get("ok") else 503)

    async def readyz(_: web.Request) -> web.Response:
        ready, body = await readiness.check()
        return web.json_response(body, status=200 if ready else 503,
                                 headers={"Cache-Control": "no-store"})

    async def close(_: web.Application) -> None:
        await readiness.aclose()

    web_application.router.add_get("/healthz", healthz)
    web_application.router.add_get("/readyz", readyz)
    web_application.on_cleanup.append(close)


async def listen(settings: Settings, alive: Callable[[], dict[str, Any]],
                 readiness: Readiness | None = None) -> tuple[web.AppRunner, int]:
    """Under Socket Mode, where no door listens: GET /healthz and /readyz alone on HOST and
    PORT (0: any free port); the runner and the port. Every other path is a 404."""
    application = web.Application()
    mount(application, alive, readiness or Readiness.of(settings))
    runner = web.AppRunner(application, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return runner, int(runner.addresses[0][1])


async def status(url: str, out: Callable[[str], None] = print) -> int:
    """`passcode-bot status`: read ``url`` (a /readyz), print each check; 0 when ready, 1 when
    not, or when nothing (or something else) answers there."""
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http, \
                http.get(url) as r:
            code, text = r.status, await r.text(errors="replace")
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        out(f"not ready: nothing answers at {url} ({type(exc).__name__})")
        return 1
    try:
        body = json.loads(text)
        checks = body["checks"]
        assert isinstance(checks, dict)
    except (ValueError, KeyError, TypeError, AssertionError):
        out(f"not ready: {url} gave HTTP {code}, not a passcode-bot readiness answer")
        return 1
    ready = code == 200 and body.get("ok") is True
    out(f"{'ready' if ready else 'not ready'}: {url}")
    for name, value in checks.items():
        out(f"  {_printable(name):<11} {_printable(value)}")
    return 0 if ready else 1


def _printable(value: object) -> str:
    """A value from the network, without control characters (a terminal's escapes)."""
    return "".join(c for c in str(value)[:200] if c.isprintable())
