"""The store on both databases (SQLite and PostgreSQL, the ``database_url`` fixture), under
concurrency: what one task commits the next read sees; the database itself allows one open
request per device; migrations apply to old schemas or refuse whole; and, across processes
(two stores on one database), claims never overlap, a dead claimer's jobs come back when its
lease runs out, the audit chain stays one chain, and a new job wakes a waiting runner."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from bot import cli
from bot.audit import verify
from bot.backends.simulated import SimulatedBackend, demo_fleet, demo_users
from bot.bootstrap import build_services
from bot.clock import ManualClock, SystemClock
from bot.config import ConfigError, Settings, load_settings
from bot.domain import JobKind, NotifyEvent, ResetRequest, State, new_request_id, notify
from bot.jobs import JobRunner
from bot.ports import ActionRef, ActionState, Job
from bot.roles import FileRoleDirectory
from bot.storage import MIGRATIONS, OpenRequestExists, Store, StoreError
from bot.storage import copy as store_copy
from bot.storage.connection import Tx, ts
from bot.storage.dialect import POSTGRES, SQLITE, Dialect, is_postgres_url
from bot.storage.jobs import add_jobs
from bot.vault import Vault
from policy.platforms import Result, Row, Scope
from tests.databases import count, everything_stored, fresh_schema, listening, rows, run_sql
from tests.fakes.notifier import FakeNotifier

ROOT = Path(__file__).resolve().parents[2]


def new_request(i: int) -> ResetRequest:
    now = datetime.now(UTC)
    return ResetRequest(
        id=new_request_id(), requester_id=f"U{i}", requester_email=f"u{i}@example.com",
        device_id=f"device-{i}", device_name=f"PHONE-{i}", device_serial=f"S{i}",
        device_owner_email=f"u{i}@example.com", row=Row.AE_FULLY_MANAGED, scope=Scope.DEVICE,
        expected=Result.TEMPORARY_PASSCODE, state=State.AWAITING_APPROVAL, created_at=now,
        updated_at=now, approval_deadline=now,
    )


def old_schema(url: str, migrations: int) -> list[tuple[str, tuple[object, ...]]]:
    """The statements that make a database of schema ``migrations`` (as an old release did)."""
    dialect = POSTGRES if is_postgres_url(url) else SQLITE
    statements: list[tuple[str, tuple[object, ...]]] = [
        (s, ()) for script in MIGRATIONS[:migrations] for s in dialect.render(script)]
    statements.append(("CREATE TABLE schema_version (version INTEGER NOT NULL)", ()))
    statements += [("INSERT INTO schema_version VALUES (?)", (v,))
                   for v in range(1, migrations + 1)]
    return statements


def old_request(rid: str, device: str, state: str, now: str, ref: str = "") -> tuple[str, tuple]:
    return (
        "INSERT INTO requests (id, requester_id, requester_email, device_id,"
        " device_name, device_serial, device_owner_email, row, scope, state,"
        " created_at, updated_at, action_ref, action_started_at)"
        " VALUES (?, 'U1', 'u@example.com', ?, 'PHONE', 'S1', 'u@example.com',"
        " ?, ?, ?, ?, ?, ?, ?)",
        (rid, device, Row.AE_FULLY_MANAGED.value, Scope.DEVICE.value, state, now, now, ref,
         now if ref else None),
    )


async def test_a_read_after_a_commit_sees_it_while_other_reads_overlap(database_url: str) -> None:
    """Overlapping reads must not pin an old snapshot (a lost request)."""
    store = await Store.open(database_url)
    missed = 0

    async def write_then_read(i: int) -> None:
        nonlocal missed
        request = new_request(i)
        await store.insert(request, actor=request.requester_id)
        if await store.get(request.id) is None:
            missed += 1

    async def busy_reader() -> None:
        for _ in range(40):
            await store.in_states([State.AWAITING_APPROVAL], limit=500)

    try:
        await asyncio.gather(*(write_then_read(i) for i in range(200)),
                             *(busy_reader() for _ in range(8)))
    finally:
        await store.close()
    assert missed == 0


async def test_migration_2_fills_in_when_a_started_reset_was_recorded(database_url: str) -> None:
    """A database of schema 1 (before action_recorded_at): opening it adds the column and
    fills it in from the audit trail's last backend_action event."""
    now = "2026-11-23T10:00:00.000000+00:00"
    recorded = "2026-11-23T10:00:05.000000+00:00"
    run_sql(database_url, [
        *old_schema(database_url, 1),
        old_request("PR-STARTED", "d1", "executing", now, "r-1"),
        old_request("PR-WAITING", "d2", "awaiting_approval", now),
        *[("INSERT INTO audit (request_id, at, actor, action, from_state, to_state,"
           " prev_hash, hash) VALUES ('PR-STARTED', ?, 'passcode-bot',"
           " 'backend_action', 'executing', 'executing', '', '')", (at,))
          for at in ("2026-11-23T10:00:01.000000+00:00", recorded)],
    ])

    store = await Store.open(database_url)
    try:
        started = await store.get("PR-STARTED")
        assert started is not None
        assert started.action_recorded_at == datetime.fromisoformat(recorded)
        waiting = await store.get("PR-WAITING")
        assert waiting is not None and waiting.action_recorded_at is None
    finally:
        await store.close()


async def test_the_database_itself_allows_one_open_request_per_device(database_url: str) -> None:
    """Inserts racing for one device from two stores (two processes): one is stored, each other
    raises OpenRequestExists naming it and leaves no row, audit event or job behind. Refused
    and closed requests do not count."""
    url = database_url
    first, second = await Store.open(url), await Store.open(url)
    try:
        racing = [replace(new_request(1), id=new_request_id()) for _ in range(8)]
        results = await asyncio.gather(
            *((first if i % 2 else second).insert(
                r, actor="U1", jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
              for i, r in enumerate(racing)),
            return_exceptions=True)
        stored = [r for r, result in zip(racing, results, strict=True) if result is None]
        assert len(stored) == 1
        lost = [result for result in results if result is not None]
        assert all(isinstance(e, OpenRequestExists) and e.existing.id == stored[0].id
                   for e in lost)
        assert count(url, "SELECT COUNT(*) FROM requests") == 1
        assert count(url, "SELECT COUNT(DISTINCT request_id) FROM audit") == 1
        assert count(url, "SELECT COUNT(*) FROM jobs") == 1

        refused = replace(new_request(1), id=new_request_id(), state=State.REFUSED)
        await first.insert(refused, actor="U1")  # a refusal is not open: it does not collide
        await first.transition(stored[0].id, State.DENIED, actor="U9", at=datetime.now(UTC))
        again = replace(new_request(1), id=new_request_id())
        await second.insert(again, actor="U1")  # the first one is closed now
        assert count(url, "SELECT COUNT(*) FROM requests WHERE state = 'awaiting_approval'") == 1
        with pytest.raises(StoreError):
            await first.insert(again, actor="U1")  # the same request twice is a plain error
    finally:
        await first.close()
        await second.close()


async def test_migration_3_will_not_start_on_two_open_requests_for_one_device(
    database_url: str,
) -> None:
    """A database written before the constraint, holding two open requests for one device:
    opening it stops with one line naming both, and changes nothing."""
    now = "2026-11-23T10:00:00.000000+00:00"
    run_sql(database_url, [
        *old_schema(database_url, 2),
        *(old_request(rid, device, state, now)
          for rid, state, device in (("PR-FIRST", "awaiting_approval", "d1"),
                                     ("PR-SECOND", "executing", "d1"),
                                     ("PR-OTHER", "awaiting_approval", "d2"),
                                     ("PR-DONE", "completed", "d2"))),
    ])

    with pytest.raises(StoreError) as refused:
        await Store.open(database_url)
    message = str(refused.value)
    assert "\n" not in message
    assert "PR-FIRST" in message and "PR-SECOND" in message and "d1" in message
    assert "PR-OTHER" not in message and "PR-DONE" not in message
    assert count(database_url, "SELECT MAX(version) FROM schema_version") == 2
    assert count(database_url, "SELECT COUNT(*) FROM requests WHERE state IN"
                               " ('awaiting_approval', 'executing')") == 3


async def test_stores_opening_together_migrate_once(database_url: str) -> None:
    """Replicas starting at once: every migration is applied once, none fails."""
    stores = await asyncio.gather(*(Store.open(database_url) for _ in range(4)))
    for store in stores:
        await store.close()
    assert count(database_url, "SELECT COUNT(*) FROM schema_version") == len(MIGRATIONS)
    assert count(database_url, "SELECT MAX(version) FROM schema_version") == len(MIGRATIONS)


async def test_two_claimers_never_hold_one_job_and_a_dead_ones_jobs_come_back(
    database_url: str,
) -> None:
    """Two runners (two stores) claiming at once share the due jobs without overlap; the jobs
    of one that died are claimed again once its lease has run out, and not before."""
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        requests = [new_request(i) for i in range(60)]
        for request in requests:
            await first.insert(request, actor="U1", jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
        now = datetime.now(UTC) + timedelta(seconds=1)
        claims = await asyncio.gather(*(
            store.claim_jobs(now, lease_s=60, limit=7)
            for _ in range(6) for store in (first, second)))
        claimed = [job.id for batch in claims for job in batch]
        assert len(claimed) == len(set(claimed)) == len(requests)

        # Every runner is gone now, holding its leases: until they run out, nothing is due...
        assert await second.claim_jobs(now + timedelta(seconds=59), lease_s=60) == []
        assert await first.next_job_at() == now + timedelta(seconds=60)
        # ... then the jobs are due again, for whoever comes: this is their second attempt.
        taken = await second.claim_jobs(now + timedelta(seconds=61), lease_s=60, limit=100)
        assert sorted(job.id for job in taken) == sorted(claimed)
        assert {job.attempts for job in taken} == {2}
        assert {job.kind for job in taken} == {JobKind.NOTIFY}
    finally:
        await first.close()
        await second.close()


JOB_ROW = "SELECT run_at, lease_until, attempts, done_at, dead, last_error FROM jobs"


async def test_a_claim_whose_lease_ran_out_changes_nothing_the_next_claim_holds(
    database_url: str,
) -> None:
    """A runner that stalled past its lease, the job claimed by another since, can no longer
    renew, finish, retry or defer it: each says so and writes nothing. The new holder can."""
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        await first.insert(new_request(1), actor="U1",
                           jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
        now = datetime.now(UTC) + timedelta(seconds=1)
        [stale] = await first.claim_jobs(now, lease_s=60)
        later = now + timedelta(seconds=61)
        [held] = await second.claim_jobs(later, lease_s=60)
        assert (held.id, held.claim, held.attempts) == (stale.id, stale.claim + 1, 2)
        before = rows(database_url, JOB_ROW)

        assert not await first.renew_lease(stale, later + timedelta(seconds=600))
        assert not await first.finish_job(stale, later)
        assert not await first.retry_job(stale, later, "ConnectionError", dead=True)
        assert not await first.defer_job(stale, later + timedelta(seconds=5))
        assert rows(database_url, JOB_ROW) == before

        assert await second.renew_lease(held, later + timedelta(seconds=90))
        assert await second.finish_job(held, later)
        assert not await second.finish_job(held, later)  # done once
        assert await first.pending_jobs() == []
    finally:
        await first.close()
        await second.close()


async def test_a_runner_that_stalled_past_its_lease_stops_the_run_another_took_over(
    database_url: str,
) -> None:
    """While a runner's job runs, its lease runs out (the clock jumps past it: a stall) and
    another runner claims the job. At its next renewal the first one learns it: it stops
    that run where it is, and the job stays the other's, leased to it, not done."""
    clock = ManualClock()
    started, stopped = asyncio.Event(), asyncio.Event()

    class Holding(FakeNotifier):
        async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
            started.set()
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                stopped.set()
                raise

    store, other = await Store.open(database_url), await Store.open(database_url)
    runner = JobRunner(None, store, store, Holding(), clock,  # type: ignore[arg-type]
                       lease_s=0.3)
    try:
        await store.insert(new_request(1), actor="U1",
                           jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
        clock.advance(timedelta(seconds=1))
        [running] = await runner.run_due()
        await asyncio.wait_for(started.wait(), 10)
        clock.advance(timedelta(seconds=1))  # past the 0.3 s lease
        [taken] = await other.claim_jobs(clock.now(), lease_s=60)
        lease = rows(database_url, "SELECT lease_until FROM jobs")

        await asyncio.wait_for(stopped.wait(), 10)  # its next renewal, 0.1 s on
        await asyncio.gather(running, return_exceptions=True)
        assert running.cancelled()
        assert rows(database_url, "SELECT lease_until FROM jobs") == lease
        [job] = await other.pending_jobs()
        assert (job["attempts"], job["dead"], job["last_error"]) == (2, 0, "")
        assert await other.finish_job(taken, clock.now())
    finally:
        await runner.stop()
        await other.close()
        await store.close()

async def test_a_runner_that_claims_again_a_job_it_still_runs_keeps_running_it(
    database_url: str,
) -> None:
    """A runner's job runs past its lease (the clock jumps: its loop stalled) and the runner's
    own next claim takes the job again. That new claim is the one the run holds: its
    renewals go on, the run is not stopped, and it finishes the job once."""
    clock = ManualClock()
    started, release = asyncio.Event(), asyncio.Event()

    class Slow(FakeNotifier):
        async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
            started.set()
            await release.wait()
            await super().notify(event, request)

    notifier = Slow()
    store = await Store.open(database_url)
    runner = JobRunner(None, store, store, notifier, clock,  # type: ignore[arg-type]
                       lease_s=0.3)
    try:
        request = new_request(1)
        await store.insert(request, actor="U1", jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
        clock.advance(timedelta(seconds=1))
        [running] = await runner.run_due()
        await asyncio.wait_for(started.wait(), 10)
        clock.advance(timedelta(seconds=1))  # past the 0.3 s lease
        assert await runner.run_due() == []  # its own job again: nothing more started
        [job] = await store.pending_jobs()
        assert (job["claims"], job["attempts"]) == (2, 2)
        await asyncio.sleep(0.35)  # renewals every 0.1 s, under the new claim
        release.set()
        await asyncio.wait_for(running, 10)
        assert notifier.events == [(NotifyEvent.APPROVAL_REQUESTED, request.id,
                                    "awaiting_approval")]
        assert await store.pending_jobs() == []  # finished, under the claim it held
    finally:
        await runner.stop()
        await store.close()


async def test_a_job_that_came_round_again_is_no_longer_its_earlier_holders(
    database_url: str,
) -> None:
    """A job set aside (dead) and scheduled again (the request came round once more) counts
    as claimed anew: the runner that held it before can neither renew nor finish it."""
    store = await Store.open(database_url)
    try:
        request = new_request(1)
        spec = notify(NotifyEvent.APPROVAL_REQUESTED)
        await store.insert(request, actor="U1", jobs=[spec])
        now = datetime.now(UTC) + timedelta(seconds=1)
        [earlier] = await store.claim_jobs(now, lease_s=60)
        assert await store.retry_job(earlier, now, "ConnectionError", dead=True)

        async def again(tx: Tx) -> None:
            await add_jobs(tx, request.id, now, [spec])

        await store.database.write(again)
        assert not await store.renew_lease(earlier, now + timedelta(seconds=600))
        assert not await store.finish_job(earlier, now)
        [job] = await store.pending_jobs()
        assert (job["lease_until"], job["dead"], job["attempts"]) == (None, 0, 0)
        [anew] = await store.claim_jobs(now + timedelta(seconds=1), lease_s=60)
        assert await store.finish_job(anew, now)
    finally:
        await store.close()


class Renewals:
    """The store as the runner's job queue, with its lease renewals as a test says (the
    database out of reach, or slow to answer)."""

    def __init__(self, store: Store,
                 renew: Callable[[Job, datetime], Awaitable[bool]]) -> None:
        self._store, self.renew_lease = store, renew

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


async def run_one_notification(database_url: str, notifier: FakeNotifier,
                               renew: Callable[[Store, Job, datetime], Awaitable[bool]],
                               ) -> tuple[asyncio.Task[None], Store, JobRunner]:
    """A runner with a 0.3 s lease (renewed every 0.1 s) started on one notification job."""
    store = await Store.open(database_url)
    clock = ManualClock()
    queue = Renewals(store, lambda job, until: renew(store, job, until))
    runner = JobRunner(None, store, queue, notifier, clock,  # type: ignore[arg-type]
                       lease_s=0.3)
    await store.insert(new_request(1), actor="U1", jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
    clock.advance(timedelta(seconds=1))
    [running] = await runner.run_due()
    return running, store, runner


async def test_a_renewal_that_fails_once_is_tried_again_and_the_run_goes_on(
    database_url: str,
) -> None:
    renewals: list[str] = []

    async def renew(store: Store, job: Job, until: datetime) -> bool:
        if not renewals:
            renewals.append("failed")
            raise ConnectionError("the database is out of reach")
        renewals.append("renewed")
        return await store.renew_lease(job, until)

    class Slow(FakeNotifier):
        async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
            await asyncio.sleep(0.5)  # five renewals' worth

    running, store, _ = await run_one_notification(database_url, Slow(), renew)
    try:
        await asyncio.wait_for(running, 10)
        assert renewals[:2] == ["failed", "renewed"]
        assert await store.pending_jobs() == []  # done
    finally:
        await store.close()


async def test_a_run_whose_lease_cannot_be_renewed_stops_before_the_lease_runs_out(
    database_url: str,
) -> None:
    stopped = asyncio.Event()

    async def renew(store: Store, job: Job, until: datetime) -> bool:
        raise ConnectionError("the database is out of reach")

    class Holding(FakeNotifier):
        async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
            try:
                await asyncio.Event().wait()
            except asyncio.CancelledError:
                stopped.set()
                raise

    running, store, _ = await run_one_notification(database_url, Holding(), renew)
    try:
        await asyncio.wait_for(stopped.wait(), 10)  # (after two tries, 0.1 and 0.2 s on)
        await asyncio.gather(running, return_exceptions=True)
        assert running.cancelled()
        [job] = await store.pending_jobs()  # not done: another runner takes it over
        assert job["done_at"] is None
    finally:
        await store.close()


class EndsWhenStopped(FakeNotifier):
    """A notification that never ends by itself; ``stopped`` once it was cancelled."""

    def __init__(self) -> None:
        super().__init__()
        self.stopped = asyncio.Event()

    async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.stopped.set()
            raise


def never_answering(asked: asyncio.Event) -> Callable[[Store, Job, datetime], Awaitable[bool]]:
    """A renewal on a connection that hung (or a pool with no connection left): ``asked`` is
    set once it was sent."""

    async def renew(store: Store, job: Job, until: datetime) -> bool:
        asked.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    return renew


async def test_a_run_whose_renewal_never_answers_stops_before_the_lease_runs_out(
    database_url: str,
) -> None:
    holding = EndsWhenStopped()
    running, store, _ = await run_one_notification(database_url, holding,
                                                   never_answering(asyncio.Event()))
    try:
        await asyncio.wait_for(holding.stopped.wait(), 10)  # (at 0.25 s: 0.05 s to spare)
        await asyncio.gather(running, return_exceptions=True)
        assert running.cancelled()
        [job] = await store.pending_jobs()
        assert job["done_at"] is None
    finally:
        await store.close()


async def test_stopping_the_runner_during_a_renewal_that_never_answers_returns(
    database_url: str,
) -> None:
    asked = asyncio.Event()
    holding = EndsWhenStopped()
    running, store, runner = await run_one_notification(database_url, holding,
                                                        never_answering(asked))
    try:
        await asyncio.wait_for(asked.wait(), 10)
        await asyncio.wait_for(runner.stop(), 5)  # (it waited for the renewal forever)
        assert running.cancelled() and holding.stopped.is_set()
    finally:
        await store.close()


async def test_a_run_that_ends_while_its_renewal_never_answers_records_its_outcome(
    database_url: str,
) -> None:
    """(It waited for that renewal for ever: the job stayed leased, and ran again elsewhere.)"""
    asked = asyncio.Event()
    class EndsAfterTheRenewal(FakeNotifier):
        async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
            await asyncio.wait_for(asked.wait(), 10)

    running, store, _ = await run_one_notification(database_url, EndsAfterTheRenewal(),
                                                   never_answering(asked))
    try:
        await asyncio.wait_for(running, 10)
        assert await store.pending_jobs() == []  # done
    finally:
        await store.close()


async def test_a_renewal_in_flight_does_not_lease_again_the_job_its_run_just_retried(
    database_url: str,
) -> None:
    """The run fails while a renewal is on its way to the database: the retry's "due again
    later, leased to nobody" must be the last word, not the renewal's lease."""
    asked = asyncio.Event()

    async def renew(store: Store, job: Job, until: datetime) -> bool:
        async def slow() -> bool:
            await asyncio.sleep(0.3)
            return await store.renew_lease(job, until)

        asked.set()  # sent, and (as every statement) shielded: cancelling the wait stops nothing
        return await asyncio.shield(slow())

    class Failing(FakeNotifier):
        async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
            await asyncio.wait_for(asked.wait(), 10)
            raise ConnectionError("Slack is out of reach")

    running, store, _ = await run_one_notification(database_url, Failing(), renew)
    try:
        await asyncio.wait_for(running, 10)
        await asyncio.sleep(0.5)  # the renewal has answered by now
        [job] = await store.pending_jobs()
        assert (job["last_error"], job["lease_until"]) == ("ConnectionError", None)
    finally:
        await store.close()


async def test_two_reveals_made_from_one_read_both_count(database_url: str) -> None:
    """Two Show passcode clicks at once (two replicas) each read the request, then record a
    reveal: the count says two, and so does the audit (a count set from the value read said
    one)."""
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        request = new_request(1)
        await first.insert(request, actor="U1")
        run_sql(database_url, [("UPDATE requests SET state = 'completed'", ())])  # (reset done)
        read = await first.get(request.id)
        assert read is not None
        at = datetime.now(UTC)
        changed = await asyncio.gather(first.apply(read.reveal("U1", at)),
                                       second.apply(read.reveal("U1", at)))
        assert all(changed)
        after = await second.get(request.id)
        assert after is not None and (after.state, after.reveal_count) == (State.REVEALED, 2)
        assert count(database_url, "SELECT COUNT(*) FROM audit WHERE action = 'reveal'") == 2
    finally:
        await first.close()
        await second.close()


async def test_the_audit_chain_stays_one_chain_with_writers_in_two_processes(
    database_url: str,
) -> None:
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        requests = [new_request(i) for i in range(10)]
        for request in requests:
            await first.insert(request, actor="U1")
        at = datetime.now(UTC)
        await asyncio.gather(*(
            store.note(request.id, actor="U2", at=at, action="look", detail=str(n))
            for n in range(5) for request in requests for store in (first, second)))
        result = await verify(second)
        assert result.ok, result.problem
        assert result.events == len(requests) * (2 + 5 * 2)
    finally:
        await first.close()
        await second.close()


async def test_a_job_committed_by_another_process_wakes_a_waiting_runner(
    database_url: str,
) -> None:
    """PostgreSQL: LISTEN/NOTIFY reaches every process. (SQLite has one process per file; its
    wake-up is in-process, tested by the workflow tests.)"""
    if not is_postgres_url(database_url):
        pytest.skip("one process per SQLite file: the wake-up is in-process")
    runner, web = await Store.open(database_url), await Store.open(database_url)
    try:
        await runner.wait_for_jobs(0)  # nothing pending from before
        waiting = asyncio.create_task(runner.wait_for_jobs(600))
        await asyncio.sleep(0)
        await web.insert(new_request(1), actor="U1",
                         jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
        await asyncio.wait_for(waiting, 60)  # a guard against a hang, not a speed target
        assert not waiting.cancelled()
    finally:
        await runner.close()
        await web.close()


async def test_message_references_are_merged_key_by_key_a_none_removed_from_two_processes(
    database_url: str,
) -> None:
    """save_surface merges in the database: each key set to its value, one set to None
    removed, the others kept; two processes saving other keys at once lose neither."""
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        request = new_request(1)
        await first.insert(request, actor="U1")
        await first.save_surface(request.id, {"dm_channel": "D1", "delivery_problem": "x"})
        await asyncio.gather(*(
            store.save_surface(request.id, {f"{key}_{n}_ts": f"{n}.5"})
            for n in range(10) for store, key in ((first, "a"), (second, "b"))))
        await second.save_surface(request.id, {"delivery_problem": None, "result_posting": True})
        found = await first.get(request.id)
        assert found is not None
        assert found.surface == {"dm_channel": "D1", "result_posting": True,
                                 **{f"{k}_{n}_ts": f"{n}.5" for n in range(10) for k in "ab"}}
        with pytest.raises(TypeError):
            await first.save_surface(request.id, {"nested": {"a": 1}})
    finally:
        await first.close()
        await second.close()


async def test_only_a_process_that_waits_for_work_listens_and_it_misses_nothing_before(
    database_url: str,
) -> None:
    """PostgreSQL: a process that only acks never waits for work, so it holds no LISTEN, and
    the server sends it none of the NOTIFYs every ack and every job makes (each one woke its
    event loop for nothing). A process listens at its first wait, and that wait returns for a
    job committed before it listened."""
    if not is_postgres_url(database_url):
        pytest.skip("SQLite listens for nothing: the inbox's wait reads data_version")
    runner, web = await Store.open(database_url), await Store.open(database_url)
    try:
        await web.insert(new_request(1), actor="U1",
                         jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
        assert listening(database_url, web.database) == 0
        await asyncio.wait_for(runner.wait_for_jobs(600), 60)  # a guard, not a speed target
        assert listening(database_url, web.database) == 1
    finally:
        await runner.close()
        await web.close()


async def test_one_process_at_a_time_holds_an_exclusive_section(database_url: str) -> None:
    if not is_postgres_url(database_url):
        pytest.skip("one process per SQLite file: the section is always its own")
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        async with first.exclusive("sweep") as mine:
            assert mine
            async with second.exclusive("sweep") as theirs:
                assert not theirs
            async with second.exclusive("other") as other:
                assert other
        async with second.exclusive("sweep") as theirs:
            assert theirs
    finally:
        await first.close()
        await second.close()


async def test_a_section_left_by_an_error_or_a_cancellation_is_free_again(
    database_url: str,
) -> None:
    """(On PostgreSQL its lock lives on a connection of its own, which ends with it: none is
    left on a pooled connection, which the pool gives back without resetting its session.)"""
    if not is_postgres_url(database_url):
        pytest.skip("one process per SQLite file: the section is always its own")
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        with pytest.raises(RuntimeError):
            async with first.exclusive("sweep") as mine:
                assert mine
                raise RuntimeError("the sweep failed")
        entered = asyncio.Event()

        async def hold() -> None:
            async with first.exclusive("sweep"):
                entered.set()
                await asyncio.Event().wait()

        holding = asyncio.create_task(hold())
        await asyncio.wait_for(entered.wait(), 10)
        async with second.exclusive("sweep") as theirs:
            assert not theirs
        assert await first.add_to_inbox("body:k", "HomeOpened", "{}", datetime.now(UTC))
        assert await first.pending_jobs() == []  # (the pool still serves)
        holding.cancel()
        await asyncio.gather(holding, return_exceptions=True)
        async with second.exclusive("sweep") as theirs:
            assert theirs
        for _ in range(20):  # every pooled connection of ``first``, given back and taken again
            await first.pending_jobs()
        async with second.exclusive("sweep") as theirs:
            assert theirs
    finally:
        await first.close()
        await second.close()


def test_database_url_takes_sqlite_and_postgresql_and_nothing_else() -> None:
    for url in ("sqlite:///bot.db", "postgresql://bot:pw@db:5432/bot", "postgres://db/bot"):
        assert load_settings(_env_file=None, database_url=url).database_url == url
    for bad in ("mysql://db/bot", "bot.db", "postgresql://"):
        with pytest.raises(ConfigError, match="DATABASE_URL"):
            load_settings(_env_file=None, database_url=bad)


async def test_an_unreachable_postgresql_is_one_line_without_the_password() -> None:
    with pytest.raises(StoreError) as failed:
        await Store.open("postgresql://bot:hunter22@127.0.0.1:1/bot")
    assert "\n" not in str(failed.value) and "hunter22" not in str(failed.value)
    assert "127.0.0.1:1" in str(failed.value)


@pytest.mark.parametrize("ci", ["true", ""])
def test_without_postgresql_store_tests_skip_but_fail_under_ci(ci: str) -> None:
    """A PostgreSQL that does not answer: one skip line locally, a failed run under CI=true."""
    env = {**os.environ, "TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test", "CI": ci}
    test = "tests/integration/test_storage.py::test_stores_opening_together_migrate_once"
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rs", "-q",
         f"{test}[sqlite]", f"{test}[postgres]"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=170)
    output = run.stdout + run.stderr
    assert "PostgreSQL not reachable at postgresql://postgres@127.0.0.1:1/test" in output
    progress = output.splitlines()[0]
    if ci:
        assert run.returncode != 0, output
        assert progress.startswith(".E"), output  # SQLite's test ran; PostgreSQL's failed
        assert "ERROR at setup" in output and "CI=true needs it" in output
    else:
        assert run.returncode == 0, output
        assert progress.startswith(".s"), output
        assert output.count("SKIPPED [1]") == 1  # one line says why


COPIED = (("requests", "id"), ("audit", "seq"), ("jobs", "id"), ("inbox", "id"),
          ("simulated_resets", "ref"), ("locales", "user_id"))


def table_contents(url: str) -> dict[str, list[tuple[object, ...]]]:
    return {table: rows(url, f"SELECT * FROM {table} ORDER BY {key}") for table, key in COPIED}


def tables_of(url: str) -> set[str]:
    if is_postgres_url(url):
        schema = parse_qs(urlsplit(url).query).get("search_path", ["public"])[0]
        return {r[0] for r in rows(url, "SELECT tablename FROM pg_tables WHERE schemaname = ?",
                                   schema)}
    return {r[0] for r in rows(url, "SELECT name FROM sqlite_master WHERE type = 'table'"
                               " AND name NOT LIKE 'sqlite_%'")}


async def test_migrate_store_names_every_table_the_migrations_create(database_url: str) -> None:
    """A table a migration adds is copied, or left with a reason: none is forgotten."""
    await (await Store.open(database_url)).close()
    assert tables_of(database_url) == {t for t, _ in store_copy.TABLES} | set(store_copy.LEFT)
    assert {t for t, _ in store_copy.TABLES} == {t for t, _ in COPIED}


async def fill_inbox_and_simulation(url: str, vault: Vault) -> tuple[str, ActionRef]:
    """An acknowledged item not run yet and one done, on the inbox; a reset in flight on the
    simulated backend (its passcode sealed in the simulation's table); a person's locale.
    The device and the reset's reference."""
    store = await Store.open(url)
    try:
        now = datetime.now(UTC)
        await store.remember_locale("USVEN", "sv-SE", now)  # (a worker's lookup)
        await store.add_to_inbox("delivery-done", "Help", '{"type":"Help"}', now)
        [done] = await store.claim_inbox(now, 60)
        await store.finish_inbox(done.id, now, done.attempts)
        await store.add_to_inbox("delivery-waiting", "ResetCommand", '{"type":"ResetCommand"}',
                                 now)
        backend = SimulatedBackend(demo_fleet(), users=demo_users(), clock=ManualClock(),
                                   pending_for=timedelta(seconds=5))
        backend.share_state(store.database, vault)
        [pixel] = await backend.find_devices("PIXEL8-ALICE")
        ref = await backend.start_reset(pixel, Scope.DEVICE)
        assert (await backend.action_status(ref)).state is ActionState.PENDING
        return pixel.id, ref
    finally:
        await store.close()


async def simulated_on(url: str, vault: Vault, device_id: str) -> tuple[list[ActionRef], str]:
    """The resets another process's simulated backend finds for the device on ``url``, and
    the passcode the last one reports."""
    store = await Store.open(url)
    try:
        backend = SimulatedBackend(demo_fleet(), users=demo_users(),
                                   clock=ManualClock(datetime.now(UTC) + timedelta(minutes=1)))
        backend.share_state(store.database, vault)
        refs = await backend.resets_of(device_id)
        status = await backend.action_status(refs[-1])
        assert status.state is ActionState.DONE and status.passcode
        return refs, status.passcode
    finally:
        await store.close()


async def test_migrate_store_copies_sqlite_to_postgresql_and_back(
    postgres_server: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """Every request (its sealed passcode still sealed, and still opening), audit event and job,
    exactly; `audit verify` passes on each copy; the copy goes on numbering where it left off;
    a target that holds anything is refused, unchanged."""
    vault = Vault(os.urandom(32))
    source = f"sqlite:///{tmp_path / 'before.db'}"
    store = await Store.open(source)
    try:
        requests = [new_request(i) for i in range(5)]
        for request in requests:
            await store.insert(request, actor="U1", jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
        at = datetime.now(UTC)
        await store.transition(requests[0].id, State.APPROVED, actor="U9", at=at)
        await store.update_fields(requests[0].id, actor="passcode-bot", at=at, action="sealed",
                                  changes={"sealed_passcode": vault.seal(requests[0].id, "481516"),
                                           "has_passcode": True})
        [first] = await store.claim_jobs(at + timedelta(seconds=1), lease_s=60, limit=1)
        assert await store.finish_job(first, at)
    finally:
        await store.close()
    device, ref = await fill_inbox_and_simulation(source, vault)
    _, simulated = await simulated_on(source, vault, device)  # what it ends with

    with fresh_schema(postgres_server) as pg:
        assert await cli.migrate_store(source, pg) == 0
        out = capsys.readouterr().out
        assert ("Copied 5 request(s), 12 audit event(s), 5 job(s), 2 inbox item(s),"
                " 1 simulated reset(s) and 1 locale(s)") in out
        assert "Audit trail of the copy intact: 12 events" in out
        assert table_contents(pg) == table_contents(source)
        assert b"481516" not in everything_stored(pg)
        assert simulated.encode() not in everything_stored(pg)
        assert await simulated_on(pg, vault, device) == ([ref], simulated)
        settings = load_settings(_env_file=None, database_url=pg)
        assert await cli.audit_verify(settings) == 0

        copy = await Store.open(pg)
        try:
            sealed = await copy.sealed_passcode(requests[0].id)
            assert sealed is not None and vault.unseal(requests[0].id, sealed) == "481516"
            later = new_request(7)
            await copy.insert(later, actor="U7", jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
            assert (await verify(copy)).ok
            assert max(j["id"] for j in await copy.pending_jobs()) == 6
            # The acknowledged item not run yet is there to run; the one done is not, and
            # its delivery is still recognised (a late Slack retry); new items number on.
            [waiting] = await copy.claim_inbox(datetime.now(UTC) + timedelta(minutes=2), 60)
            assert (waiting.id, waiting.kind) == (2, "ResetCommand")
            assert await copy.delivered("delivery-done")
            assert await copy.add_to_inbox("delivery-done", "Help", "{}", at) is None
            assert (await copy.add_to_inbox("delivery-new", "Help", "{}", at) or 0) > 2
        finally:
            await copy.close()

        back = f"sqlite:///{tmp_path / 'after.db'}"
        assert await cli.migrate_store(pg, back) == 0
        assert table_contents(back) == table_contents(pg)
        assert await simulated_on(back, vault, device) == ([ref], simulated)
        capsys.readouterr()

        before = table_contents(pg)
        assert await cli.migrate_store(source, pg) == 1  # not empty: nothing copied
        assert "already holds requests" in capsys.readouterr().err
        assert table_contents(pg) == before


async def test_migrate_store_refuses_what_is_not_a_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    target = f"sqlite:///{tmp_path / 'new.db'}"
    assert await cli.migrate_store(f"sqlite:///{tmp_path / 'typo.db'}", target) == 2
    assert "no database at" in capsys.readouterr().err
    assert await cli.migrate_store("mysql://u:secret@db/x", target) == 2
    err = capsys.readouterr().err
    assert "not a database URL" in err and "secret" not in err
    assert not (tmp_path / "new.db").exists() and not (tmp_path / "typo.db").exists()


async def test_a_postgresql_schema_that_does_not_exist_is_one_line(postgres_server: str) -> None:
    url = f"{postgres_server}{'&' if '?' in postgres_server else '?'}search_path=pct_missing"
    with pytest.raises(StoreError) as failed:
        await Store.open(url)
    assert "\n" not in str(failed.value) and "cannot prepare" in str(failed.value)


@pytest.mark.parametrize("dialect", [SQLITE, POSTGRES], ids=lambda d: d.name)
def test_every_migration_renders_for_both_databases_and_only_adds(dialect: Dialect) -> None:
    """A replica of the previous release keeps working while a new one starts: no migration
    drops, renames or retypes anything, and a new NOT NULL column has a default."""
    for number, script in enumerate(MIGRATIONS, start=1):
        for statement in dialect.render(script):
            upper = " ".join(statement.upper().split())
            assert "@" not in statement, f"migration {number}: a token left in {statement!r}"
            for word in ("DROP ", "RENAME ", "ALTER COLUMN", "TRUNCATE "):
                assert word not in upper, f"migration {number} is not additive: {statement!r}"
            if "ADD COLUMN" in upper and "NOT NULL" in upper:
                assert "DEFAULT" in upper, f"migration {number}: NOT NULL without a default"


async def test_a_drain_racing_the_job_loop_still_waits_for_the_job(database_url: str) -> None:
    """On PostgreSQL a claim skips rows another claim holds: a drain (what `settle` and the
    demo wait on) racing the runner's own loop must not come back before the job is done."""
    store = await Store.open(database_url)
    notifier = FakeNotifier()
    runner = JobRunner(None, store, store, notifier, SystemClock())  # type: ignore[arg-type]
    try:
        for attempt in range(5):
            request = new_request(attempt)
            await store.insert(request, actor="U1", jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
            loop = asyncio.create_task(runner.run_due())  # the job loop, woken by the insert
            await asyncio.sleep(0)
            await runner.drain()
            assert notifier.of(request.id) == [NotifyEvent.APPROVAL_REQUESTED], attempt
            await loop
    finally:
        await runner.stop()
        await store.close()


async def test_the_job_lease_is_job_lease_seconds(store_settings: Settings) -> None:
    """The runner the settings compose holds a job it runs for JOB_LEASE_SECONDS: a runner
    killed while running it leaves it to another once that has run out, not before."""
    clock = ManualClock()
    running = asyncio.Event()

    class Holding(FakeNotifier):
        async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
            running.set()
            await asyncio.Event().wait()  # still running when the runner "dies"

    settings = store_settings.model_copy(update={"job_lease_seconds": 30.0})
    services = await build_services(settings, lambda store: Holding(), clock=clock,
                                    roles=FileRoleDirectory({}))
    other = await Store.open(settings.database_url)
    try:
        request = new_request(1)
        await services.store.insert(request, actor="U1",
                                    jobs=[notify(NotifyEvent.APPROVAL_REQUESTED)])
        clock.advance(timedelta(seconds=1))  # due
        await services.runner.run_due()
        await asyncio.wait_for(running.wait(), 10)
        now = clock.now()
        assert rows(settings.database_url, "SELECT lease_until FROM jobs") == [
            (ts(now + timedelta(seconds=30)),)]
        assert await other.claim_jobs(now + timedelta(seconds=29), lease_s=60) == []
        [taken] = await other.claim_jobs(now + timedelta(seconds=31), lease_s=60)
        assert taken.request_id == request.id
    finally:
        await other.close()
        await services.aclose()


async def test_a_new_request_s_limits_are_read_at_one_moment(database_url: str) -> None:
    """``standing``: the requester's requests of the last hour (refusals counted), the
    device's of the last day (refusals not), its open request and its newest unconfirmed one;
    another device's or another person's rows count for nothing."""
    store = await Store.open(database_url)
    now = datetime.now(UTC)

    async def made(by: str, device: str, ago: timedelta, state: State) -> ResetRequest:
        request = replace(new_request(0), id=new_request_id(), requester_id=by, device_id=device,
                          created_at=now - ago, updated_at=now - ago,
                          state=State.REFUSED if state is State.REFUSED
                          else State.AWAITING_APPROVAL)
        await store.insert(request, actor=by)
        if state not in (request.state, State.AWAITING_APPROVAL):
            await store.update_fields(request.id, actor="test", at=now, action="set",
                                      changes={"state": state})
        return request

    try:
        await made("U1", "D", timedelta(minutes=30), State.REFUSED)
        await made("U2", "D", timedelta(hours=3), State.UNCONFIRMED)
        newest_unconfirmed = await made("U2", "D", timedelta(hours=2), State.UNCONFIRMED)
        await made("U1", "OTHER", timedelta(minutes=10), State.UNCONFIRMED)
        await made("U3", "D", timedelta(hours=20), State.COMPLETED)
        await made("U1", "D", timedelta(days=2), State.COMPLETED)
        open_one = await made("U3", "D", timedelta(minutes=1), State.AWAITING_APPROVAL)

        found = await store.standing("U1", "D", requester_since=now - timedelta(hours=1),
                                     device_since=now - timedelta(days=1))
        assert (found.by_requester, found.for_device) == (2, 4)
        assert found.open is not None and found.open.id == open_one.id
        assert found.open.requester_id == "U3" and found.open.state is State.AWAITING_APPROVAL
        assert found.unconfirmed == newest_unconfirmed.id

        nothing = await store.standing("U9", "NONE", requester_since=now - timedelta(hours=1),
                                       device_since=now - timedelta(days=1))
        assert (nothing.by_requester, nothing.for_device, nothing.open,
                nothing.unconfirmed) == (0, 0, None, "")
    finally:
        await store.close()


async def test_a_write_budget_gives_its_slots_once_across_two_stores(database_url: str) -> None:
    """``take_slot``: ``limit`` slots per window, from any number of processes together; a
    full window answers how long until its oldest slot frees, and a slot frees once it is
    ``window_s`` old."""
    stores = [await Store.open(database_url), await Store.open(database_url)]
    t0 = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
    try:
        taken = await asyncio.gather(*(stores[i % 2].take_slot("b", t0, 3, 20.0)
                                       for i in range(10)))
        assert sorted(taken) == [0.0] * 3 + [20.0] * 7
        assert await stores[0].take_slot("other", t0, 3, 20.0) == 0.0  # a bucket of its own
        later = t0 + timedelta(seconds=5)
        assert await stores[1].take_slot("b", later, 3, 20.0) == 15.0
        assert await stores[0].take_slot("b", t0 + timedelta(seconds=20), 3, 20.0) == 0.0
        assert count(database_url, "SELECT COUNT(*) FROM write_budget WHERE bucket = 'b'") == 1
    finally:
        for store in stores:
            await store.close()
