"""The service layer on a real database (each test on SQLite and on PostgreSQL: the
``database_url`` fixture) and the simulated fleet, with time moved by hand."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.bootstrap import Services, build_services
from bot.clock import ManualClock
from bot.config import Settings
from bot.domain import ResetRequest, State, new_request_id
from bot.ports import NotifyEvent
from bot.roles import FileRoleDirectory
from bot.service import Outcome, Person
from bot.storage import audit_hash
from bot.storage.dialect import is_postgres_url
from tests.databases import everything_stored
from tests.fakes.notifier import FakeNotifier

ALICE = Person("UALICE", "Alice@Example.com", "Alice")
BOB = Person("UBOB", "bob@example.com", "Bob")
ANNA = Person("UANNA", "anna@example.com", "Anna")
HELEN = Person("UHELEN", "helen@example.com", "Helen")
APPROVERS = [Person(f"UAPP{i}", f"approver{i}@example.com") for i in range(20)]


async def on_screen(request: ResetRequest, passcode: str) -> None:
    """A surface that shows the passcode without fail (the service's ``show``)."""


@dataclass
class World:
    services: Services
    notifier: FakeNotifier
    clock: ManualClock
    backend: SimulatedBackend
    db: Path  # the SQLite file (on PostgreSQL: see url)
    url: str = ""

    @property
    def service(self):  # type: ignore[no-untyped-def]
        return self.services.service


@pytest.fixture
async def world(store_settings: Settings, db_path: Path) -> AsyncIterator[World]:
    clock = ManualClock()
    notifier = FakeNotifier()
    backend = SimulatedBackend(demo_fleet(), clock=clock)
    roles = FileRoleDirectory({
        "Intune Administrator": ["anna@example.com"],
        "Helpdesk Operator": ["UHELEN", *(p.user_id for p in APPROVERS)],
    })
    services = await build_services(store_settings, lambda store: notifier, clock=clock,
                                    backend=backend, roles=roles, sleep=clock.sleep)
    yield World(services, notifier, clock, backend, db_path, store_settings.database_url)
    await services.aclose()


async def test_a_full_lifecycle_from_request_to_expiry(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    service, runner = world.service, world.services.runner

    reply = await service.request_reset(ALICE, "pixel8-alice")  # names are case-insensitive
    assert reply.outcome is Outcome.CREATED
    request_id = reply.request.id
    await runner.drain()
    assert world.notifier.of(request_id) == [NotifyEvent.APPROVAL_REQUESTED]

    reply = await service.decide(request_id, ANNA, approve=True)
    assert reply.outcome is Outcome.APPROVED
    await runner.drain()
    request = await world.services.store.get(request_id)
    assert request.state is State.COMPLETED and request.has_passcode
    assert request.passcode_expires_at == request.completed_at + timedelta(days=7)
    assert world.notifier.of(request_id)[-1] is NotifyEvent.RESULT

    shown = await service.reveal(request_id, ALICE, on_screen)
    assert shown.outcome is Outcome.SHOWN and shown.passcode and shown.passcode.isdigit()
    again = await service.reveal(request_id, ALICE, on_screen)
    assert again.passcode == shown.passcode
    assert (await service.reveal(request_id, ANNA, on_screen)).outcome is Outcome.NOT_ALLOWED

    world.clock.advance(timedelta(days=7) - timedelta(seconds=1))
    assert (await service.reveal(request_id, ALICE, on_screen)).outcome is Outcome.SHOWN
    world.clock.advance(timedelta(seconds=1))
    assert await service.sweep() == 1
    await runner.drain()
    request = await world.services.store.get(request_id)
    assert request.state is State.PASSCODE_EXPIRED
    assert await world.services.store.sealed_passcode(request_id) is None
    assert (await service.reveal(request_id, ALICE, on_screen)).outcome is Outcome.UNAVAILABLE
    assert world.notifier.of(request_id)[-1] is NotifyEvent.PASSCODE_EXPIRED

    trail = await world.services.store.audit_trail(request_id)
    assert [(e.from_state, e.to_state) for e in trail] == [
        ("", "requested"),
        ("requested", "awaiting_approval"),
        ("awaiting_approval", "approved"),
        ("approved", "executing"),
        ("executing", "executing"),  # the backend action's reference recorded
        ("executing", "completed"),
        ("completed", "revealed"),
        ("revealed", "revealed"),
        ("revealed", "revealed"),
        ("revealed", "passcode_expired"),
    ]
    assert trail[2].actor == "UANNA" and trail[6].actor == "UALICE"

    everything = everything_stored(world.url) + caplog.text.encode()
    assert shown.passcode.encode() not in everything


async def test_expiry_also_happens_on_a_reveal_attempt_without_a_sweep(world: World) -> None:
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    await world.service.decide(reply.request.id, ANNA, approve=True)
    await world.services.runner.drain()
    world.clock.advance(timedelta(days=8))
    late = await world.service.reveal(reply.request.id, ALICE, on_screen)
    assert late.outcome is Outcome.UNAVAILABLE
    assert await world.services.store.sealed_passcode(reply.request.id) is None


async def test_twenty_concurrent_approvals_execute_once(world: World) -> None:
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    request_id = reply.request.id
    replies = await asyncio.gather(
        *(world.service.decide(request_id, p, approve=True) for p in APPROVERS)
    )
    outcomes = [r.outcome for r in replies]
    assert outcomes.count(Outcome.APPROVED) == 1
    assert outcomes.count(Outcome.ALREADY_DECIDED) == 19
    assert all(r.key == "already_decided" for r in replies if r.outcome is not Outcome.APPROVED)
    await asyncio.gather(*(world.service.execute(request_id) for _ in range(5)))
    await world.services.runner.drain()
    assert world.backend.resets_started == 1
    assert (await world.services.store.get(request_id)).state is State.COMPLETED


async def test_an_illegal_move_changes_nothing(world: World) -> None:
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    await world.service.decide(reply.request.id, ANNA, approve=False)
    again = await world.service.decide(reply.request.id, HELEN, approve=True)
    assert again.outcome is Outcome.ALREADY_DECIDED
    assert (again.key, again.params["state"], again.params["by"]) == (
        "already_decided", "denied", "UANNA")
    assert (await world.service.cancel(reply.request.id, ALICE)).outcome is Outcome.ALREADY_DECIDED
    assert world.backend.resets_started == 0


@pytest.mark.parametrize(
    ("device", "failure", "hint_word"),
    [
        ("Bob's Pixel 7", "reset_token_not_activated", "token"),
        ("Erin's iPad", "ios_unlock_token", "unlock token"),
        ("NAVIGATOR-DAVE", "no_passcode_policy", "passcode policy"),
    ],
)
async def test_backend_failures_end_the_request_with_a_reason(
    world: World, device: str, failure: str, hint_word: str
) -> None:
    reply = await world.service.request_reset(HELEN, device)
    assert reply.outcome is Outcome.CREATED
    await world.service.decide(reply.request.id, ANNA, approve=True)
    await world.services.runner.drain()
    request = await world.services.store.get(reply.request.id)
    assert request.state is State.FAILED
    assert request.failure_code == failure
    assert hint_word in request.failure_detail.lower()


async def test_the_approver_is_warned_when_a_device_has_no_passcode_policy(world: World) -> None:
    reply = await world.service.request_reset(HELEN, "NAVIGATOR-DAVE")
    assert reply.request.warning == "no_passcode_policy"
    reply = await world.service.request_reset(BOB, "NAVIGATOR-BOB")
    assert reply.request.warning == ""  # the backend says a policy is assigned


async def test_a_slow_backend_result_is_awaited(world: World) -> None:
    world.backend.pending_for = timedelta(seconds=40)
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    await world.service.decide(reply.request.id, ANNA, approve=True)
    await world.services.runner.drain()
    request = await world.services.store.get(reply.request.id)
    assert request.state is State.COMPLETED
    assert request.completed_at - request.action_started_at >= timedelta(seconds=40)


async def test_a_result_that_never_comes_fails_after_the_bound(world: World) -> None:
    world.backend.pending_for = timedelta(hours=2)
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    await world.service.decide(reply.request.id, ANNA, approve=True)
    await world.services.runner.drain()
    request = await world.services.store.get(reply.request.id)
    assert request.state is State.FAILED and request.failure_code == "timed_out"
    assert world.backend.resets_started == 1


async def test_an_execution_interrupted_after_the_reset_started_does_not_reset_twice(
    world: World,
) -> None:
    """A restart finds the backend action instead of starting a second one."""
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    request_id = reply.request.id
    await world.service.decide(request_id, ANNA, approve=True)
    # The process dies right after the backend accepted the reset, before recording it:
    now = world.clock.now()
    await world.services.store.transition(request_id, State.EXECUTING, actor="passcode-bot",
                                          at=now, changes={"action_started_at": now})
    device = await world.backend.get_device(reply.request.device_id)
    await world.backend.start_reset(device, reply.request.scope)
    # ... and on restart the execute job runs again.
    await world.services.store.release_leases()
    await world.services.runner.drain()
    assert world.backend.resets_started == 1
    assert (await world.services.store.get(request_id)).state is State.COMPLETED


async def test_approval_expires_after_the_timeout(world: World) -> None:
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    world.clock.advance(timedelta(hours=24))
    late = await world.service.decide(reply.request.id, ANNA, approve=True)
    assert late.outcome is Outcome.EXPIRED
    assert (await world.services.store.get(reply.request.id)).state is State.EXPIRED


async def test_a_failing_notifier_is_retried_not_lost(world: World) -> None:
    world.notifier.fail_times = 2
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    for _ in range(3):
        await world.services.runner.drain()
        world.clock.advance(timedelta(minutes=5))
    assert world.notifier.of(reply.request.id) == [NotifyEvent.APPROVAL_REQUESTED]


async def test_the_audit_trail_is_a_hash_chain(world: World) -> None:
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    await world.service.decide(reply.request.id, ANNA, approve=True)
    await world.services.runner.drain()
    trail = await world.services.store.audit_trail()
    previous = "0" * 64
    for event in trail:
        assert event.prev_hash == previous
        at = event.at.isoformat(timespec="microseconds")
        assert event.hash == audit_hash(previous, event.request_id, at, event.actor,
                                        event.action, event.from_state, event.to_state,
                                        event.detail)
        previous = event.hash


async def test_store_survives_a_reopen(world: World, store_settings: Settings) -> None:
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    from bot.storage import Store

    reopened = await Store.open(store_settings.database_url)
    try:
        assert (await reopened.get(reply.request.id)).state is State.AWAITING_APPROVAL
    finally:
        await reopened.close()


async def test_abuse_limits_refuse_clearly_and_create_nothing(world: World) -> None:
    store = world.services.store
    for _ in range(3):  # three requests for the same device in a day, each denied
        reply = await world.service.request_reset(HELEN, "KIOSK-LOBBY-01")
        assert reply.outcome is Outcome.CREATED
        await world.service.decide(reply.request.id, ANNA, approve=False)
    fourth = await world.service.request_reset(HELEN, "KIOSK-LOBBY-01")
    assert fourth.outcome is Outcome.LIMITED and fourth.key == "limited.device"
    for device in ("QUEST3-TRAINING-02", "NAVIGATOR-BOB"):
        reply = await world.service.request_reset(HELEN, device)
        await world.service.decide(reply.request.id, ANNA, approve=False)
    sixth = await world.service.request_reset(HELEN, "Alice's iPhone")
    assert sixth.outcome is Outcome.LIMITED and sixth.key == "limited.user"
    assert len(await store.by_requester("UHELEN", limit=50)) == 5
    world.clock.advance(timedelta(hours=1))
    assert (await world.service.request_reset(HELEN, "Alice's iPhone")).outcome is Outcome.CREATED


async def test_a_purge_held_up_by_a_busy_reader_still_happens_and_the_next_sweep_finishes_it(
    world: World,
) -> None:
    """A reader holding an old snapshot keeps the WAL from being emptied: the purge itself is
    not held up or failed, and once the reader is gone the next sweep empties the WAL."""
    if is_postgres_url(world.url):
        pytest.skip("SQLite's WAL")
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    await world.service.decide(reply.request.id, ANNA, approve=True)
    await world.services.runner.drain()
    blob = await world.services.store.sealed_passcode(reply.request.id)
    assert blob is not None
    world.clock.advance(timedelta(days=7))

    reader = sqlite3.connect(world.db, isolation_level=None)
    try:
        reader.execute("BEGIN")
        reader.execute("SELECT COUNT(*) FROM requests").fetchone()  # holds its snapshot
        started = time.monotonic()
        assert await world.service.sweep() == 1
        assert time.monotonic() - started < 2  # not the 5 s busy timeout
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    request = await world.services.store.get(reply.request.id)
    assert request.state is State.PASSCODE_EXPIRED

    assert await world.service.sweep() == 0  # nothing to purge; the checkpoint is retried
    data = everything_stored(world.url)
    assert [i for i in range(len(blob) - 15) if blob[i:i + 16] in data] == []


async def test_asked_again_under_its_id_the_stored_request_is_the_answer(world: World) -> None:
    """The work of one reset command run twice (its worker died after storing the request,
    before the item was marked done): the second run answers with the request the first
    stored, even once that request has closed, and stores nothing more."""
    rid = new_request_id()
    first = await world.service.request_reset(ALICE, "PIXEL8-ALICE", request_id=rid)
    assert first.outcome is Outcome.CREATED and first.request and first.request.id == rid
    await world.service.decide(rid, ANNA, approve=True)
    await world.services.runner.drain()
    again = await world.service.request_reset(ALICE, "PIXEL8-ALICE", request_id=rid)
    assert (again.outcome, again.key, again.params) == (first.outcome, first.key, first.params)
    assert [r.id for r in await world.services.store.by_requester(ALICE.user_id)] == [rid]
    assert (await world.services.store.get(rid)).state is State.COMPLETED  # type: ignore[union-attr]

    refused = new_request_id()
    reply = await world.service.request_reset(HELEN, "erin-ubuntu-dev", request_id=refused)
    assert reply.outcome is Outcome.REFUSED, reply
    assert (await world.service.request_reset(HELEN, "erin-ubuntu-dev", request_id=refused)
            ).outcome is Outcome.REFUSED
    assert [r.id for r in await world.services.store.by_requester(HELEN.user_id)] == [refused]
    # Someone else's id is no answer: asked under it, a request of their own is made.
    other = await world.service.request_reset(BOB, "Bob's Pixel 7", request_id=rid)
    assert other.outcome is Outcome.CREATED and other.request and other.request.id != rid
