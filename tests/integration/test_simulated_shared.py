"""The simulated backend's resets live in the database (issue 13 point 5), each test on SQLite
and on PostgreSQL: two backends on one database (two replicas) see each other's resets, and a
process started again during an execution finishes the request normally."""

from __future__ import annotations

import asyncio
import base64
import json
import os
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import cli
from bot.backends.simulated import SimulatedBackend, demo_fleet, demo_users, synthetic_fleet
from bot.bootstrap import Services, build_backend, build_services, build_vault
from bot.clock import ManualClock
from bot.config import Settings
from bot.domain import State
from bot.ports import ActionState
from bot.roles import FileRoleDirectory
from bot.service import Outcome, Person
from bot.storage import Store
from bot.storage.simulation import SqlSimulatedResets
from bot.vault import Vault, VaultError
from policy.platforms import Scope
from tests.databases import everything_stored
from tests.fakes.notifier import FakeNotifier

ALICE = Person("UALICE", "alice@example.com", "Alice")
ANNA = Person("UANNA", "anna@example.com", "Anna")
ROLES = {"Intune Administrator": ["anna@example.com"]}
PIXEL = "PIXEL8-ALICE"


def replica(clock: ManualClock, pending_for: timedelta = timedelta(seconds=2)
            ) -> SimulatedBackend:
    """One process's simulated backend: the same static fleet every process loads."""
    return SimulatedBackend(demo_fleet(), users=demo_users(), clock=clock,
                            pending_for=pending_for)


async def until_started(services: Services, request_id: str) -> None:
    """Run the jobs until the request's reset has started (its action_ref stored), then stop
    them there, the reset still pending."""
    draining = asyncio.create_task(services.runner.drain())
    try:
        for _ in range(500):
            request = await services.store.get(request_id)
            if request is not None and request.action_ref:
                return
            await asyncio.sleep(0.01)
        raise AssertionError(f"the reset of {request_id} never started")
    finally:
        draining.cancel()


async def test_a_reset_started_by_one_replica_is_read_and_finished_by_another(
    store_settings: Settings,
) -> None:
    clock = ManualClock()
    vault = build_vault(store_settings)
    store_a = await Store.open(store_settings.database_url)
    store_b = await Store.open(store_settings.database_url)
    a, b = replica(clock), replica(clock)
    a.share_state(store_a.database, vault)
    b.share_state(store_b.database, vault)
    try:
        [pixel] = await a.find_devices(PIXEL)
        started = clock.now()
        ref = await a.start_reset(pixel, Scope.DEVICE)

        assert await b.find_started_action(pixel.id.upper(), started) == ref
        assert await b.find_started_action(pixel.id, started + timedelta(seconds=1)) is None
        assert (await b.action_status(ref)).state is ActionState.PENDING
        clock.advance(timedelta(seconds=2))
        on_b = await b.action_status(ref)
        on_a = await a.action_status(ref)
        assert on_b.state is ActionState.DONE and on_b.passcode and on_b.passcode.isdigit()
        assert on_a == on_b  # one reset, one passcode, whoever asks
        assert await a.resets_of(pixel.id) == await b.resets_of(pixel.id) == [ref]
        assert (a.resets_started, b.resets_started) == (1, 0)
        # Sealed in the simulation's table, never in plain text.
        assert on_b.passcode.encode() not in everything_stored(store_settings.database_url)
    finally:
        await store_a.close()
        await store_b.close()


async def test_a_failure_mark_reads_the_same_on_every_replica(store_settings: Settings) -> None:
    clock = ManualClock()
    vault = build_vault(store_settings)
    store = await Store.open(store_settings.database_url)
    a, b = replica(clock, timedelta(0)), replica(clock, timedelta(0))
    a.share_state(store.database, vault)
    b.share_state(store.database, vault)
    try:
        [ipad] = await a.find_devices("Erin's iPad")
        ref = await a.start_reset(ipad, Scope.DEVICE)
        status = await b.action_status(ref)
        assert status == await a.action_status(ref)
        assert status.state is ActionState.FAILED and "unlock token" in status.detail
        assert status.passcode is None
    finally:
        await store.close()


async def test_a_passcode_sealed_under_another_key_is_not_shown(store_settings: Settings) -> None:
    clock = ManualClock()
    store = await Store.open(store_settings.database_url)
    a, b = replica(clock, timedelta(0)), replica(clock, timedelta(0))
    a.share_state(store.database, build_vault(store_settings))
    b.share_state(store.database, Vault(os.urandom(32)))  # a replica with another key
    try:
        [pixel] = await a.find_devices(PIXEL)
        ref = await a.start_reset(pixel, Scope.DEVICE)
        status = await b.action_status(ref)
        assert status.state is ActionState.FAILED and status.passcode is None
        assert "key" in status.detail
    finally:
        await store.close()


async def test_a_restart_during_the_execution_finishes_the_request(
    store_settings: Settings,
) -> None:
    """The process dies while the reset is pending; the one started after it finds the reset
    in the simulation's table and completes the request: no second reset, no failure."""
    clock = ManualClock()
    notifier = FakeNotifier()
    never = asyncio.Event()

    async def stuck(seconds: float) -> None:  # the first process never gets past its poll
        await never.wait()

    first = replica(clock, timedelta(seconds=30))
    services = await build_services(store_settings, lambda store: notifier, clock=clock,
                                    backend=first, roles=FileRoleDirectory(ROLES), sleep=stuck)
    reply = await services.service.request_reset(ALICE, PIXEL)
    request_id = reply.request.id
    assert (await services.service.decide(request_id, ANNA, approve=True)).outcome \
        is Outcome.APPROVED
    await until_started(services, request_id)
    assert first.resets_started == 1
    await services.aclose()  # the process is gone; its job's lease runs out
    clock.advance(timedelta(minutes=3))

    second = replica(clock, timedelta(seconds=30))
    services = await build_services(store_settings, lambda store: notifier, clock=clock,
                                    backend=second, roles=FileRoleDirectory(ROLES),
                                    sleep=clock.sleep)
    try:
        await services.store.release_leases()
        await services.runner.drain()
        request = await services.store.get(request_id)
        assert request is not None
        assert request.state is State.COMPLETED and request.has_passcode
        assert second.resets_started == 0
        assert await second.resets_of(request.device_id) == [
            await second.find_started_action(request.device_id, reply.request.created_at)]

        async def on_screen(_: object, passcode: str) -> None:
            """A surface that shows the passcode."""

        shown = await services.service.reveal(request_id, ALICE, on_screen)
        ref = await second.find_started_action(request.device_id, reply.request.created_at)
        assert ref is not None
        assert shown.passcode == (await second.action_status(ref)).passcode
    finally:
        await services.aclose()


async def test_a_fleet_file_of_100000_devices_in_json_loads(tmp_path: Path) -> None:
    """The big fleet (JSON, which is YAML too) through FLEET_FILE; how fast and how small it
    loads is measured in README's Performance section, not here."""
    fleet = synthetic_fleet(100_000)
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"devices": fleet}), encoding="utf-8")
    settings = Settings(_env_file=None, fleet_file=path)  # type: ignore[call-arg]
    backend = build_backend(settings, ManualClock())
    assert isinstance(backend, SimulatedBackend)
    last = fleet[-1]
    assert [d.id for d in await backend.find_devices(last["serialNumber"])] == [last["id"]]
    found = await backend.get_device(fleet[0]["id"].upper())
    assert found is not None and found.name == fleet[0]["deviceName"]
    assert len(await backend.search_devices("", limit=1000)) == 1000


@pytest.mark.parametrize("wrapped", [True, False])
def test_a_json_fleet_file_reads_as_its_yaml_would(tmp_path: Path, wrapped: bool) -> None:
    from bot.backends.simulated import load_fleet_file

    fleet = demo_fleet()
    document = {"devices": fleet, "users": [
        {"id": u.id, "userPrincipalName": u.upn, "mail": u.mail, "displayName": u.display_name}
        for u in demo_users()]} if wrapped else fleet
    as_json, as_yaml = tmp_path / "fleet.json", tmp_path / "fleet.yaml"
    as_json.write_text(json.dumps(document, indent=1), encoding="utf-8")
    import yaml

    as_yaml.write_text(yaml.safe_dump(document), encoding="utf-8")
    assert load_fleet_file(as_json) == load_fleet_file(as_yaml)


async def test_rotate_key_reseals_the_simulated_resets_too(store_settings: Settings,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    """`rotate-key` re-seals every value sealed with the vault: a completed request's passcode
    and the simulated Intune's resets (one done, one still in flight). With the old key
    removed afterwards, everything still reads: the passcode is shown, and the request whose
    reset was in flight completes with its passcode in a process holding the new key only."""
    clock = ManualClock()
    notifier = FakeNotifier()
    never = asyncio.Event()

    async def stuck(seconds: float) -> None:  # the process never gets past its poll
        await never.wait()

    async def on_screen(_: object, passcode: str) -> None:
        """A surface that shows the passcode."""

    old = build_vault(store_settings)
    services = await build_services(store_settings, lambda store: notifier, clock=clock,
                                    backend=replica(clock, timedelta(0)),
                                    roles=FileRoleDirectory(ROLES), sleep=clock.sleep)
    try:
        done = (await services.service.request_reset(ALICE, PIXEL)).request.id
        await services.service.decide(done, ANNA, approve=True)
        await services.runner.drain()
        first = (await services.service.reveal(done, ALICE, on_screen)).passcode
        assert first
    finally:
        await services.aclose()
    clock.advance(timedelta(minutes=1))
    services = await build_services(store_settings, lambda store: notifier, clock=clock,
                                    backend=replica(clock, timedelta(seconds=30)),
                                    roles=FileRoleDirectory(ROLES), sleep=stuck)
    reply = await services.service.request_reset(ALICE, PIXEL)
    flying = reply.request.id
    await services.service.decide(flying, ANNA, approve=True)
    await until_started(services, flying)
    await services.aclose()  # stopped for the rotation, the reset still pending

    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    rotated = store_settings.model_copy(update={
        "passcode_bot_secret": SecretStr(new),
        "passcode_bot_old_secrets": store_settings.passcode_bot_secret})
    assert await cli.rotate_key(rotated) == 0
    assert ("Re-sealed 1 passcode(s) under the new key (and 2 of the simulated backend's"
            " resets)") in capsys.readouterr().out
    assert await cli.rotate_key(rotated) == 0  # again: nothing left under the old key
    assert "Re-sealed 0 passcode(s) under the new key." in capsys.readouterr().out

    only_new = store_settings.model_copy(update={"passcode_bot_secret": SecretStr(new)})
    clock.advance(timedelta(minutes=3))  # the in-flight job's lease has run out
    backend = replica(clock, timedelta(seconds=30))
    services = await build_services(only_new, lambda store: notifier, clock=clock,
                                    backend=backend, roles=FileRoleDirectory(ROLES),
                                    sleep=clock.sleep)
    try:
        store = services.store
        for _, blob in await SqlSimulatedResets(store.database).sealed_all():
            with pytest.raises(VaultError):  # no longer under the old key
                old.unseal("anything", blob)
        assert (await services.service.reveal(done, ALICE, on_screen)).passcode == first
        await store.release_leases()
        await services.runner.drain()
        request = await store.get(flying)
        assert request is not None and request.state is State.COMPLETED, request
        shown = await services.service.reveal(flying, ALICE, on_screen)
        ref = await backend.find_started_action(request.device_id, reply.request.created_at)
        assert ref is not None and shown.passcode
        assert shown.passcode == (await backend.action_status(ref)).passcode
        assert backend.resets_started == 0
    finally:
        await services.aclose()
