"""The running bot: the Slack app served over HTTP or connected through Socket Mode, with its
runtime; and a process's life until SIGTERM or SIGINT (``until_stopped``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Services
from bot.config import Settings
from handlers.runtime.base import Runtime
from handlers.runtime.inline import InlineRuntime
from handlers.runtime.lifecycle import freeze_startup_heap
from handlers.slack.app import Delivered, web_app
from handlers.slack.client import close_pool
from handlers.slack.socket_mode import GuardedSocketModeHandler

log = logging.getLogger(__name__)


@dataclass
class Running:
    """The Slack app, its runtime, and how Slack reaches it: an HTTP listener on ``port``, or
    a Socket Mode connection (``socket``)."""

    app: AsyncApp
    runtime: Runtime
    runner: web.AppRunner | None = None
    port: int = 0
    socket: GuardedSocketModeHandler | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def client(self) -> AsyncWebClient:
        return self.app.client

    @property
    def services(self) -> Services:
        """This process's core (the demo and the tests inspect it)."""
        if not isinstance(self.runtime, InlineRuntime):
            raise LookupError(f"no core here (runtime: {self.runtime.kind})")
        return self.runtime.services

    async def settle(self) -> None:
        """Wait until the listeners' background work and every due job have finished (the
        demo and the tests: the next step sees what the last one caused)."""
        await self.runtime.settle()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if self.socket is not None:
            await self.socket.close_async()  # type: ignore[no-untyped-call]
        await self.runtime.aclose()
        await close_pool(self.client)


async def listen(app: AsyncApp, settings: Settings, health: Callable[[], dict[str, Any]],
                 delivered: Delivered) -> tuple[web.AppRunner, int]:
    """Serve ``app`` behind the door (handlers/slack/app.py) on HOST and PORT (0: any free
    port), with ``delivered`` recognising Slack's retries; the runner and the port."""
    runner = web.AppRunner(web_app(app, settings, health, delivered), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.host, settings.port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return runner, int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


async def connect(app: AsyncApp, settings: Settings,
                  delivered: Delivered) -> GuardedSocketModeHandler:
    """Connect ``app`` to Slack over Socket Mode (SLACK_APP_TOKEN)."""
    assert settings.slack_app_token is not None
    handler = GuardedSocketModeHandler(app, settings.slack_app_token.get_secret_value(),
                                       delivered)
    await handler.connect_async()  # type: ignore[no-untyped-call]
    return handler


async def until_stopped(bot: Running) -> int:
    """Run until SIGTERM or SIGINT (0), or until the runtime stops on its own (1: the worker
    process died and could not be started again); then stop the bot."""
    freeze_startup_heap()
    if bot.socket is not None:
        log.info("passcode-bot connected through Socket Mode")
    else:
        log.info("passcode-bot listening on port %d (POST /slack/events, GET /healthz); "
                 "work after the ack: %s", bot.port, bot.runtime.kind)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still stops it
            loop.add_signal_handler(signum, stopping.set)
    waits = [asyncio.create_task(stopping.wait()), asyncio.create_task(bot.runtime.stopped.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await bot.stop()
    if not stopping.is_set():
        log.error("stopping: the worker process is gone and cannot be started again (its log "
                  "lines above say why)")
        return 1
    return 0
