"""`passcode-bot serve` with BACKGROUND_WORK=process: this process acks (the ``web`` role) and
its worker runs in a child process, `passcode-bot worker --parent PID`, at WORKER_PRIORITY.

Nothing passes between them but the database: the child reads its settings where the parent
did (the environment, .env), composes the core itself, and claims the inbox and the jobs. The
work of one request therefore never delays the ack of the next (the operating system's
scheduler, not the event loop, shares the CPU between them), and the work that must reach
Slack within a trigger's 3 seconds runs in the acking process (handlers/runtime/inbox.py
``HERE``), never behind the idle-priority worker.

They live and die together: the child gets SIGKILL when the parent dies (Linux), and the
parent stops serving (status 1) when the child exits. Whatever either was doing is in the
database: it resumes at the next start, or on another replica.
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
