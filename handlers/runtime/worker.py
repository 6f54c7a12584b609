"""The worker process (BACKGROUND_WORK=process), started by its front
(handlers/runtime/process.py) as ``python -m handlers.runtime.worker --fd N --parent PID``.

It reads the settings from the link (handlers/runtime/link.py), composes the work through
the Slack app's composition root (handlers/bootstrap.py ``compose_work``), runs it inline
here (``InlineRuntime``) and answers the front until told to quit or the front goes away.
An unknown kind of work item, or a field of the wrong type, is refused with one log line.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Awaitable
from typing import Any

from bot.config import ConfigError
from bot.logs import setup_logging
from handlers.bootstrap import compose_work
from handlers.runtime.inline import InlineRuntime
from handlers.runtime.lifecycle import die_with, freeze_startup_heap, lower_priority
from handlers.runtime.link import WorkerLink, from_wire
from handlers.slack.client import build_client, close_pool
from handlers.slack.identity import Identity
from handlers.work.items import BadItem, decode

log = logging.getLogger("handlers.runtime.worker")  # also when run as __main__


async def serve(link: WorkerLink, work: InlineRuntime) -> int:
    """Start ``work``, say ready, and answer the front's messages until it says quit or goes
    away; then let the work finish and stop it."""
    freeze_startup_heap()
    answering: set[asyncio.Task[None]] = set()

    async def answer(ident: int, result: Awaitable[Any]) -> None:
        try:
            link.send({"op": "reply", "id": ident, "result": await result})
        except Exception as exc:  # the front gets the type only; the log has the rest
            log.exception("worker op failed")
            link.send({"op": "reply", "id": ident, "error": type(exc).__name__})

    try:
        await work.start()
        link.ready(pid=os.getpid())
        async for message in link.messages():
            op = message.pop("op", "")
            if op == "quit":
                break
            if op == "work":
                try:
                    work.later(decode(message.get("item")))
                except BadItem as exc:
                    log.error("refused a work item: %s", exc)
                continue
            ident = int(message.pop("id", 0))
            if op == "options":
                result: Awaitable[Any] = work.options(message["user"], message["query"])
            elif op == "settle":
                result = work.settle()
            else:
                link.send({"op": "reply", "id": ident, "error": f"no such op: {op[:40]}"})
                continue
            task = asyncio.create_task(answer(ident, result))
            answering.add(task)
            task.add_done_callback(answering.discard)
    finally:
        await work.aclose()
        await close_pool(work.worker.client)
        link.close()
    return 0


async def accept(fd: int) -> tuple[WorkerLink, dict[str, Any]]:
    """The link on ``fd`` and the front's first message (the settings), with logging set up
    as the front asked."""
    link, first = await WorkerLink.accept(fd)
    log_format = str((first.get("settings") or {}).get("log_format") or "text")
    setup_logging(int(first.get("log_level") or logging.INFO), json_lines=log_format == "json")
    return link, first


async def run(fd: int) -> int:
    """The worker's life: the settings, the work composed from them, then ``serve``."""
    link, first = await accept(fd)
    try:
        settings = from_wire(first["settings"])
        lower_priority(settings.worker_priority)
        client = build_client(settings)
        work = await compose_work(settings, client, Identity(client), on_locale=link.locale)
    except Exception as exc:  # the front reports it; the details are logged here
        if not isinstance(exc, ConfigError):
            log.exception("the worker could not start")
        await link.refuse(exc)
        return 2
    return await serve(link, work)


def arguments() -> argparse.Namespace:
    """The front's arguments (``--fd``, ``--parent``); a worker program of its own may take
    more."""
    parser = argparse.ArgumentParser(description="passcode-bot's worker (started by the front)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    return parser.parse_known_args()[0]


def main() -> int:
    args = arguments()
    die_with(args.parent)
    return asyncio.run(run(args.fd))


if __name__ == "__main__":
    sys.exit(main())
