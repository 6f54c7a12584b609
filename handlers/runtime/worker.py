"""The worker process: the work after an ack, and the job queue, away from the acks.

`passcode-bot serve` runs as two processes by default (BACKGROUND_WORK=process). The front
(handlers/server.py) answers Slack: it checks signatures, acks, and names the work to do; it
holds no database, backend or fleet. The worker (this module, started by the front) does the
rest: identity lookups, the request workflow, SQLite, Intune, every Slack Web API call after
an ack, and the durable job queue. The work of one request therefore never delays the ack of
the next, whatever the load (measured with `python -m bench`): the operating system's
scheduler, not the event loop, shares the CPU between them, and the worker runs at a lower
priority than the front.

The two talk over a socket pair, one JSON object per line:

  front -> worker   {"op": "settings", ...} first; then {"op": "work", "item"},
                    {"op": "options" | "settle" | <an extra op>, "id", ...}, {"op": "quit"}
  worker -> front   {"op": "ready"} or {"op": "error", "error"} first; then
                    {"op": "reply", "id", "result"}, {"op": "locale", "user", "locale"}

A work item travels as its type name and fields (handlers/work_items.py ``encode``) and is
rebuilt in the worker through the same table of known kinds: an unknown kind, or a field of
the wrong type, is refused there with one log line.

They live and die together: the worker gets SIGKILL when the front dies (Linux), and leaves
when the socket closes; the front stops serving when the worker exits. The database and the
job queue make that safe: whatever was under way resumes at the next start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import gc
import itertools
import json
import logging
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from bot.bootstrap import Services, build_services
from bot.config import ConfigError, Settings
from bot.logs import setup_logging
from handlers.notifier import SlackNotifier
from handlers.slack.app import build_client, close_pool, pooled
from handlers.slack.identity import Identity
from handlers.work.items import BadItem, WorkItem, decode, encode
from handlers.work.worker import Worker

log = logging.getLogger("handlers.runtime.worker")  # also when run as __main__

LIMIT = 1 << 24  # the longest line either side accepts (options replies are the largest)
OPTIONS_TIMEOUT_S = 2.5  # Slack waits 3 s for an options load; an empty list beats none
START_TIMEOUT_S = 120.0

Op = Callable[[dict[str, Any]], Awaitable[Any]]


def to_wire(settings: Settings) -> dict[str, Any]:
    """Settings as JSON the worker turns back into the same Settings (secrets included: the
    socket is private to the two processes)."""
    out: dict[str, Any] = {}
    for name, value in settings:
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        elif isinstance(value, timedelta):
            value = f"{value.total_seconds()}s"
        elif isinstance(value, Path):
            value = str(value)
        out[name] = value
    return out


def from_wire(data: dict[str, Any]) -> Settings:
    return Settings(_env_file=None, **data)


def _line(message: dict[str, Any]) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


# -- the front's side --------------------------------------------------------------------------


class WorkerExited(RuntimeError):
    pass


class WorkerProcess:
    """The front's handle on its worker: a Background (handlers/context.py) whose work runs
    in the worker. Writing never blocks the front: a busy worker's backlog waits in the
    socket's buffers, not in front of the next ack."""

    def __init__(self, proc: asyncio.subprocess.Process, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter, identity: Identity) -> None:
        self.proc = proc
        self._reader = reader
        self._writer = writer
        self._identity = identity
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[Any]] = {}
        self._closing = False
        self._queued: list[bytes] = []
        self.exited = asyncio.Event()  # set when the worker is gone, for whatever reason
        self._reading: asyncio.Task[None] | None = None
        self.ready: dict[str, Any] = {}  # the worker's hello: its pid, and what it added

    @classmethod
    async def start(cls, settings: Settings, identity: Identity,
                    module: str = "handlers.runtime.worker", *extra: str) -> WorkerProcess:
        """Start the worker and wait until it is ready; ConfigError if it refused the
        settings, WorkerExited if it died."""
        front, back = socket.socketpair()
        try:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, "--fd", str(back.fileno()),
                "--parent", str(os.getpid()), *extra,
                pass_fds=[back.fileno()], stdin=asyncio.subprocess.DEVNULL,
                stdout=2,  # anything it prints joins the log: the front's stdout may be a pipe
            )
        finally:
            back.close()
        reader, writer = await asyncio.open_unix_connection(sock=front, limit=LIMIT)
        handle = cls(proc, reader, writer, identity)
        writer.write(_line({"op": "settings", "settings": to_wire(settings),
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
        self._queued.append(_line({"op": "work", "item": encode(item)}))
        if len(self._queued) == 1:
            asyncio.get_running_loop().call_soon(self._flush)

    async def options(self, user_id: str, query: str) -> list[dict[str, Any]]:
        try:
            return list(await self.ask("options", timeout=OPTIONS_TIMEOUT_S,
                                       user=user_id, query=query))
        except Exception as exc:  # noqa: BLE001 - an options load can only answer with options
            log.warning("device options: no answer from the worker (%s)", type(exc).__name__)
            return []

    async def settle(self) -> None:
        await self.ask("settle", timeout=None)

    async def ask(self, op: str, timeout: float | None = 60.0, **args: Any) -> Any:
        """Send ``op`` and wait for the worker's reply."""
        if self.exited.is_set():
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
        self._queued.append(_line(message))
        self._flush()

    def _flush(self) -> None:
        if not self._queued:
            return
        data, self._queued = b"".join(self._queued), []
        if self.exited.is_set():
            log.error("the worker process has exited: %d message(s) not sent", data.count(b"\n"))
            return
        self._writer.write(data)

    async def _read(self) -> None:
        try:
            while line := await self._reader.readline():
                message = json.loads(line)
                op = message.get("op")
                if op == "reply":
                    future = self._waiting.get(message.get("id", 0))
                    if future is not None and not future.done():
                        if "error" in message:
                            future.set_exception(RuntimeError(message["error"]))
                        else:
                            future.set_result(message.get("result"))
                elif op == "locale":
                    self._identity.learn(str(message["user"]), str(message["locale"]))
        except (ConnectionError, ValueError) as exc:
            if not self._closing:
                log.error("the link to the worker process broke: %s", type(exc).__name__)
        finally:
            self.exited.set()
            for future in self._waiting.values():
                if not future.done():
                    future.set_exception(WorkerExited("the worker process has exited"))
            if not self._closing:
                log.error("the worker process exited unexpectedly")

    async def aclose(self, timeout: float = 30.0) -> None:
        """Ask the worker to finish what it is doing and leave; kill it if it does not."""
        self._closing = True
        if not self.exited.is_set():
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
        self.exited.set()


# -- the worker's side -------------------------------------------------------------------------


async def build_worker(settings: Settings, *, on_locale: Callable[[str, str], None] | None = None,
                       **overrides: Any) -> tuple[Services, Worker]:
    """The core, a Slack client and a Worker over them; ConfigError for a bad setting."""
    client = build_client(settings)
    identity = Identity(client)  # shared: the notifier reads the locales the work cached
    services = await build_services(
        settings,
        lambda store: SlackNotifier(client, store, settings.approvals_channel, identity=identity),
        **overrides,
    )
    pooled(client)  # after the last step that may refuse the settings: nothing left open
    return services, Worker(services.service, identity, client, services.runner, on_locale)


async def close_worker(services: Services, worker: Worker) -> None:
    """Let the work under way finish, stop the job queue and the core, then close the Slack
    connection pool (a job stopped mid-call is run again at the next start)."""
    await worker.aclose()
    await services.aclose()
    await close_pool(worker.client)


Build = Callable[[Settings, Callable[[str, str], None]], Awaitable[tuple[Services, Worker]]]


async def run(fd: int, build: Build | None = None,
              ops: Callable[[Services, Worker], dict[str, Op]] | None = None) -> int:
    """The worker's life: settings, build, ready, then work until told to quit or the
    front goes away. ``build`` and ``ops`` let the benchmark add what it measures."""
    reader, writer = await asyncio.open_unix_connection(sock=socket.socket(fileno=fd),
                                                        limit=LIMIT)
    first = json.loads(await reader.readline() or b"{}")
    log_format = str((first.get("settings") or {}).get("log_format") or "text")
    setup_logging(int(first.get("log_level") or logging.INFO), json_lines=log_format == "json")

    outgoing: list[bytes] = []

    def flush() -> None:
        data = b"".join(outgoing)
        outgoing.clear()
        if data and not writer.is_closing():
            writer.write(data)

    def send(message: dict[str, Any]) -> None:
        """Replies and locales go out together once per loop turn: one write, one wake-up
        of the front, however many are ready."""
        outgoing.append(_line(message))
        if len(outgoing) == 1:
            asyncio.get_running_loop().call_soon(flush)

    def on_locale(user_id: str, locale: str) -> None:
        send({"op": "locale", "user": user_id, "locale": locale})

    try:
        settings = from_wire(first["settings"])
        lower_priority(settings.worker_priority)
        services, worker = await (build or _default_build)(settings, on_locale)
    except Exception as exc:  # the front reports it; the details are logged here
        if not isinstance(exc, ConfigError):
            log.exception("the worker could not start")
        send({"op": "error", "error": f"{type(exc).__name__}: {exc}"[:500],
              "config": isinstance(exc, ConfigError)})
        flush()
        await writer.drain()
        writer.close()
        return 2
    extra = ops(services, worker) if ops is not None else {}
    freeze_startup_heap()
    answering: set[asyncio.Task[None]] = set()

    async def answer(ident: int, result: Awaitable[Any]) -> None:
        try:
            send({"op": "reply", "id": ident, "result": await result})
        except Exception as exc:  # the front gets the type only; the log has the rest
            log.exception("worker op failed")
            send({"op": "reply", "id": ident, "error": type(exc).__name__})

    try:
        await services.start()
        send({"op": "ready", "pid": os.getpid()})
        while line := await reader.readline():
            message = json.loads(line)
            op = message.pop("op", "")
            if op == "quit":
                break
            if op == "work":
                try:
                    worker.later(decode(message.get("item")))
                except BadItem as exc:
                    log.error("refused a work item: %s", exc)
                continue
            ident = int(message.pop("id", 0))
            if op == "options":
                result: Awaitable[Any] = worker.options(message["user"], message["query"])
            elif op == "settle":
                result = worker.settle()
            elif op in extra:
                result = extra[op](message)
            else:
                send({"op": "reply", "id": ident, "error": f"no such op: {op[:40]}"})
                continue
            task = asyncio.create_task(answer(ident, result))
            answering.add(task)
            task.add_done_callback(answering.discard)
    finally:
        await close_worker(services, worker)
        flush()
        writer.close()
    return 0


async def _default_build(settings: Settings,
                         on_locale: Callable[[str, str], None]) -> tuple[Services, Worker]:
    return await build_worker(settings, on_locale=on_locale)


def freeze_startup_heap() -> None:
    """Move everything built at start (the app, a simulated fleet's indexes) out of the
    collector's sight. A full garbage collection walks every tracked object with the event
    loop stopped: about 150 ms at 100,000 simulated devices, longer than Slack's ack budget
    allows us to block. Frozen objects are still freed by reference counting."""
    gc.collect()
    gc.freeze()


def die_with(parent: int) -> None:
    """Linux: SIGKILL this process when the front dies, however it dies; elsewhere the
    closed socket ends the worker. Ctrl-C reaches the whole process group: the front
    decides when the worker stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the front died before the line above
        os._exit(1)


def lower_priority(priority: str) -> None:
    """WORKER_PRIORITY. ``idle`` (Linux SCHED_IDLE): the worker runs whenever the front does
    not need the CPU, and the kernel switches to the front the moment a request arrives;
    with ``low`` (nice 19) that switch may wait for the next scheduler tick, a few ms.
    ``normal``: for a host where other busy programs could starve an idle-priority worker."""
    if priority == "normal":
        return
    if priority == "idle" and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
            return
    with contextlib.suppress(OSError):
        os.nice(19)


def main(build: Build | None = None,
         ops: Callable[[Services, Worker], dict[str, Op]] | None = None) -> int:
    parser = argparse.ArgumentParser(description="passcode-bot's worker (started by the front)")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--parent", type=int, required=True)
    args, _ = parser.parse_known_args()
    die_with(args.parent)
    return asyncio.run(run(args.fd, build, ops))


if __name__ == "__main__":
    sys.exit(main())
