"""`passcode-bot serve` in a child process, as an operator runs it, for the tests that need
the real thing (crash safety, the worker process): start it, wait for GET /healthz, kill it,
read its log; and polling with a deadline that says what it waited for."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

REPO = Path(__file__).resolve().parents[1]
WAIT = 20.0  # the most any one step may take before the test gives up, in seconds
POLL = 0.05


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class App:
    """`passcode-bot serve` in a child process; each start logs to a file of its own."""

    def __init__(self, env: dict[str, str], logs: Path, port: int) -> None:
        self.env = env
        self.logs = logs
        self.port = port
        self.starts = 0
        self.process: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def start(self) -> None:
        """Start the app and return once GET /healthz answers."""
        self.starts += 1
        log = (self.logs / f"app-{self.starts}.log").open("wb")
        try:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "handlers.cli", "serve",
                cwd=REPO, env=self.env, stdout=log, stderr=asyncio.subprocess.STDOUT,
            )
        finally:
            log.close()  # the child has its own copy
        async with aiohttp.ClientSession() as session:
            await until("the app to answer GET /healthz", lambda: self._healthy(session), self)

    async def _healthy(self, session: aiohttp.ClientSession) -> bool:
        try:
            async with session.get(f"{self.url}/healthz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a power cut or an OOM kill."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.kill()
        await self.process.wait()

    def log(self) -> str:
        """The end of each run's log, for failure messages."""
        parts = []
        for path in sorted(self.logs.glob("app-*.log")):
            lines = path.read_text(errors="replace").splitlines()[-40:]
            parts.append(f"--- {path.name} ---\n" + "\n".join(lines))
        return "\n".join(parts)


async def until(what: str, probe: Callable[[], Any], app: App | None = None,
                wait: float = WAIT) -> Any:
    """Poll ``probe`` (sync or async) until it returns something true; return that. With
    ``app``, stop early (with its log) if it exits."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if app is not None and app.process is not None and not app.running:
            raise AssertionError(f"the app exited while waiting for {what}\n{app.log()}")
        if loop.time() > deadline:
            raise AssertionError(
                f"waited {wait}s for {what}" + (f"\n{app.log()}" if app else "")
            )
        await asyncio.sleep(POLL)
