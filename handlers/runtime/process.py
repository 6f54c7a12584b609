"""`passcode-bot serve` with BACKGROUND_WORK=process: this process acks (the ``web`` role) and
its worker runs in a child process, `passcode-bot worker --parent PID`, at WORKER_PRIORITY.

Nothing passes between them but the database: the child reads its settings where the parent
did (the environment, .env), composes the core itself, and claims the inbox and the jobs. The
work of one request therefore never delays the ack of the next (the operating system's
scheduler, not the event loop, shares the CPU between them), and the work that must reach
Slack within a trigger's 3 seconds runs in the acking process (handlers/runtime/inbox.py
``HERE``), never behind the idle-priority worker.

The child gets SIGKILL when the parent dies (Linux). When the child dies, the parent goes on
acking (every ack's work waits in the database) and starts it again (``SupervisedWorker``):
after RESTART_FIRST_S, twice as long each time it dies again soon, at most RESTART_MAX_S.
GET /healthz stays 200 meanwhile (the process serves); GET /readyz shows the missing heartbeat
within 30 s. Whatever either was doing is in the database: it resumes when the worker is back,
or on another replica.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence

from handlers.runtime import RuntimeGone

log = logging.getLogger(__name__)

WORKER_COMMAND = (sys.executable, "-m", "handlers.cli", "worker")
STOP_TIMEOUT_S = 30.0
RESTART_FIRST_S = 1.0  # a dead worker is started again after this long,
RESTART_MAX_S = 10.0  # twice as long each time it dies again soon, at most this long;
STEADY_S = 60.0  # "soon": before it has run this long (then the next wait is the first again)


class WorkerExited(RuntimeGone):
    """The worker process has exited."""


class WorkerChild:
    """The worker process of `serve`; ``stopped`` is done once it has exited."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self._closing = False
        self.stopped: asyncio.Future[int] = asyncio.ensure_future(self._watch())

    @classmethod
    async def start(cls, command: Sequence[str] = WORKER_COMMAND) -> WorkerChild:
        proc = await asyncio.create_subprocess_exec(
            *command, "--parent", str(os.getpid()), stdin=asyncio.subprocess.DEVNULL,
            stdout=2,  # anything it prints joins the log: the parent's stdout may be a pipe
        )
        return cls(proc)

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def _watch(self) -> int:
        status = await self.proc.wait()
        if not self._closing:
            log.error("the worker process exited unexpectedly (status %s)", status)
        return status

    async def aclose(self) -> None:
        """SIGTERM: it finishes what it is doing and leaves; SIGKILL if it does not."""
        self._closing = True
        if self.proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(asyncio.shield(self.stopped), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()
            await self.stopped


class SupervisedWorker:
    """`serve`'s worker process, started again whenever it dies (the module's doc says when).
    ``stopped`` is done once it is gone for good: closed, or it could not be started again."""

    def __init__(self, child: WorkerChild, command: Sequence[str]) -> None:
        self.child = child
        self.command = tuple(command)
        self.restarts = 0
        self._closing = asyncio.Event()
        self.stopped: asyncio.Future[int] = asyncio.ensure_future(self._watch())

    @classmethod
    async def start(cls, command: Sequence[str] = WORKER_COMMAND) -> SupervisedWorker:
        return cls(await WorkerChild.start(command), command)

    @property
    def pid(self) -> int:
        return self.child.pid

    async def _watch(self) -> int:
        loop = asyncio.get_running_loop()
        wait = RESTART_FIRST_S
        while True:
            began = loop.time()
            status = await asyncio.shield(self.child.stopped)
            if self._closing.is_set():
                return status
            if loop.time() - began >= STEADY_S:
                wait = RESTART_FIRST_S
            log.error("starting the worker process again in %.0f s; the acks go on meanwhile "
                      "(their work waits in the database)", wait)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), wait)
            if self._closing.is_set():
                return status
            try:
                child = await WorkerChild.start(self.command)
            except Exception as exc:  # noqa: BLE001 - whatever it is, serve goes on acking
                log.error("the worker process cannot be started again (%s); stopping",
                          type(exc).__name__)
                return status
            self.child = child
            if self._closing.is_set():  # asked to stop while it started: stop it too
                await child.aclose()
                return await asyncio.shield(child.stopped)
            self.restarts += 1
            wait = min(wait * 2, RESTART_MAX_S)

    async def aclose(self) -> None:
        """Stop starting it again; then as WorkerChild.aclose (of the child running then, or
        of the one being started at that moment, which ``_watch`` stops itself)."""
        self._closing.set()
        await self.child.aclose()
        await self.stopped
