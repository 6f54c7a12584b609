"""The parent side: start a benchmark subprocess, wait for it to be ready, ask it things."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CPU_ENV = "PASSCODE_BENCH_CPU"
# The emulators' CPU priority (WORKER_PRIORITY's words): idle unless --shared-machine.
EMULATOR_PRIORITY_ENV = "PASSCODE_BENCH_EMULATOR_PRIORITY"


# The CPUs this process may use when the benchmark is imported, before bench.__main__ pins
# itself to the load generator's: read later, from that pinned process, layout() found one
# CPU and left every server unpinned on the load generator's CPU.
_CPUS = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


def layout() -> tuple[int | None, int | None]:
    """(the load generator's CPU, the servers' CPU). On two or more CPUs the servers get one
    to themselves, as a server would, and the load generator (standing in for the internet)
    another: without that, where the scheduler happened to put whom moved the closed-loop
    figures of one and the same app by up to 2x from run to run."""
    cpus = _CPUS  # as the benchmark started: it then pins itself to the first
    return (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)


def pin() -> None:
    """In a child: keep to the CPU the parent chose (processes it starts inherit it)."""
    cpu = os.environ.get(CPU_ENV)
    if cpu and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(cpu)})


def emulator_priority() -> str:
    """An emulator's priority: ``idle`` (it is remote: it never takes CPU from the bot or the
    load generator), or ``normal`` with ``--shared-machine``, where a program that is not the
    benchmark's could otherwise starve it, and the bot with it, for as long as that one runs."""
    return os.environ.get(EMULATOR_PRIORITY_ENV, "idle")


class ChildError(RuntimeError):
    pass


class Child:
    """``python -m <module> <args>`` with a line protocol on stdin/stdout; stderr to a file."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, log: Path,
                 ready: dict[str, Any]) -> None:
        self.name = name
        self.proc = proc
        self.log = log
        self.ready = ready
        self._lock = asyncio.Lock()

    @classmethod
    async def start(cls, name: str, module: str, *args: str, log_dir: Path,
                    cpu: int | None = None, timeout: float = 120.0) -> Child:
        """``cpu``: the one CPU the child (and any process it starts) runs on."""
        log = log_dir / f"{name}.log"
        env = {**os.environ, **({CPU_ENV: str(cpu)} if cpu is not None else {})}
        with log.open("wb") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", module, *args, cwd=ROOT, stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE, stderr=err, limit=1 << 26, env=env,
            )
        child = cls(name, proc, log, {})
        try:
            first = await child._read(timeout)
        except BaseException:
            await child.stop()
            raise
        child.ready = first["ready"]
        return child

    @property
    def port(self) -> int:
        return int(self.ready["port"])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ask(self, *words: object, timeout: float = 120.0) -> Any:
        """Send one command line and return the child's JSON answer."""
        async with self._lock:
            assert self.proc.stdin is not None
            self.proc.stdin.write((" ".join(map(str, words)) + "\n").encode())
            await self.proc.stdin.drain()
            answer = await self._read(timeout)
        if isinstance(answer, dict) and "error" in answer:
            raise ChildError(f"{self.name}: {answer['error']}")
        return answer

    async def _read(self, timeout: float) -> Any:
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise ChildError(f"{self.name} exited (code {self.proc.returncode}); "
                             f"its log {self.log}:\n{self.tail()}")
        return json.loads(line)

    def tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    async def stop(self, timeout: float = 30.0) -> None:
        """Ask it to quit; kill this one child (by its own pid) if it does not in time."""
        if self.proc.returncode is not None:
            return
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(b"quit\n")
            self.proc.stdin.close()
        except (ConnectionError, RuntimeError):
            pass
        try:
            await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
