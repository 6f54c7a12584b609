"""BACKGROUND_WORK=inline (and Socket Mode, the demo, the tests), and the inside of a worker
process: the core and the work after each ack on this process's event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from bot.bootstrap import Services
from handlers.work.items import WorkItem
from handlers.work.worker import Worker


class InlineRuntime:
    """A Runtime (handlers/runtime/base.py) that runs the work here: ``worker`` over the core
    (``services``). Built by handlers/bootstrap.py ``compose_work``; ``start`` starts the job
    queue, ``aclose`` lets the work under way finish and stops the core."""

    kind = "inline"

    def __init__(self, services: Services, worker: Worker) -> None:
        self.services = services
        self.worker = worker
        self.stopped = asyncio.Event()  # the work here stops only when it is closed

    async def start(self) -> None:
        await self.services.start()

    def later(self, item: WorkItem) -> None:
        self.worker.later(item)

    async def options(self, user_id: str, query: str) -> list[dict[str, Any]]:
        return await self.worker.options(user_id, query)

    async def settle(self) -> None:
        await self.worker.settle()

    async def aclose(self) -> None:
        """Let the work under way finish, then stop the job queue and the core (a job
        stopped mid-call is run again at the next start)."""
        await self.worker.aclose()
        await self.services.aclose()
        self.stopped.set()
