"""The runtime: where the work after an ack runs, behind one small interface (``Runtime``).

This package is the only code that knows how many processes there are. Listeners hand work
items to a ``Background`` (handlers/slack/context.py) and the app never asks where they run:
on this event loop (``InlineRuntime``) or in a worker process (``WorkerProcess``), chosen
here from the settings (``start_runtime``). The scale-out issue (13) replaces the insides
with the database as the only channel between the processes that ack and those that work;
the interface stays."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot.config import Settings
from handlers.runtime.process import WORKER_COMMAND, WorkerProcess
from handlers.slack.context import Background
from handlers.slack.identity import Identity

log = logging.getLogger(__name__)


class Runtime(Background, Protocol):
    """What runs the work after each ack: ``later`` and ``options`` (the listeners' side,
    ``Background``), and for whoever started it, ``settle``, ``aclose``, what kind it is and
    whether it stopped on its own."""

    kind: str  # "inline" or "process": /healthz reports it
    stopped: asyncio.Event  # set once the work can no longer run (a worker process gone)

    async def settle(self) -> None:
        """Wait until the work started so far, and every job it made due, has finished."""

    async def aclose(self) -> None:
        """Let the work under way finish, then stop."""


Here = Callable[[], Awaitable[Runtime]]  # the work composed and started in this process
StartRuntime = Callable[[Settings, Identity, Here], Awaitable[Runtime]]


def in_worker_process(settings: Settings) -> bool:
    """BACKGROUND_WORK=process, over HTTP, on a POSIX system. Socket Mode runs the work
    inline."""
    if settings.background_work != "process" or settings.slack_app_token is not None:
        return False
    if os.name != "posix":
        log.warning("BACKGROUND_WORK=process needs a POSIX system; running inline instead")
        return False
    return True


async def start_runtime(settings: Settings, identity: Identity, here: Here) -> Runtime:
    """The runtime the settings ask for: a worker process (which composes the work itself, as
    handlers/runtime/worker.py does, and tells ``identity`` the locales it learns), or the
    work composed here by ``here``."""
    if in_worker_process(settings):
        return await WorkerProcess.start(settings, identity.learn, WORKER_COMMAND)
    return await here()
