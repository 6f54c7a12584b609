"""What the operating system is told about our processes: the heap frozen after start, the
worker's CPU priority, and the worker dying with its front."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import signal
import sys

from bot import memory


def freeze_startup_heap() -> None:
    """Move everything built at start (the app, a simulated fleet's indexes) out of the
    collector's sight. A full garbage collection walks every tracked object with the event
    loop stopped: about 150 ms at 100,000 simulated devices, longer than Slack's ack budget
    allows us to block. Frozen objects are still freed by reference counting."""
    gc.collect()
    gc.freeze()
    memory.give_back()  # what loading them freed


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
