"""Starting and stopping the whole bot: core services, Slack app, HTTP or Socket Mode."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncApp

from bot.bootstrap import Services, build_services
from bot.config import ConfigError, Settings, require
from handlers.app import build_app, build_client, web_app
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

    async def stop(self) -> None:
        ctx = getattr(self.app, "ctx", None)
        if ctx is not None and ctx.tasks:
            await asyncio.gather(*list(ctx.tasks), return_exceptions=True)
        if self.runner is not None:
            await self.runner.cleanup()
        await self.services.aclose()


async def start_bot(settings: Settings, *, host: str = "0.0.0.0", **overrides: Any) -> RunningBot:
    """Build everything and serve HTTP on ``settings.port`` (0: any free port)."""
    require(settings, "slack_signing_secret", "approvals_channel")
    client = build_client(settings)
    notifier: Callable[[Any], SlackNotifier] = lambda store: SlackNotifier(
        client, store, settings.approvals_channel
    )
    services = await build_services(settings, notifier, **overrides)
    app = build_app(settings, services, client)
    runner = web.AppRunner(web_app(app, services), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, settings.port)
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
    log.info("passcode-bot listening on port %d (POST /slack/events, GET /healthz)", bot.port)
    try:
        await asyncio.Event().wait()
    finally:
        await bot.stop()


async def _serve_socket_mode(settings: Settings) -> None:
    from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler

    require(settings, "approvals_channel")
    client = build_client(settings)
    services = await build_services(
        settings, lambda store: SlackNotifier(client, store, settings.approvals_channel)
    )
    app = build_app(settings, services, client)
    assert settings.slack_app_token is not None
    handler = AsyncSocketModeHandler(app, settings.slack_app_token.get_secret_value())
    await services.start()
    log.info("passcode-bot connected through Socket Mode")
    try:
        await handler.start_async()  # type: ignore[no-untyped-call]
    finally:
        await services.aclose()


__all__ = ["ConfigError", "RunningBot", "serve", "start_bot"]
