"""Starting and stopping the whole bot: core services, Slack app, HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import Services, build_services
from bot.config import ConfigError, Settings, require
from handlers.app import build_app, build_client, web_app
from handlers.identity import Identity
from handlers.notifier import SlackNotifier

log = logging.getLogger(__name__)


@dataclass
class RunningBot:
    services: Services
    app: AsyncApp
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def settle(self, rounds: int = 20) -> None:
        """Wait until the listeners' background work and every due job have finished (the
        demo and the tests: the next step sees what the last one caused)."""
        ctx = self.app.ctx  # type: ignore[attr-defined]
        for _ in range(rounds):
            if ctx.tasks:
                await asyncio.gather(*list(ctx.tasks), return_exceptions=True)
            await self.services.runner.drain()
            if not ctx.tasks:
                return

    async def stop(self) -> None:
        ctx = getattr(self.app, "ctx", None)
        if ctx is not None and ctx.tasks:
            await asyncio.gather(*list(ctx.tasks), return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
        await _close_pool(self.app.client)  # a call after this opens a session of its own
        await self.services.aclose()


def pooled(client: AsyncWebClient) -> AsyncWebClient:
    """Give the Web API client one aiohttp session for all its calls. Without one, slack_sdk
    opens a session, hence a new TCP (and, against Slack, TLS) connection, for every call:
    measured with `python -m bench`, about a third of the CPU a click or a reset costs after
    its ack, work that shares the event loop with the next acks. Call inside the event loop."""
    client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    return client


async def _close_pool(client: AsyncWebClient) -> None:
    if client.session is not None:
        await client.session.close()


def freeze_startup_heap() -> None:
    """Move everything built at start (the app, a simulated fleet's indexes) out of the
    collector's sight. A full garbage collection walks every tracked object with the event
    loop stopped: about 150 ms at 100,000 simulated devices, longer than Slack's ack budget
    allows us to block. Frozen objects are still freed by reference counting."""
    gc.collect()
    gc.freeze()


async def start_bot(settings: Settings, *, host: str | None = None, **overrides: Any) -> RunningBot:
    """Build everything and serve HTTP on ``settings.port`` (0: any free port)."""
    require(settings, "slack_signing_secret", "approvals_channel")
    client = build_client(settings)
    identity = Identity(client)  # shared: the notifier reads the locale the listeners cached
    notifier: Callable[[Any], SlackNotifier] = lambda store: SlackNotifier(
        client, store, settings.approvals_channel, identity=identity
    )
    services = await build_services(settings, notifier, **overrides)
    pooled(client)  # after the last step that may refuse the settings: nothing left open
    app = build_app(settings, services, client, identity)
    runner = web.AppRunner(web_app(app, services), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host or settings.host, settings.port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    await services.start()
    return RunningBot(services, app, runner, port)


async def serve(settings: Settings) -> None:
    """`passcode-bot serve`: Socket Mode when SLACK_APP_TOKEN is set, else HTTP."""
    require(settings, "slack_bot_token")
    if settings.slack_app_token is not None:
        await _serve_socket_mode(settings)
        return
    bot = await start_bot(settings)
    freeze_startup_heap()
    log.info("passcode-bot listening on port %d (POST /slack/events, GET /healthz)", bot.port)
    try:
        await asyncio.Event().wait()
    finally:
        await bot.stop()


async def _serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    require(settings, "approvals_channel")
    client = build_client(settings)
    identity = Identity(client)
    services = await build_services(
        settings,
        lambda store: SlackNotifier(client, store, settings.approvals_channel, identity=identity),
    )
    pooled(client)
    app = build_app(settings, services, client, identity)
    assert settings.slack_app_token is not None
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    await services.start()
    freeze_startup_heap()
    log.info("passcode-bot connected through Socket Mode")
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await services.aclose()
        await _close_pool(client)


__all__ = ["ConfigError", "RunningBot", "serve", "start_bot"]
