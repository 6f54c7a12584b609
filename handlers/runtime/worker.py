"""`passcode-bot worker`: the inbox and the jobs, no Slack door. Run on its own (as many as
you like on PostgreSQL; one per SQLite file), or started by `passcode-bot serve` with
``--parent PID`` (BACKGROUND_WORK=process, handlers/runtime/process.py): then it dies with
its parent and runs at WORKER_PRIORITY. It reads its settings as any command does; nothing
but the database passes between it and the processes that ack."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from bot.config import Settings
from handlers.bootstrap import compose_work
from handlers.runtime.lifecycle import die_with, freeze_startup_heap, lower_priority
from handlers.slack.client import build_client, close_pool
from handlers.slack.identity import Identity

log = logging.getLogger("handlers.runtime.worker")


async def work(settings: Settings, parent: int | None = None) -> int:
    """The worker's life: the work composed and started, until SIGTERM or SIGINT (0)."""
    if parent is not None:
        die_with(parent)
        lower_priority(settings.worker_priority)
    client = build_client(settings)
    try:
        runtime = await compose_work(settings, client, Identity(client), role="worker")
    except BaseException:
        await close_pool(client)
        raise
    try:
        await runtime.start()
        freeze_startup_heap()
        log.info("passcode-bot worker running (the inbox and the jobs)")
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(signum, stopping.set)
        await stopping.wait()
    finally:
        await runtime.aclose()
        await close_pool(client)
    return 0
