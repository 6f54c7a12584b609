"""BACKGROUND_WORK=process, the front's side: the work after each ack runs in a worker process
of its own (handlers/runtime/worker.py), started here.

The front answers Slack: it checks signatures, acks, and names the work to do; it holds no
database, backend or fleet. The worker does the rest: identity lookups, the request workflow,
SQLite, Intune, every Slack Web API call after an ack, and the durable job queue. The work of
one request therefore never delays the ack of the next, whatever the load (measured with
`python -m bench`): the operating system's scheduler, not the event loop, shares the CPU
between them, and the worker runs at a lower priority than the front.

They live and die together: the worker gets SIGKILL when the front dies (Linux), and leaves
when the socket closes; the front stops serving when the worker exits. The database and the
job queue make that safe: whatever was under way resumes at the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import os
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from bot.config import ConfigError, Settings
from handlers.runtime import RuntimeGone
from handlers.runtime.link import LIMIT, line, to_wire
from handlers.work.items import WorkItem, encode

log = logging.getLogger(__name__)

OPTIONS_TIMEOUT_S = 2.5  # Slack waits 3 s for an options load; an empty list beats none
START_TIMEOUT_S = 120.0
# The worker program: it is given "--fd N --parent PID" (handlers/runtime/worker.py main).
WORKER_COMMAND = (sys.executable, "-m", "handlers.runtime.worker")


class WorkerExited(RuntimeGone):
    """The worker process could not start, or has exited."""


class WorkerProcess:
    """The front's handle on its worker: a Runtime (handlers/runtime/base.py) whose work runs
    in the worker. Writing never blocks the front: a busy worker's backlog waits in the
    socket's buffers, not in front of the next ack."""

    kind = "process"

    def __init__(self, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, learn: Callable[[str, str], None]) -> None:
        self.proc = proc
        self._reader = reader
        self._writer = writer
        self._learn = learn
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._closing = False
        self._queued: list[bytes] = []
        self.stopped = asyncio.Event()  # set when the worker is gone, for whatever reason
        self._reading: asyncio.Task[None] | None = None
        self.ready: dict[str, Any] = {}  # the worker's hello: its pid, and what it added

    @classmethod
    async def start(cls, settings: Settings, learn: Callable[[str, str], None],
                    command: Sequence[str]) -> WorkerProcess:
        """Run ``command`` (WORKER_COMMAND, or a program of the same protocol) and wait until
        it is ready; ``learn(user, locale)`` hears the locales it looks up. ConfigError if it
        refused the settings, WorkerExited if it died."""
        front, back = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                *command, "--fd", str(back.fileno()), "--parent", str(os.getpid()),
                pass_fds=[back.fileno()], stdin=asyncio.subprocess.DEVNULL,
                stdout=2,  # anything it prints joins the log: the front's stdout may be a pipe
            )
        finally:
            back.close()
        reader, writer = await asyncio.open_unix_connection(sock=front, limit=LIMIT)
        handle = cls(proc, reader, writer, learn)
        writer.write(line({"op": "settings", "settings": to_wire(settings),
                           "log_level": logging.getLogger().level}))
        try:
            first = await asyncio.wait_for(reader.readline(), START_TIMEOUT_S)
        except TimeoutError:
            first = b""
        hello = json.loads(first) if first else {"op": "error", "error": ""}
        if hello.get("op") != "ready":
            await handle._reap()
            if hello.get("config"):
                raise ConfigError(str(hello["error"]).removeprefix("ConfigError: "))
            if hello.get("error"):
                raise WorkerExited(f"the worker process could not start: {hello['error']}")
            raise WorkerExited(f"the worker process did not start (exit {proc.returncode})")
        handle.ready = hello
        handle._reading = asyncio.create_task(handle._read(), name="worker replies")
        return handle

    @property
    def pid(self) -> int:
        return self.proc.pid

    def later(self, item: WorkItem) -> None:
        """Queue the work for the worker. It goes out once the current step is done, so
        after the ack this work follows (and together with any other queued meanwhile)."""
        self._queued.append(line({"op": "work", "item": encode(item)}))
        if len(self._queued) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    async def options(self, user_id: str, query: str) -> list[dict[str, Any]]:
        try:
            return list(await self._ask("options", timeout=OPTIONS_TIMEOUT_S,
                                        user=user_id, query=query))
        except Exception as exc:  # noqa: BLE001 - an options load can only answer with options
            log.warning("device options: no answer from the worker (%s)", type(exc).__name__)
            return []

    async def settle(self) -> None:
        await self._ask("settle", timeout=None)

    async def _ask(self, op: str, timeout: float | None, **args: Any) -> Any:
        """Send ``op`` and wait for the worker's reply."""
        if self.stopped.is_set():
            raise WorkerExited("the worker process has exited")
        ident = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        self._send({"op": op, "id": ident, **args})
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._waiting.pop(ident, None)

    def _send(self, message: dict[str, Any]) -> None:
        self._queued.append(line(message))
        self._flush()

    def _flush(self) -> None:
        if not self._queued:
            return
        data, self._queued = b"".join(self._queued), []
        if self.stopped.is_set():
            log.error("the worker process has exited: %d message(s) not sent", data.count(b"\n"))
            return
        self._writer.write(data)

    async def _read(self) -> None:
        try:
            while raw := await self._reader.readline():
                message = json.loads(raw)
                op = message.get("op")
                if op == "reply":
                    future = self._waiting.get(message.get("id", 0))
                    if future is not None and not future.done():
                        if "error" in message:
                            future.set_exception(RuntimeError(message["error"]))
                        else:
                            future.set_result(message.get("result"))
                elif op == "locale":
                    self._learn(str(message["user"]), str(message["locale"]))
        except (ConnectionError, ValueError) as exc:
            if not self._closing:
                log.error("the link to the worker process broke: %s", type(exc).__name__)
        finally:
            self.stopped.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(WorkerExited("the worker process has exited"))
            if not self._closing:
                log.error("the worker process exited unexpectedly")

    async def aclose(self, timeout: float = 30.0) -> None:
        """Ask the worker to finish what it is doing and leave; kill it if it does not."""
        self._closing = True
        if not self.stopped.is_set():
            with contextlib.suppress(ConnectionError):
                self._send({"op": "quit"})
                await self._writer.drain()
        await self._reap(timeout)

    async def _reap(self, timeout: float = 30.0) -> None:
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
        if self._reading is not None:
            await asyncio.gather(self._reading, return_exceptions=True)
        self._writer.close()
        self.stopped.set()
