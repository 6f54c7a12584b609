"""Starting and stopping the whole bot: HTTP or Socket Mode, with the work after each ack in
a worker process (BACKGROUND_WORK=process, see handlers/worker.py) or inline."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.bootstrap import Services
from bot.config import ConfigError, Settings, require
from handlers.runtime.worker import WorkerProcess, build_worker, close_worker, freeze_startup_heap
from handlers.slack.app import build_app, build_client, close_pool, pooled, web_app
from handlers.slack.context import Context
from handlers.slack.identity import Identity
from handlers.slack.socket_mode import GuardedSocketModeHandler
from handlers.work.worker import Worker

log = logging.getLogger(__name__)


@dataclass
class RunningBot:
    """The whole bot in one process (BACKGROUND_WORK=inline; the demo and the tests): the
    work after an ack runs on the event loop that acks."""

    services: Services
    app: AsyncApp
    worker: Worker
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def settle(self) -> None:
        """Wait until the listeners' background work and every due job have finished (the
        demo and the tests: the next step sees what the last one caused)."""
        await self.worker.settle()

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        await close_worker(self.services, self.worker)


@dataclass
class RunningFront:
    """The front of BACKGROUND_WORK=process: acks here, the work in a worker process."""

    app: AsyncApp
    worker: WorkerProcess
    runner: web.AppRunner
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def settle(self) -> None:
        await self.worker.settle()

    async def stop(self) -> None:
        await self.runner.cleanup()
        await self.worker.aclose()
        await close_pool(self.app.client)


async def _listen(app: AsyncApp, settings: Settings, health: Callable[[], dict[str, Any]],
                  host: str | None) -> tuple[web.AppRunner, int]:
    runner = web.AppRunner(web_app(app, settings, health), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or settings.host, settings.port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    return runner, int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]


async def start_bot(settings: Settings, *, host: str | None = None, **overrides: Any) -> RunningBot:
    """Build everything and serve HTTP on ``settings.port`` (0: any free port), one process."""
    require(settings, "slack_signing_secret", "approvals_channel")
    services, worker = await build_worker(settings, **overrides)
    app = build_app(settings, worker.client, Context.of(worker.identity, worker, settings))
    try:
        health = {"ok": True, "backend": settings.backend, "background_work": "inline"}
        runner, port = await _listen(app, settings, lambda: health, host)
    except OSError:
        await close_worker(services, worker)
        raise
    await services.start()
    return RunningBot(services, app, worker, runner, port)


async def start_front(settings: Settings, *, host: str | None = None,
                      module: str = "handlers.runtime.worker",
                      extra: tuple[str, ...] = ()) -> RunningFront:
    """Start the worker process (``module``), then serve HTTP: BACKGROUND_WORK=process."""
    require(settings, "slack_signing_secret", "approvals_channel")
    client = build_client(settings)
    identity = Identity(client)  # locales only: the worker tells it what it learns
    worker = await WorkerProcess.start(settings, identity, module, *extra)
    pooled(client)
    app = build_app(settings, client, Context.of(identity, worker, settings))
    try:
        runner, port = await _listen(app, settings, lambda: {
            "ok": not worker.exited.is_set(), "backend": settings.backend,
            "background_work": "process"}, host)
    except OSError:
        await worker.aclose()
        await close_pool(client)
        raise
    return RunningFront(app, worker, runner, port)


async def serve(settings: Settings) -> int:
    """`passcode-bot serve`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP. Returns the
    exit status: 0 after SIGTERM or SIGINT, 1 when the worker process died."""
    require(settings, "slack_bot_token")
    if settings.slack_app_token is not None:
        await _serve_socket_mode(settings)
        return 0
    bot: RunningBot | RunningFront
    if settings.background_work == "process" and os.name != "posix":
        log.warning("BACKGROUND_WORK=process needs a POSIX system; running inline instead")
        settings = settings.model_copy(update={"background_work": "inline"})
    if settings.background_work == "process":
        bot = await start_front(settings)
    else:
        bot = await start_bot(settings)
    freeze_startup_heap()
    log.info("passcode-bot listening on port %d (POST /slack/events, GET /healthz); "
             "work after the ack: %s", bot.port, settings.background_work)
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):  # Windows: Ctrl-C still stops it
            loop.add_signal_handler(signum, stopping.set)
    waits = [asyncio.create_task(stopping.wait())]
    if isinstance(bot, RunningFront):
        waits.append(asyncio.create_task(bot.worker.exited.wait()))
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await bot.stop()
    if not stopping.is_set():
        log.error("stopping: the worker process is gone (its log lines above say why)")
        return 1
    return 0


@dataclass
class RunningSocketBot:
    """Socket Mode: the acks travel over Slack's WebSocket; the work after them runs inline."""

    services: Services
    app: AsyncApp
    worker: Worker
    handler: GuardedSocketModeHandler

    async def settle(self) -> None:
        await self.worker.settle()

    async def stop(self) -> None:
        await self.handler.close_async()  # type: ignore[no-untyped-call]
        await close_worker(self.services, self.worker)


async def start_socket_bot(settings: Settings, **overrides: Any) -> RunningSocketBot:
    """Build everything and connect to Slack over Socket Mode (SLACK_APP_TOKEN)."""
    require(settings, "approvals_channel", "slack_app_token")
    assert settings.slack_app_token is not None
    services, worker = await build_worker(settings, **overrides)
    app = build_app(settings, worker.client, Context.of(worker.identity, worker, settings))
    handler = GuardedSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    try:
        await handler.connect_async()  # type: ignore[no-untyped-call]
    except BaseException:
        await close_worker(services, worker)
        raise
    await services.start()
    return RunningSocketBot(services, app, worker, handler)


async def _serve_socket_mode(settings: Settings) -> None:
    bot = await start_socket_bot(settings)
    freeze_startup_heap()
    log.info("passcode-bot connected through Socket Mode")
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        await bot.stop()


__all__ = ["ConfigError", "RunningBot", "RunningFront", "RunningSocketBot", "freeze_startup_heap",
           "serve", "start_bot", "start_front", "start_socket_bot"]
