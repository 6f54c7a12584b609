"""The runtime in this process: the core, the acking side of the inbox, and (unless this
process only acks) the working side and the job queue. Every role is one of these: ``both``
(BACKGROUND_WORK=inline, Socket Mode, the demo, the tests), ``web`` (acks, options loads and
the trigger-bound work; its worker is another process, a child of `passcode-bot serve` or a
`passcode-bot worker` of its own) and ``worker`` (the inbox and the jobs, no Slack door)."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from slack_sdk.errors import SlackApiError

from bot.bootstrap import Services
from handlers.runtime.inbox import Acks, InboxRunner
from handlers.runtime.process import SupervisedWorker
from handlers.work.items import WorkItem
from handlers.work.worker import Worker

Role = Literal["both", "web", "worker"]
log = logging.getLogger(__name__)
# How often a process that acks reads the locales the workers learnt (one small query).
LOCALES_EVERY_S = 2.0
# How often a worker learns every member's locale again (users.list; at its start first), and
# how soon after a failure: in between, a person's locale is learnt at their first help.
LEARN_LOCALES_EVERY_S = 24 * 3600.0
LEARN_LOCALES_RETRY_S = 300.0
CLOCK_SKEW_S = 300.0  # how far ahead of this one another worker's clock may be


class InlineRuntime:
    """A Runtime (handlers/runtime/base.py) over ``worker`` and the core (``services``).
    Built by handlers/bootstrap.py ``compose_work``; ``start`` starts what the role runs,
    ``aclose`` lets the work under way finish and stops the core."""

    def __init__(self, services: Services, worker: Worker, role: Role = "both") -> None:
        self.services = services
        self.worker = worker
        self.role = role
        self.acks = Acks(services.store, worker)
        self.inbox = InboxRunner(services.store, worker) if role != "web" else None
        self.child: SupervisedWorker | None = None  # `serve`'s worker process, if it has one
        # Set once the work can no longer run: closed, or `serve`'s worker process is gone
        # and cannot be started again.
        self.stopped = asyncio.Event()
        self._locales: asyncio.Task[None] | None = None
        self._learning: asyncio.Task[None] | None = None
        self._learnt_once = asyncio.Event()  # every member's locale, once (or it failed)

    @property
    def kind(self) -> str:
        """What /healthz reports: "inline" (all here), "process" (acks here, the work in a
        child process), "web" or "worker"."""
        if self.child is not None:
            return "process"
        return "inline" if self.role == "both" else self.role

    async def start(self) -> None:
        # The picker is answered where Slack's requests arrive: not by a worker.
        await self.services.start(jobs=self.role != "web", picker=self.role != "worker")
        if self.inbox is not None:
            await self.inbox.start()
        if self.role != "worker":  # it answers helps: in the locales the workers look up
            await self._read_locales()
            self._locales = asyncio.create_task(self._read_locales_forever(), name="locales")
        if self.role != "web":
            self._learning = asyncio.create_task(self._learn_locales_forever(),
                                                 name="learn-locales")

    def adopt(self, child: SupervisedWorker) -> None:
        """`serve`'s worker process (started again when it dies): this runtime stops
        (``stopped``) when it is gone for good."""
        self.child = child
        child.stopped.add_done_callback(lambda _: self.stopped.set())

    async def later(self, item: WorkItem) -> None:
        await self.acks.later(item)

    async def options(self, user_id: str, query: str) -> list[dict[str, Any]]:
        """Answered here, from this process's index of the fleet (the backend's)."""
        return await self.worker.options(user_id, query)

    async def _read_locales(self) -> None:
        try:
            await self.worker.identity.read_locales()
        except Exception:  # noqa: BLE001 - helps in English meanwhile; read again soon
            log.warning("the locales could not be read; trying again in %.0f s",
                        LOCALES_EVERY_S)

    async def _read_locales_forever(self) -> None:
        while True:
            await asyncio.sleep(LOCALES_EVERY_S)
            await self._read_locales()

    async def _learn_locales_forever(self) -> None:
        """Every member's locale for the fronts, daily (``_learn_locales``)."""
        while True:
            try:
                pause = await self._learn_locales()
            except Exception as exc:  # noqa: BLE001 - helps learn them one by one meanwhile
                answer = exc.response if isinstance(exc, SlackApiError) else None
                log.warning("users.list could not be read (%s); trying again in %.0f s",
                            str(answer.get("error") if answer else type(exc).__name__)[:60],
                            LEARN_LOCALES_RETRY_S)
                pause = LEARN_LOCALES_RETRY_S
            finally:
                self._learnt_once.set()
            await asyncio.sleep(pause)

    async def _learn_locales(self) -> float:
        """Walk users.list, one worker at a time (they share Slack's rate limit for it), unless
        a walk reached its end less than a day ago, whichever worker made it (one started
        again by a crash or a rolling restart finds the locales in the database); the seconds
        until the next look."""
        store = self.services.store
        async with store.exclusive("learn-locales") as mine:
            if not mine:  # another worker is walking: look again once it may have finished
                return LEARN_LOCALES_RETRY_S
            last = await store.last_walk()
            age = (datetime.now(UTC) - last).total_seconds() if last is not None else None
            # (stamped further ahead than clocks drift apart: walk again, never wait for it)
            if age is not None and -CLOCK_SKEW_S <= age < LEARN_LOCALES_EVERY_S:
                log.info("users.list was walked %.0f minutes ago; walked again in %.1f hours",
                         age / 60, (LEARN_LOCALES_EVERY_S - age) / 3600)
                return LEARN_LOCALES_EVERY_S - age
            learnt = await self.worker.identity.learn_every_locale()
            await store.walked(datetime.now(UTC))
            log.info("learnt %d locales from users.list", learnt)
            return LEARN_LOCALES_EVERY_S

    async def locales_learnt(self) -> None:
        """Return once every member's locale was learnt once (or that failed; at once when
        this process does not work)."""
        if self._learning is not None:
            await self._learnt_once.wait()

    async def settle(self) -> None:
        """Wait until the work started here, the inbox (when this process works it) and
        every due job have finished, and (when it acks) read the locales learnt meanwhile."""
        await self.locales_learnt()
        for _ in range(20):
            if self.worker.tasks:
                await asyncio.gather(*list(self.worker.tasks), return_exceptions=True)
            if self.inbox is None:
                break
            await self.inbox.drain()
            await self.services.runner.drain()
            if not self.worker.tasks and not await self.services.store.inbox_pending():
                break
        if self.role != "worker":
            await self._read_locales()

    async def aclose(self) -> None:
        """Stop claiming, let the work under way finish, then stop the worker process (if
        any), the job queue and the core (a job or an item cut short runs again later)."""
        for task in (self._locales, self._learning):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        if self.inbox is not None:
            await self.inbox.stop()
        await self.worker.aclose()
        if self.child is not None:
            await self.child.aclose()
        await self.services.aclose()
        self.stopped.set()
