"""The durable inbox, the one channel between the processes that ack and those that work
(bot/storage/inbox.py keeps it).

The acking side (``Acks``): a listener's work item is committed under the delivery the door
recognised (handlers/slack/app.py ``DELIVERY``) before the listener acks; a delivery already
committed (a Slack retry racing its first delivery, the same envelope on two replicas) is
committed once, and nothing more happens. The work that must reach Slack within a trigger's
3 seconds (``HERE``: the Show passcode modal and the picker modal, which spend a trigger_id)
is run by the acking process itself, right after the ack, leased to it from the insert: it
never waits behind a worker, busy, stopped or at idle priority. If the acking process dies first, a
worker takes it over once its lease runs out (the trigger has expired by then: the person is
told to click again). A first help's locale lookup (``AFTER_ACK``) is committed right after
the ack instead, under a key of its own (one a day per person), since losing it loses only a
language: a worker asks Slack, and the processes that ack read what it learnt from the
database (handlers/slack/identity.py ``read_locales``), so none of them asks Slack itself.

The working side (``InboxRunner``): claims items like jobs (leased, SKIP LOCKED on
PostgreSQL; a dead worker's items come back when their lease runs out), runs them through the
Worker, and marks them done. Each claim is fenced by the item's attempt count: a worker whose
lease ran out and was claimed by another stops the item at its next renewal and cannot mark
it done. The Worker guards every item itself (a failure is logged and the
person gets an apology), so an item is tried again only when its worker died while running it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.ports import Inbox, InboxItem
from handlers.slack.app import DELIVERY
from handlers.work.items import BadItem, LearnLocale, OpenPicker, Reveal, WorkItem, decode, encode
from handlers.work.worker import Worker

log = logging.getLogger(__name__)

HERE: frozenset[type[WorkItem]] = frozenset({Reveal, OpenPicker})
# Committed after the ack: a crash loses only a language (the next help asks again), and a
# help's ack writes nothing.
AFTER_ACK: frozenset[type[WorkItem]] = frozenset({LearnLocale})
# Not settings (unlike the jobs' JOB_LEASE_SECONDS, whose jobs may run for minutes): an item
# is a command's first step, seconds long, and its lease is renewed while it runs, so the only
# thing its length decides is how soon a killed worker's item is taken over: 10 s and the
# next look, IDLE_S, at most (a person waits that long for the answer to a command whose
# worker was killed; 20 s and 5 s before 2026-12-04, when the replicas benchmark found steps
# stored 20 s after their ack, past its 15 s mark). A worker that misses two renewals in a
# row (a loop stalled for 7 s) lets another claim the item. Its next renewal then finds its
# claim over, and it stops the item where it is (``run_leased``), as if killed there: the two
# overlap for that long at most, which is safe (the request id was chosen at the ack), and
# only then may both say something. Before the claims were fenced (2026-12-04) the stalled
# one ran on to the end, which is why the lease was longer.
# HERE_LEASE_S is renewed the same way: its length only decides how soon a worker takes over
# the click of an acking process killed before it opened the modal (10 s and the worker's
# next look, IDLE_S; the trigger is spent by then and the person is told to click again).
# No deployment has a reason to choose either.
HERE_LEASE_S = 10.0  # the acking process's hold on what it runs itself
LEASE_S = 10.0  # a worker's, renewed every third of it while the item runs
MAX_ATTEMPTS = 5  # an item whose worker died this often is set aside (one log line)
IDLE_S = 2.5  # the longest a worker waits without looking (a lease may have run out)
# Items one worker runs at once. It claims no more than it has room for: the rest stay in the
# inbox, where any other worker may take them, and a worker killed strands only what it was
# running, never a queue it had claimed and not yet started (a worker on a busy CPU, at idle
# priority, can be far behind its claims; each claimed item waits out LEASE_S after a kill).
# An item is mostly waiting for Slack and Intune, so a worker runs many at once: with 10, a
# burst of 300 requests on one replica completed 19-22 a second, against 25 with no cap and
# 29 with 32 (python -m bench --only replicas, single runs, the local emulators); a kill
# left as many late steps with 32 as with 10. A helpdesk's peak is far below either.
RUNNING_AT_ONCE = 32
KEEP_DONE = timedelta(days=1)  # a done item's delivery key outlives Slack's retries by far
PURGE_EVERY_S = 3600.0


def now() -> datetime:
    """Leases are the inbox's own business: wall time, not the core's clock."""
    return datetime.now(UTC)


@dataclass
class Claim:
    """The claim a process holds on an item it runs: the item's attempt count when claimed (0:
    the acking process's own). A worker that claims again an item it is still running (its
    loop stalled past the lease, and its own next claim found it due) holds the new one."""

    n: int


async def keep_lease(inbox: Inbox, item_id: int, lease_s: float, claim: Claim) -> None:
    """Renew an item's lease every third of it, until cancelled (the item has finished), or
    until a renewal finds the claim over: this process stalled past its lease and another
    claimed the item (it returns then)."""
    while True:
        await asyncio.sleep(lease_s / 3)
        try:
            ours = await inbox.renew_inbox(item_id, now() + timedelta(seconds=lease_s), claim.n)
        except Exception:  # noqa: BLE001 - the database away: the next renewal tries again
            continue
        if not ours:
            return


def run_leased(worker: Worker, inbox: Inbox, item: WorkItem, item_id: int, claim: Claim,
               lease_s: float) -> asyncio.Task[None]:
    """Run ``item`` through ``worker``, its lease renewed until it has run, then mark it done.
    If its claim ends first (another claimed it), it stops where it is, as if killed there:
    the one that claimed it runs it, and this one says nothing more (an item is made to be
    run again after a kill at any point)."""
    renew = asyncio.create_task(keep_lease(inbox, item_id, lease_s, claim))

    async def then() -> None:
        renew.cancel()
        await inbox.finish_inbox(item_id, now(), claim.n)

    task = worker.later(item, then)

    def lost(_: asyncio.Task[None]) -> None:
        if not renew.cancelled() and renew.exception() is None and not task.done():
            log.warning("%s: another worker claimed it (this one stalled past its lease); "
                        "stopped here", item.what)
            task.cancel()

    renew.add_done_callback(lost)
    task.add_done_callback(lambda _: renew.cancel())
    return task


class Acks:
    """The acking side: commit, then (for ``HERE``) run right after the ack."""

    def __init__(self, inbox: Inbox, worker: Worker) -> None:
        self.inbox = inbox
        self.worker = worker

    async def later(self, item: WorkItem) -> None:
        if type(item) in AFTER_ACK:
            key = f"{type(item).__name__}:{item.user}:{now().date().isoformat()}"
            self.worker.track(self._add_quietly(key, item), type(item).__name__)
            return
        delivery = DELIVERY.get() or "local:" + secrets.token_hex(16)  # none: never a retry
        here = type(item) in HERE
        added = await self._add(delivery, item, here_lease_s=HERE_LEASE_S if here else None)
        if added is None:
            log.info("a delivery came again; its work is committed already, nothing done")
            return
        if here:
            # Started now, it runs once the listener has returned and the ack is on its way;
            # its lease is renewed while it runs (a slow one is not taken over meanwhile).
            run_leased(self.worker, self.inbox, item, added, Claim(0), HERE_LEASE_S)

    async def _add_quietly(self, delivery: str, item: WorkItem) -> None:
        try:
            await self._add(delivery, item)
        except Exception:  # noqa: BLE001 - only a language: the next help asks again
            log.warning("%s not committed: the database did not answer", item.what)

    async def _add(self, delivery: str, item: WorkItem, *, here_lease_s: float | None = None
                   ) -> int | None:
        return await self.inbox.add_to_inbox(
            delivery, type(item).__name__, json.dumps(encode(item), separators=(",", ":")),
            now(), here_lease_s=here_lease_s)


class InboxRunner:
    """The working side: claims the inbox's items and runs them, until stopped."""

    def __init__(self, inbox: Inbox, worker: Worker) -> None:
        self.inbox = inbox
        self.worker = worker
        self._loop: asyncio.Task[None] | None = None
        self._running: dict[int, Claim] = {}  # by item id
        self._claiming = asyncio.Lock()
        self._full = False  # the last claim filled the room left: more may be waiting
        self._freed = asyncio.Event()  # an item finished while full

    async def start(self) -> None:
        await self.inbox.release_inbox_leases()
        self._loop = asyncio.create_task(self._forever(), name="inbox")

    async def stop(self) -> None:
        """Stop claiming; what is running finishes (the Worker's tasks, awaited by its
        owner). Anything cut short comes back when its lease runs out."""
        if self._loop is not None:
            self._loop.cancel()
            await asyncio.gather(self._loop, return_exceptions=True)
            self._loop = None

    async def run_due(self) -> list[asyncio.Task[None]]:
        """Claim as many due items as there is room for (RUNNING_AT_ONCE) and start them."""
        async with self._claiming:
            room = RUNNING_AT_ONCE - len(self._running)
            self._full = room <= 0
            if self._full:
                return []
            started = []
            claimed = await self.inbox.claim_inbox(now(), LEASE_S, limit=room)
            self._full = len(claimed) >= room
            for entry in claimed:
                if entry.id in self._running:  # claimed again by us: this claim is ours now
                    self._running[entry.id].n = entry.attempts
                    continue
                self._running[entry.id] = Claim(entry.attempts)
                started.append(self._start(entry))
            return started

    def _start(self, entry: InboxItem) -> asyncio.Task[None]:
        task = self._run(entry, self._running[entry.id])
        task.add_done_callback(lambda _: self._release(entry.id))  # however it ended
        return task

    def _run(self, entry: InboxItem, claim: Claim) -> asyncio.Task[None]:
        try:
            item = decode(json.loads(entry.item))
        except (BadItem, ValueError) as exc:
            log.error("refused an inbox item: %s", exc)
            return asyncio.create_task(self._done(entry.id, claim))
        if entry.attempts > MAX_ATTEMPTS:
            log.error("%s set aside: its worker died %d times running it", item.what,
                      entry.attempts - 1)
            return asyncio.create_task(self._done(entry.id, claim))
        return run_leased(self.worker, self.inbox, item, entry.id, claim, LEASE_S)

    async def _done(self, item_id: int, claim: Claim) -> None:
        await self.inbox.finish_inbox(item_id, now(), claim.n)

    def _release(self, item_id: int) -> None:
        """The item's run has ended (done, or cut short: then its lease brings it back)."""
        self._running.pop(item_id, None)
        if self._full:
            self._freed.set()

    async def drain(self, rounds: int = 1000) -> None:
        """Run items until none is waiting or running (tests and the demo; each round
        claims RUNNING_AT_ONCE at most)."""
        for _ in range(rounds):
            started = await self.run_due()
            if not started and not self._running:
                return
            await asyncio.gather(*started, return_exceptions=True)
            if self.worker.tasks:
                await asyncio.gather(*list(self.worker.tasks), return_exceptions=True)

    async def _forever(self) -> None:
        loop = asyncio.get_running_loop()
        purged_at = -PURGE_EVERY_S
        while True:
            try:
                await self.run_due()
                if loop.time() - purged_at >= PURGE_EVERY_S:
                    purged_at = loop.time()
                    await self.inbox.purge_inbox(now() - KEEP_DONE)
            except Exception:  # the loop must outlive a bad moment (the database away)
                log.exception("inbox loop iteration failed")
                await asyncio.sleep(1.0)
            await self._wait()

    async def _wait(self) -> None:
        """Until there may be more to claim: an item was added (or IDLE_S passed: a lease may
        have run out), or, when the last claim filled the room, one of the items running
        finished."""
        if not self._full:
            await self.inbox.wait_for_inbox(IDLE_S)
            return
        self._freed.clear()
        if len(self._running) < RUNNING_AT_ONCE:  # one finished since the claim
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._freed.wait(), IDLE_S)
