"""The durable job queue's runner: executes resets and sends notifications from the jobs
table, so work survives a restart, failures retry with backoff, and a job that keeps
failing is set aside (``dead``) where `passcode-bot status` and the audit can see it.

Each job a runner claims is leased to it, and renewed while it runs; a runner that died
leaves its jobs to whoever claims them once their leases run out (on SQLite, one worker per
file, a runner starting frees them at once). A runner that only stalled past its lease finds,
at its next renewal, that another claim holds the job: it stops that run, and whatever it
would have recorded afterwards (done, retry, later) is left to the new holder. The runner works
through the ports: the JobQueue (leases, and the wake-up when a change schedules jobs) and the
RequestStore; the use cases it runs (execute, sweep) through the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
from datetime import datetime, timedelta

from bot.domain import JobKind, State
from bot.ports import (
    BackendError,
    Clock,
    Heartbeats,
    Job,
    JobQueue,
    Later,
    Notifier,
    RequestStore,
)
from bot.retry import JOB_EXECUTE, JOB_NOTIFY, Backoff
from bot.service import ResetService

log = logging.getLogger(__name__)

LEASE_S = 120.0  # the job lease unless JOB_LEASE_SECONDS says otherwise (bot/config.py)
# How often each kind of job is tried and how long it waits between tries (bot/retry.py says
# why: an approved reset is tried again at least once a minute).
POLICIES: dict[JobKind, Backoff] = {JobKind.NOTIFY: JOB_NOTIFY, JobKind.EXECUTE: JOB_EXECUTE}
# After this many failed tries (about two minutes of backoff) a notification counts as stuck:
# the approvals channel and `/passcode status` are told, and the retries go on.
REPORT_STUCK_AFTER = 6
# How often a runner says it is alive (GET /readyz wants a heartbeat under 30 s old).
HEARTBEAT_S = 5.0


def _observed(future: asyncio.Future[bool]) -> None:
    """A renewal's failure is the answer None, not an unread exception in the log."""
    if not future.cancelled():
        future.exception()


class JobRunner:
    def __init__(self, service: ResetService, store: RequestStore, queue: JobQueue,
                 notifier: Notifier, clock: Clock, *, sweep_every_s: float = 60.0,
                 heartbeats: Heartbeats | None = None, lease_s: float = LEASE_S):
        self.service = service
        self.store = store
        self.queue = queue
        self.notifier = notifier
        self.clock = clock
        self.sweep_every_s = sweep_every_s
        self.lease_s = lease_s  # JOB_LEASE_SECONDS
        self._tasks: set[asyncio.Task[None]] = set()
        # Each running job's claim: its latest, when this runner claimed it again while it
        # still ran (its loop stalled past the lease, and its own next claim found it due).
        self._running: dict[int, Job] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._claiming = asyncio.Lock()
        # Notifications about one request go out one at a time, in the order they were
        # scheduled, and each renders the request as it is when it is sent: a slow or retried
        # "approved" update can never overwrite a later "completed" one.
        self._request_locks: dict[str, asyncio.Lock] = {}
        self.heartbeats = heartbeats
        self._started_at = clock.now()
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"

    async def start(self) -> None:
        await self.queue.release_leases()
        self._loops = [
            asyncio.create_task(self._job_loop(), name="jobs"),
            asyncio.create_task(self._sweep_loop(), name="sweep"),
        ]
        if self.heartbeats is not None:
            self._started_at = self.clock.now()
            await self._beat(self.heartbeats)  # ready (GET /readyz) once started
            self._loops.append(asyncio.create_task(self._beat_loop(self.heartbeats),
                                                   name="heartbeat"))

    async def stop(self) -> None:
        for task in [*self._loops, *self._tasks]:
            task.cancel()
        await asyncio.gather(*self._loops, *self._tasks, return_exceptions=True)
        self._loops.clear()

    async def run_due(self) -> list[asyncio.Task[None]]:
        """Lease every due job and start it; returns the tasks (tests await them)."""
        # One claim at a time in this process: on PostgreSQL a claim skips the rows another
        # one holds, so a drain racing the job loop would find nothing and none of its tasks.
        async with self._claiming:
            now = self.clock.now()
            started = []
            for job in await self.queue.claim_jobs(now, self.lease_s):
                if job.id in self._running:  # claimed again by us: this claim is ours now
                    self._running[job.id] = job
                    continue
                self._running[job.id] = job
                task = asyncio.create_task(self._run(job),
                                           name=f"job-{job.kind}-{job.request_id}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                started.append(task)
            return started

    async def drain(self, rounds: int = 50) -> None:
        """Run jobs until none is due or running (tests and the demo)."""
        for _ in range(rounds):
            await self.run_due()
            if not self._tasks:
                return
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def _run(self, job: Job) -> None:
        store, queue = self.store, self.queue
        current = asyncio.current_task()
        assert current is not None
        ran = asyncio.Event()
        renewing = asyncio.create_task(self._keep_lease(job, current, ran))
        try:
            try:
                if job.kind is JobKind.EXECUTE:
                    await self._execute(job.request_id)
                elif job.kind is JobKind.NOTIFY and job.event is not None:
                    async with self._lock_for(job.request_id):
                        request = await store.get(job.request_id)
                        if request is not None:
                            await self.notifier.notify(job.event, request)
                            if request.surface.get("delivery_problem") == job.event:
                                await store.save_surface(job.request_id,
                                                         {"delivery_problem": None})
            finally:
                # No renewal after this: one still on its way to the database finds the lease
                # given up by the outcome and changes nothing (bot/storage/jobs.py).
                ran.set()
                renewing.cancel()
                await asyncio.gather(renewing, return_exceptions=True)
            self._unless_held(job, await queue.finish_job(self._held(job), self.clock.now()))
        except asyncio.CancelledError:
            raise
        except Later as later:  # waiting for its turn, not failing: no attempt counted
            run_at = self.clock.now() + timedelta(seconds=later.seconds)
            self._unless_held(job, await queue.defer_job(self._held(job), run_at))
        except Exception as exc:
            policy = POLICIES[job.kind]
            dead = not policy.may_retry(job.attempts)
            reason = exc.message if isinstance(exc, BackendError) else type(exc).__name__
            if isinstance(exc, BackendError):
                log.warning("job %s %s for %s failed (attempt %d): %s",
                            job.kind, job.event, job.request_id, job.attempts, reason)
            else:
                log.exception("job %s %s for %s failed (attempt %d)",
                              job.kind, job.event, job.request_id, job.attempts)
            delay = policy.delay(job.attempts)
            run_at = self.clock.now() + timedelta(seconds=delay)
            held = await queue.retry_job(self._held(job), run_at, reason, dead)
            self._unless_held(job, held)
            if held and job.kind is JobKind.NOTIFY and job.attempts == REPORT_STUCK_AFTER:
                await self._report_stuck(job, reason)
        finally:
            renewing.cancel()  # (already ended, unless this run was cancelled in its wait)
            self._running.pop(job.id, None)

    async def _execute(self, request_id: str) -> None:
        """Run the reset; if it came round again meanwhile (Try again on an unconfirmed reset
        while this job was still finishing, so its new job was not scheduled: the old one was
        pending), run it again before the job counts as done."""
        for _ in range(3):
            await self.service.execute(request_id)
            request = await self.store.get(request_id)
            if request is None or request.state is not State.APPROVED:
                return

    def _lock_for(self, request_id: str) -> asyncio.Lock:
        for key in [k for k, lock in self._request_locks.items() if not lock.locked()]:
            if key != request_id:
                del self._request_locks[key]
        return self._request_locks.setdefault(request_id, asyncio.Lock())

    async def _report_stuck(self, job: Job, reason: str) -> None:
        store, event = self.store, job.event
        request = await store.get(job.request_id)
        if request is None or event is None:
            return
        await store.apply(request.delivery_failed(event, reason, self.clock.now()))
        await store.save_surface(job.request_id, {"delivery_problem": event})
        request = await store.get(job.request_id)
        if request is None:
            return
        try:
            await self.notifier.delivery_failed(event, request, reason)
        except Exception:
            log.exception("could not report a stuck notification for %s", job.request_id)

    async def _keep_lease(self, job: Job, running: asyncio.Task[None], ran: asyncio.Event,
                          ) -> None:
        """Renew the job's lease every third of it, until the run has ``ran``. Once another
        claim holds the job (this process stalled past the lease), that one is running it:
        this one stops where it is, as if it had died there (every job is safe to run again
        from any point). A renewal that fails (the database out of reach) is tried again a
        third of a lease later; one that has not answered a sixth of a lease before the lease
        runs out (a connection hung, a pool exhausted) counts as failed. When the next try
        would be after the lease runs out, the run stops: another runner may claim the job
        from then on."""
        loop = asyncio.get_running_loop()
        lapses_at = loop.time() + self.lease_s
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(ran.wait(), self.lease_s / 3)
            if ran.is_set():
                return
            until, asked = self.clock.now() + timedelta(seconds=self.lease_s), loop.time()
            held = await self._renewed(self._held(job), until,
                                       lapses_at - asked - self.lease_s / 6)
            if held:
                lapses_at = asked + self.lease_s
                continue
            if ran.is_set():  # ended meanwhile: its outcome says whether the job was still ours
                return
            if held is None and loop.time() + self.lease_s / 3 < lapses_at:
                log.warning("job %s %s for %s: could not renew its lease; trying again",
                            job.kind, job.event, job.request_id)
                continue
            log.warning("job %s %s for %s: %s; stopping this run", job.kind, job.event,
                        job.request_id, "its lease ran out and another runner took it over"
                        if held is False else "its lease could not be renewed before it ran out")
            running.cancel()
            return

    def _held(self, job: Job) -> Job:
        """The claim this runner holds on ``job`` now (its latest)."""
        return self._running.get(job.id, job)

    async def _renewed(self, job: Job, until: datetime, within_s: float) -> bool | None:
        """One renewal: whether the job is still this claim's, or None when the database did
        not answer within ``within_s``."""
        asking = asyncio.ensure_future(self.queue.renew_lease(job, until))
        asking.add_done_callback(_observed)  # (left behind, it ends unread: shielded, as writes)
        await asyncio.wait({asking}, timeout=max(within_s, 0.0))
        if not asking.done() or asking.cancelled() or asking.exception() is not None:
            return None
        return asking.result()

    @staticmethod
    def _unless_held(job: Job, held: bool) -> None:
        if not held:
            log.warning("job %s %s for %s: its lease ran out and another runner took it over; "
                        "this run's outcome is left to that one", job.kind, job.event,
                        job.request_id)

    async def _job_loop(self) -> None:
        while True:
            try:
                await self.run_due()
            except Exception:  # the loop must outlive a bad moment, but never a stop
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise asyncio.CancelledError from None
                log.exception("job loop iteration failed")
            # Woken as soon as a change schedules a job, else when the next one falls due.
            await self.queue.wait_for_jobs(await self._idle_s())

    async def _idle_s(self) -> float:
        next_at = await self.queue.next_job_at()
        if next_at is None:
            return 5.0
        wait = (next_at - self.clock.now()).total_seconds()
        return min(max(wait, 0.05), 5.0)

    async def _sweep_loop(self) -> None:
        while True:
            try:
                async with self.queue.exclusive("sweep") as mine:  # one replica at a time
                    if mine:
                        await self.service.sweep()
            except Exception:
                log.exception("expiry sweep failed")
            await asyncio.sleep(self.sweep_every_s)

    async def _beat_loop(self, heartbeats: Heartbeats) -> None:
        """Say this runner is alive every HEARTBEAT_S, as long as its job loop runs: a runner
        whose loop died, or whose event loop hangs, stops beating."""
        jobs = self._loops[0]
        while not jobs.done():
            await asyncio.sleep(HEARTBEAT_S)
            await self._beat(heartbeats)

    async def _beat(self, heartbeats: Heartbeats) -> None:
        try:
            await heartbeats.beat(self.worker_id, socket.gethostname(), os.getpid(),
                                  self._started_at, self.clock.now())
        except Exception:  # noqa: BLE001 - the next beat tries again; /readyz sees the gap
            log.warning("could not record the job runner's heartbeat")
