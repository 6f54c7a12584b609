"""The runtime: where the work after an ack runs, behind one small interface (``Runtime``).

This package is the only code that knows how many processes there are. Listeners hand work
items to a ``Background`` (handlers/slack/context.py), which commits them to the durable inbox
before the ack (handlers/runtime/inbox.py); the app never asks where they run: in this
process (``InlineRuntime``, role ``both``), or in a worker process of `serve`'s own
(handlers/runtime/process.py) or of its own (`passcode-bot worker`), chosen here from the
role and the settings (``start_runtime``). The database is the only channel between them."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol

from bot.config import Settings
from handlers.runtime.inline import InlineRuntime, Role
from handlers.runtime.process import SupervisedWorker
from handlers.slack.context import Background

log = logging.getLogger(__name__)

Command = Literal["serve", "web", "worker", "both"]  # `passcode-bot serve|web|worker`; tests


class Runtime(Background, Protocol):
    """What runs the work after each ack: ``later`` and ``options`` (the listeners' side,
    ``Background``), and for whoever started it, ``settle``, ``aclose``, what kind it is and
    whether it stopped on its own."""

    @property
    def kind(self) -> str:
        """"inline", "process", "web" or "worker": /healthz reports it."""
    stopped: asyncio.Event  # set once the work can no longer run (closed; a worker process
    # gone that cannot be started again)

    async def settle(self) -> None:
        """Wait until the work started so far, and every job it made due, has finished."""

    async def aclose(self) -> None:
        """Let the work under way finish, then stop."""


Here = Callable[[Role], Awaitable[InlineRuntime]]  # the work of a role, composed and started


def in_worker_process(settings: Settings) -> bool:
    """BACKGROUND_WORK=process on a POSIX system."""
    if settings.background_work != "process":
        return False
    if os.name != "posix":
        log.warning("BACKGROUND_WORK=process needs a POSIX system; running inline instead")
        return False
    return True


async def start_runtime(settings: Settings, command: Command, here: Here) -> InlineRuntime:
    """The runtime ``command`` asks for: for `serve`, with BACKGROUND_WORK=process, the acks
    here and the work in a child process (`passcode-bot worker`), else both here; for `web`
    and `worker`, that role alone."""
    if command != "serve":
        return await here(command)
    if not in_worker_process(settings):
        return await here("both")
    runtime = await here("web")
    try:
        runtime.adopt(await SupervisedWorker.start())
    except BaseException:
        await runtime.aclose()
        raise
    return runtime
