"""The composition root of the Slack app: from Settings (and the core, bot/bootstrap.py) to a
running bot. Everything that serves Slack is built here, and only here: `passcode-bot serve`
and `web`, the demo, the tests and the benchmark all come through ``start``; a worker
(`passcode-bot worker`, handlers/runtime/worker.py) through ``compose_work``.

  Slack -> the door (handlers/slack/app.py, socket_mode.py) -> the AsyncApp and its listeners
  (handlers/listeners/) -> a Runtime (handlers/runtime/: the durable inbox) -> the work
  (handlers/work/) -> the core (bot/)
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.bootstrap import build_services
from bot.config import Settings, require
from handlers.listeners import actions, commands, home
from handlers.runtime.base import Command, start_runtime
from handlers.runtime.inline import InlineRuntime, Role
from handlers.runtime.server import Running, connect, listen, until_stopped
from handlers.slack import health
from handlers.slack.client import build_client, close_pool, pooled
from handlers.slack.context import Background, Context
from handlers.slack.identity import Identity
from handlers.slack.notifier import SlackNotifier
from handlers.work.worker import Worker

log = logging.getLogger(__name__)


def build_app(settings: Settings, client: AsyncWebClient, identity: Identity,
              background: Background) -> AsyncApp:
    """The AsyncApp with every listener; they ack and hand the work to ``background``."""
    signing = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=signing.get_secret_value() if signing else None,
        # Listeners ack and name the work to do later (handlers/work/), so answering after
        # the listener returns costs nothing and avoids Bolt's 10 ms ack polling.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        # The door in web_app() is the one check of every HTTP request's signature and
        # timestamp, before Bolt or any of our code reads it (its docstring says why it is
        # not Bolt's); Socket Mode needs none (handlers/slack/socket_mode.py).
        request_verification_enabled=False,
    )

    @app.error
    async def handle_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a listener: %s", type(error).__name__, exc_info=error)

    ctx = Context.of(identity, background, settings)
    commands.register(app, ctx)
    actions.register(app, ctx)
    home.register(app, ctx)
    return app


async def compose_work(settings: Settings, client: AsyncWebClient, identity: Identity, *,
                       role: Role = "both", **core: Any) -> InlineRuntime:
    """The work of ``role`` in this process: the core (``core``: bot/bootstrap.py's
    overrides, e.g. a clock or a backend) with the Slack notifier, and a Worker over both.
    Every role composes the core: the one that acks answers options loads and runs the
    trigger-bound work itself. Not started yet (``InlineRuntime.start``); ConfigError for a
    bad setting."""
    services = await build_services(
        settings,
        lambda store: SlackNotifier(client, store, settings.approvals_channel, identity=identity),
        **core,
    )
    pooled(client)  # after the last step that may refuse the settings: nothing left open
    identity.keep_locales_in(services.store)
    return InlineRuntime(services, Worker(services.service, identity, client, services.runner),
                         role)


async def start(settings: Settings, *, role: Command = "both", **core: Any) -> Running:
    """Build the bot and let Slack reach it: through Socket Mode when SLACK_APP_TOKEN is set,
    else over HTTP on HOST and PORT (0: any free port).

    ``role`` says what runs here besides the acks (handlers/runtime/base.py
    ``start_runtime``): "both" (the work too; the default, the demo and the tests), "web"
    (only the acks and the trigger-bound work), "serve" (BACKGROUND_WORK decides: the work
    here, or in a child process). ``core`` reaches bot/bootstrap.py ``build_services``.
    ConfigError for a bad setting."""
    socket_mode = settings.slack_app_token is not None
    if socket_mode:
        require(settings, "approvals_channel", "slack_app_token")
    else:
        require(settings, "slack_signing_secret", "approvals_channel")
    client = build_client(settings)
    identity = Identity(client)  # the locales of the answers given with the ack

    async def here(what: Role) -> InlineRuntime:
        work = await compose_work(settings, client, identity, role=what, **core)
        try:
            await work.start()
        except BaseException:
            await work.aclose()
            raise
        return work

    try:
        started = await start_runtime(settings, role, here)
    except BaseException:
        await close_pool(client)
        raise
    pooled(client)
    app = build_app(settings, client, identity, started)
    bot = Running(app, started)
    delivered = started.services.store.delivered
    try:
        alive = lambda: {"ok": not started.stopped.is_set(),  # noqa: E731
                         "backend": settings.backend, "background_work": started.kind}
        if socket_mode:
            bot.socket = await connect(app, settings, delivered)
            bot.runner, bot.port = await health.listen(settings, alive)  # PORT: health only
        else:
            bot.runner, bot.port = await listen(app, settings, alive, delivered)
    except BaseException:
        await bot.stop()
        raise
    return bot


async def serve(settings: Settings, role: Command = "serve") -> int:
    """`passcode-bot serve` (or `web`): the exit status, 0 after SIGTERM or SIGINT, 1 when
    the worker process died and could not be started again."""
    require(settings, "slack_bot_token")
    return await until_stopped(await start(settings, role=role))
