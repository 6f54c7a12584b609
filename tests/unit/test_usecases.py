"""The use cases over in-memory fakes of the ports: no SQLite, no HTTP, milliseconds each."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from bot.clock import ManualClock
from bot.domain import JobKind, NotifyEvent, ResetRequest, State
from bot.jobs import JobRunner
from bot.ports import ActionRef, ActionState, ActionStatus, Device, FailureCode
from bot.service import Outcome, Person, ResetService
from bot.vault import Vault
from policy.platforms import DeviceFacts
from tests.fakes.backend import FakeBackend, FakeRoles
from tests.fakes.notifier import FakeNotifier
from tests.fakes.store import FakeJobQueue, FakeRequestStore

ALICE = Person("UALICE", "alice@example.com")
ANNA = Person("UANNA", "anna@example.com")  # helpdesk
HANS = Person("UHANS", "hans@example.com")  # helpdesk too
PIXEL = Device("dev-pixel", "PIXEL8-ALICE", "S-PIXEL",
               DeviceFacts("Android", "14", "androidEnterpriseFullyManaged", "androidEnterprise"),
               primary_email="alice@example.com", has_passcode_policy=True)


@dataclass
class World:
    clock: ManualClock
    store: FakeRequestStore
    queue: FakeJobQueue
    backend: FakeBackend
    service: ResetService
    notifier: FakeNotifier
    runner: JobRunner

    async def passcode_shown(self, request_id: str, who: Person = ALICE) -> str | None:
        shown: list[str] = []

        async def show(request: ResetRequest, passcode: str) -> None:
            shown.append(passcode)

        await self.service.reveal(request_id, who, show)
        return shown[0] if shown else None


@pytest.fixture
def world() -> World:
    clock = ManualClock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))
    queue = FakeJobQueue()
    store = FakeRequestStore(queue)
    backend = FakeBackend(clock, PIXEL)
    helpdesk = frozenset({"Helpdesk Operator"})
    roles = FakeRoles({ANNA.user_id: helpdesk, HANS.user_id: helpdesk})
    service = ResetService(store, backend, roles, Vault(b"k" * 32), clock, sleep=clock.sleep)
    notifier = FakeNotifier()
    runner = JobRunner(service, store, queue, notifier, clock)
    return World(clock, store, queue, backend, service, notifier, runner)


async def test_a_request_approved_by_someone_else_is_executed_once_and_completes(
    world: World,
) -> None:
    created = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    assert created.outcome is Outcome.CREATED and created.request is not None
    request_id = created.request.id
    assert world.queue.due(request_id) == ["notify:approval_requested"]

    approved = await world.service.decide(request_id, ANNA, approve=True)
    assert approved.outcome is Outcome.APPROVED
    assert "execute" in world.queue.due(request_id)
    await world.runner.drain()

    request = await world.store.get(request_id)
    assert request is not None and request.state is State.COMPLETED
    assert request.decided_by == ANNA.user_id and request.has_passcode
    assert world.backend.resets == [PIXEL.id]
    assert world.notifier.of(request_id) == [
        NotifyEvent.APPROVAL_REQUESTED, NotifyEvent.DECIDED, NotifyEvent.RESULT]
    assert b"482913" not in world.store.sealed[request_id]  # sealed, not plain
    assert await world.passcode_shown(request_id) == "482913"
    trail = [(e.action, e.to_state) for e in await world.store.audit_trail(request_id)]
    assert trail == [
        ("request", "requested"), ("awaiting_approval", "awaiting_approval"),
        ("approved", "approved"), ("executing", "executing"),
        ("backend_action", "executing"), ("completed", "completed"), ("reveal", "revealed"),
    ]
    assert await world.queue.pending_jobs() == []


async def test_nobody_approves_their_own_request_even_with_the_role(world: World) -> None:
    backend_device = Device("dev-anna", "PIXEL8-ANNA", "S-ANNA", PIXEL.facts,
                            primary_email=ANNA.email, has_passcode_policy=True)
    world.backend.devices[backend_device.id] = backend_device
    created = await world.service.request_reset(ANNA, "PIXEL8-ANNA")
    assert created.request is not None

    own = await world.service.decide(created.request.id, ANNA, approve=True)
    assert own.outcome is Outcome.NOT_ALLOWED
    assert (await world.store.get(created.request.id)).state is State.AWAITING_APPROVAL  # type: ignore[union-attr]
    assert JobKind.EXECUTE.value not in world.queue.due(created.request.id)
    other = await world.service.decide(created.request.id, HANS, approve=True)
    assert other.outcome is Outcome.APPROVED


async def test_who_can_approve_never_names_the_requester(world: World) -> None:
    """Anna holds the role, but her own request's approvals post names only Hans."""
    world.backend.devices["dev-anna"] = Device("dev-anna", "PIXEL8-ANNA", "S-ANNA", PIXEL.facts,
                                               primary_email=ANNA.email,
                                               has_passcode_policy=True)
    theirs = await world.service.request_reset(ANNA, "PIXEL8-ANNA")
    assert theirs.request is not None
    assert theirs.request.approver_people.split("\n") == [HANS.user_id]
    alices = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    assert alices.request is not None
    assert alices.request.approver_people.split("\n") == [ANNA.user_id, HANS.user_id]


async def test_two_approvals_at_once_make_one_decision_and_one_reset(world: World) -> None:
    created = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    assert created.request is not None
    first, second = await asyncio.gather(
        world.service.decide(created.request.id, ANNA, approve=True),
        world.service.decide(created.request.id, HANS, approve=False),
    )
    assert sorted([first.outcome, second.outcome]) == sorted(
        [Outcome.APPROVED, Outcome.ALREADY_DECIDED])
    await world.runner.drain()
    assert world.backend.resets == [PIXEL.id]


async def test_a_device_has_one_open_request_and_a_second_ask_is_told_which(
    world: World,
) -> None:
    created = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    again = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    assert again.outcome is Outcome.ALREADY_OPEN and created.request is not None
    assert again.request is not None and again.request.id == created.request.id
    assert len(await world.store.by_requester(ALICE.user_id)) == 1


async def test_the_store_refuses_a_second_open_request_that_slipped_past_the_check(
    world: World,
) -> None:
    """Two asks racing both pass the fast check; the store's guarantee decides."""
    replies = await asyncio.gather(*(world.service.request_reset(ALICE, "PIXEL8-ALICE")
                                     for _ in range(3)))
    assert sorted(r.outcome for r in replies) == sorted(
        [Outcome.CREATED, Outcome.ALREADY_OPEN, Outcome.ALREADY_OPEN])
    assert len(await world.store.by_requester(ALICE.user_id)) == 1


async def test_an_undecided_request_expires_after_the_approval_timeout(world: World) -> None:
    created = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    assert created.request is not None
    world.clock.advance(timedelta(hours=23))
    assert await world.service.sweep() == 0
    world.clock.advance(timedelta(hours=1))
    assert await world.service.sweep() == 1
    request = await world.store.get(created.request.id)
    assert request is not None and request.state is State.EXPIRED
    late = await world.service.decide(created.request.id, ANNA, approve=True)
    assert late.outcome is Outcome.ALREADY_DECIDED
    assert "notify:approval_expired" in world.queue.due(created.request.id)


async def test_a_passcode_is_deleted_seven_days_after_it_was_issued(world: World) -> None:
    created = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    assert created.request is not None
    await world.service.decide(created.request.id, ANNA, approve=True)
    await world.runner.drain()
    world.clock.advance(timedelta(days=7))
    assert await world.service.sweep() == 1
    request = await world.store.get(created.request.id)
    assert request is not None and request.state is State.PASSCODE_EXPIRED
    assert created.request.id not in world.store.sealed
    assert await world.passcode_shown(created.request.id) is None


async def test_the_passcode_is_shown_to_the_requester_alone(world: World) -> None:
    created = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    assert created.request is not None
    await world.service.decide(created.request.id, ANNA, approve=True)
    await world.runner.drain()
    assert await world.passcode_shown(created.request.id, ANNA) is None
    request = await world.store.get(created.request.id)
    assert request is not None and request.reveal_count == 0


class FailingBackend(FakeBackend):
    """Intune reports the reset failed, with its own words or none."""

    detail = ""

    async def action_status(self, ref: ActionRef) -> ActionStatus:
        return ActionStatus(ActionState.FAILED, failure=FailureCode.NOT_SUPPORTED,
                            detail=self.detail)


@pytest.mark.parametrize(("detail", "params"), [
    ("", {"words": "not_supported"}),  # no words of Intune's: the service words it
    ("Intune said <no>.", {}),  # Intune's own words, kept as they are
])
async def test_a_failure_is_stored_as_a_code_and_the_backends_own_words(
    world: World, detail: str, params: dict[str, str]
) -> None:
    backend = FailingBackend(world.clock, PIXEL)
    backend.detail = detail
    service = ResetService(world.store, backend, world.service.core.roles, Vault(b"k" * 32),
                           world.clock, sleep=world.clock.sleep)
    created = await service.request_reset(ALICE, "PIXEL8-ALICE")
    assert created.request is not None
    await service.decide(created.request.id, ANNA, approve=True)
    await service.execute(created.request.id)
    request = await world.store.get(created.request.id)
    assert request is not None and request.state is State.FAILED
    assert (request.failure_code, request.failure_detail, request.failure_params) == (
        "not_supported", detail, params)


async def test_a_refusal_is_stored_as_policys_code_and_values(world: World) -> None:
    old = Device("dev-old", "OLD-PIXEL", "S-OLD",
                 DeviceFacts("Android", "7.1", "androidEnterpriseFullyManaged"),
                 primary_email="alice@example.com")
    world.backend.devices[old.id] = old
    refused = await world.service.request_reset(ALICE, "OLD-PIXEL")
    assert (refused.outcome, refused.key) == (Outcome.REFUSED, "refused")
    stored = await world.store.get(refused.request.id) if refused.request else None
    assert stored is not None and stored.state is State.REFUSED
    assert (stored.refusal, stored.refusal_params) == (
        "old_os_version", {"version": "7.1", "min": 8})
