"""The simulated backend: lookup, search, resets over a manual clock, fleet files, big fleets."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.backends.devices import device_from_graph
from bot.backends.simulated import SimulatedBackend, demo_fleet, load_fleet, synthetic_fleet
from bot.clock import ManualClock
from bot.ports import ActionRef, ActionState, ActionStatus, BackendError, Device, FailureCode
from policy.platforms import Row, Scope, classify

PIXEL_ID = "d7d2d617-9d12-4bb2-bb9c-9a4a1a9923be"  # PIXEL8-ALICE, fully managed
PENDING_FOR = timedelta(seconds=1.5)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))


@pytest.fixture
def backend(clock: ManualClock) -> SimulatedBackend:
    return SimulatedBackend(demo_fleet(), clock=clock, pending_for=PENDING_FOR)


async def named(backend: SimulatedBackend, name: str) -> Device:
    """The one demo device with this name."""
    [device] = await backend.find_devices(name)
    return device


async def finished(
    backend: SimulatedBackend, clock: ManualClock, name: str, scope: Scope
) -> ActionStatus:
    """Start a reset of the named device and read its status once it is no longer pending."""
    ref = await backend.start_reset(await named(backend, name), scope)
    clock.advance(PENDING_FOR)
    return await backend.action_status(ref)


def entry(id_: str, name: str, serial: str = "", **fields: Any) -> dict[str, Any]:
    """A minimal managedDevice, an iPhone unless the fields say otherwise."""
    return {"id": id_, "deviceName": name, "serialNumber": serial, "operatingSystem": "iOS",
            "osVersion": "17.4", "deviceEnrollmentType": "appleBulkWithUser", **fields}  # fmt: skip


# -- finding devices ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [PIXEL_ID, PIXEL_ID.upper(), "38011FDJH002NK", "38011fdjh002nk", "PIXEL8-ALICE",
     "pixel8-alice", "  Pixel8-Alice  "],
    ids=["id", "id-upper", "serial", "serial-lower", "name", "name-lower", "name-padded"],
)  # fmt: skip
async def test_find_devices_matches_id_serial_or_name_exactly(
    backend: SimulatedBackend, query: str
) -> None:
    [device] = await backend.find_devices(query)

    assert (device.id, device.name, device.primary_email) == (
        PIXEL_ID,
        "PIXEL8-ALICE",
        "alice@example.com",
    )


@pytest.mark.parametrize("query", ["", "   ", "PIXEL8", "pixel8-alice-2", "nobody"])
async def test_find_devices_needs_an_exact_match(backend: SimulatedBackend, query: str) -> None:
    assert await backend.find_devices(query) == []


@pytest.mark.parametrize(
    ("email", "found"),
    [
        pytest.param("alice@example.com", True, id="owner"),
        pytest.param(" Alice@Example.COM ", True, id="owner-other-case"),
        pytest.param("bob@example.com", False, id="someone-else"),
        pytest.param("", False, id="blank"),
    ],
)
async def test_find_devices_can_keep_to_one_users_devices(
    backend: SimulatedBackend, email: str, found: bool
) -> None:
    matches = await backend.find_devices("PIXEL8-ALICE", primary_email=email)

    assert [d.id for d in matches] == ([PIXEL_ID] if found else [])


async def test_devices_sharing_a_name_come_back_in_a_stable_order_up_to_the_limit() -> None:
    fleet = [entry("id-b", "iPhone", "SERIAL-B"), entry("id-a", "iPhone", "SERIAL-A"),
             entry("id-c", "iPhone", "iPhone")]  # fmt: skip
    backend = SimulatedBackend(fleet)

    assert [d.id for d in await backend.find_devices("IPHONE")] == ["id-a", "id-b", "id-c"]
    assert [d.id for d in await backend.find_devices("iphone", limit=2)] == ["id-a", "id-b"]


async def test_get_device_by_id(backend: SimulatedBackend) -> None:
    device = await backend.get_device(PIXEL_ID.upper())

    assert device is not None and device.name == "PIXEL8-ALICE"
    assert await backend.get_device("PIXEL8-ALICE") is None
    assert await backend.get_device(str(uuid.uuid4())) is None


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param("iphone", ["Alice's iPhone", "Dave's iPhone"], id="name-substring"),
        pytest.param("NAVIGATOR", ["NAVIGATOR-BOB", "NAVIGATOR-DAVE"], id="name-upper-case"),
        pytest.param("fd", ["Bob's Pixel 7", "PIXEL8-ALICE"], id="serial-substring"),
        pytest.param(" rw520- ", ["NAVIGATOR-BOB", "NAVIGATOR-DAVE"], id="serial-padded"),
        pytest.param("no such device", [], id="nothing"),
    ],
)
async def test_search_devices_by_substring_of_name_or_serial_in_name_order(
    backend: SimulatedBackend, text: str, names: list[str]
) -> None:
    assert [d.name for d in await backend.search_devices(text)] == names


async def test_empty_search_lists_the_first_devices_in_name_order(
    backend: SimulatedBackend,
) -> None:
    every = sorted((e["deviceName"] for e in demo_fleet()), key=str.casefold)

    assert [d.name for d in await backend.search_devices("", limit=5)] == every[:5]
    assert [d.name for d in await backend.search_devices("", limit=1000)] == every


async def test_search_stops_at_the_limit(backend: SimulatedBackend) -> None:
    assert len(await backend.search_devices("e", limit=3)) == 3


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param("", ["Alice's iPhone", "COPE-ALICE-A54", "PIXEL8-ALICE"], id="all-own"),
        pytest.param("iphone", ["Alice's iPhone"], id="own-only"),
        pytest.param("navigator", [], id="others-hidden"),
    ],
)
async def test_search_can_keep_to_one_users_devices(
    backend: SimulatedBackend, text: str, names: list[str]
) -> None:
    found = await backend.search_devices(text, primary_email="ALICE@example.com")

    assert [d.name for d in found] == names


# -- the demo fleet ----------------------------------------------------------------------------


def test_the_demo_fleet_has_a_device_for_every_row_of_the_matrix() -> None:
    rows = {classify(device_from_graph(e).facts) for e in demo_fleet()}

    assert rows == set(Row)


def test_the_demo_fleet_has_fixed_guids_and_several_users() -> None:
    fleet = demo_fleet()
    ids = [e["id"] for e in fleet]

    assert ids == [e["id"] for e in demo_fleet()]
    assert len(set(ids)) == len(ids)
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert {"alice@example.com", "bob@example.com", "carol@example.com"} <= {
        e["emailAddress"] for e in fleet
    }


@pytest.mark.parametrize(
    ("name", "has_policy"),
    [("NAVIGATOR-BOB", True), ("NAVIGATOR-DAVE", False), ("PIXEL8-ALICE", None)],
)
async def test_the_passcode_policy_mark_reaches_the_device(
    backend: SimulatedBackend, name: str, has_policy: bool | None
) -> None:
    assert (await named(backend, name)).has_passcode_policy is has_policy


# -- resets ------------------------------------------------------------------------------------


async def test_a_reset_is_pending_then_done_with_the_same_passcode_on_every_read(
    backend: SimulatedBackend, clock: ManualClock
) -> None:
    started_at = clock.now()
    ref = await backend.start_reset(await named(backend, "PIXEL8-ALICE"), Scope.DEVICE)

    assert (ref.device_id, ref.started_at) == (PIXEL_ID, started_at)
    assert uuid.UUID(ref.ref)
    assert (await backend.action_status(ref)).state is ActionState.PENDING
    clock.advance(PENDING_FOR - timedelta(milliseconds=1))
    assert (await backend.action_status(ref)).state is ActionState.PENDING

    clock.advance(timedelta(milliseconds=1))
    first = await backend.action_status(ref)
    clock.advance(timedelta(days=1))
    again = await backend.action_status(ref)

    assert first.state is ActionState.DONE
    assert first.passcode is not None and first.passcode == again.passcode
    assert backend.resets_started == 1
    assert backend.actions_for(PIXEL_ID) == [ref]


@pytest.mark.parametrize(
    ("name", "scope", "digits"),
    [
        pytest.param("SM-G930F-DAVE", Scope.DEVICE, {6}, id="device-admin-new-passcode"),
        pytest.param("PIXEL8-ALICE", Scope.DEVICE, {6, 7, 8}, id="fully-managed-temporary"),
        pytest.param("KIOSK-LOBBY-01", Scope.DEVICE, {6, 7, 8}, id="dedicated-temporary"),
        pytest.param("carol_AndroidForWork_3/14/2024_9:41 AM", Scope.WORK_PROFILE, {6, 7, 8},
                     id="work-profile-personal-temporary"),
        pytest.param("COPE-ALICE-A54", Scope.WORK_PROFILE, {6, 7, 8},
                     id="work-profile-corporate-temporary"),
        pytest.param("NAVIGATOR-BOB", Scope.DEVICE, {6}, id="aosp-user-new-passcode"),
        pytest.param("QUEST3-TRAINING-02", Scope.DEVICE, {6}, id="aosp-userless-new-passcode"),
        pytest.param("Lumia950-ERIN", Scope.DEVICE, {4, 5, 6}, id="windows-mobile-new-pin"),
    ],
)  # fmt: skip
async def test_a_successful_reset_hands_back_a_numeric_secret(
    backend: SimulatedBackend, clock: ManualClock, name: str, scope: Scope, digits: set[int]
) -> None:
    status = await finished(backend, clock, name, scope)

    assert status.state is ActionState.DONE
    assert status.passcode is not None
    assert status.passcode.isdigit() and len(status.passcode) in digits


async def test_an_ios_reset_removes_the_passcode_and_hands_back_none(
    backend: SimulatedBackend, clock: ManualClock
) -> None:
    status = await finished(backend, clock, "Alice's iPhone", Scope.DEVICE)

    assert (status.state, status.passcode, status.failure) == (ActionState.DONE, None, None)


@pytest.mark.parametrize(
    ("name", "scope", "failure", "said"),
    [
        pytest.param("Bob's Pixel 7", Scope.WORK_PROFILE, FailureCode.RESET_TOKEN_NOT_ACTIVATED,
                     "reset token", id="reset-token-not-activated"),
        pytest.param("Erin's iPad", Scope.DEVICE, FailureCode.IOS_UNLOCK_TOKEN, "unlock token",
                     id="ios-removal-fails"),
        pytest.param("NAVIGATOR-DAVE", Scope.DEVICE, FailureCode.NO_PASSCODE_POLICY,
                     "passcode policy", id="aosp-without-passcode-policy"),
        pytest.param("Carol's MacBook Pro", Scope.DEVICE, FailureCode.NOT_SUPPORTED, "",
                     id="unsupported-row"),
        pytest.param("COPE-ALICE-A54", Scope.DEVICE, FailureCode.NOT_SUPPORTED, "",
                     id="wrong-scope"),
    ],
)  # fmt: skip
async def test_a_failing_reset_says_why(
    backend: SimulatedBackend,
    clock: ManualClock,
    name: str,
    scope: Scope,
    failure: FailureCode,
    said: str,
) -> None:
    status = await finished(backend, clock, name, scope)

    assert (status.state, status.failure, status.passcode) == (ActionState.FAILED, failure, None)
    if said:
        assert said in status.detail
    else:  # policy refuses it: the service words it (failure.not_supported), not the fleet
        assert status.detail == ""


async def test_a_fail_mark_on_an_android_device_is_a_backend_error(clock: ManualClock) -> None:
    android = entry("id-1", "PIXEL7-FAIL", operatingSystem="Android", osVersion="14",
                    deviceEnrollmentType="androidEnterpriseFullyManaged",
                    simulate={"fail": "Google Play services did not answer."})  # fmt: skip
    backend = SimulatedBackend([android], clock=clock, pending_for=PENDING_FOR)

    status = await finished(backend, clock, "PIXEL7-FAIL", Scope.DEVICE)

    assert (status.failure, status.detail) == (
        FailureCode.BACKEND_ERROR,
        "Google Play services did not answer.",
    )


async def test_each_reset_is_a_new_action_with_its_own_secret(
    backend: SimulatedBackend, clock: ManualClock
) -> None:
    device = await named(backend, "PIXEL8-ALICE")
    first = await backend.start_reset(device, Scope.DEVICE)
    second = await backend.start_reset(device, Scope.DEVICE)
    clock.advance(PENDING_FOR)

    assert first.ref != second.ref
    assert backend.resets_started == 2
    assert backend.actions_for(PIXEL_ID.upper()) == [first, second]
    assert (await backend.action_status(first)).passcode is not None


async def test_no_passcode_reaches_the_log(
    backend: SimulatedBackend, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)

    status = await finished(backend, clock, "PIXEL8-ALICE", Scope.DEVICE)

    assert status.passcode is not None
    assert status.passcode not in caplog.text
    assert status.passcode not in repr(status)


async def test_resetting_a_device_outside_the_fleet_is_refused(backend: SimulatedBackend) -> None:
    stranger = device_from_graph(entry(str(uuid.uuid4()), "STRANGER"))

    with pytest.raises(BackendError) as raised:
        await backend.start_reset(stranger, Scope.DEVICE)

    assert raised.value.failure is FailureCode.DEVICE_NOT_FOUND
    assert not raised.value.retryable
    assert backend.resets_started == 0


async def test_an_action_the_backend_never_started_reads_as_failed(
    backend: SimulatedBackend, clock: ManualClock
) -> None:
    status = await backend.action_status(ActionRef(PIXEL_ID, clock.now(), str(uuid.uuid4())))

    assert (status.state, status.failure) == (ActionState.FAILED, FailureCode.BACKEND_ERROR)
    assert status.detail


async def test_find_started_action_returns_the_newest_reset_since_a_time(
    backend: SimulatedBackend, clock: ManualClock
) -> None:
    device = await named(backend, "PIXEL8-ALICE")
    before = clock.now()
    assert await backend.find_started_action(PIXEL_ID, before) is None

    older = await backend.start_reset(device, Scope.DEVICE)
    clock.advance(timedelta(minutes=5))
    newer = await backend.start_reset(device, Scope.DEVICE)

    assert await backend.find_started_action(PIXEL_ID, before) == newer
    assert await backend.find_started_action(PIXEL_ID.upper(), older.started_at) == newer
    assert await backend.find_started_action(PIXEL_ID, newer.started_at) == newer
    later = newer.started_at + timedelta(seconds=1)
    assert await backend.find_started_action(PIXEL_ID, later) is None
    other = await named(backend, "Alice's iPhone")
    assert await backend.find_started_action(other.id, before) is None


async def test_backend_identity_and_close(backend: SimulatedBackend) -> None:
    assert backend.name == "simulated"
    await backend.aclose()


def test_a_fleet_with_a_repeated_id_is_refused() -> None:
    with pytest.raises(ValueError, match="twice"):
        SimulatedBackend([entry("id-1", "A"), entry("ID-1", "B")])


# -- fleet files -------------------------------------------------------------------------------

FLEET_YAML = """\
devices:
  - id: 0d4b7c1e-0000-4000-8000-000000000001
    deviceName: GALAXY-S23-TOM
    serialNumber: RFCW20N3XYZ
    operatingSystem: Android
    osVersion: "14"
    deviceEnrollmentType: userEnrollment
    deviceType: androidForWork
    emailAddress: tom@example.com
    simulate:
      resetTokenActivated: false
  - id: 0d4b7c1e-0000-4000-8000-000000000002
    deviceName: KIOSK-DOCK-4
    operatingSystem: Android
    osVersion: "13"
    deviceEnrollmentType: androidEnterpriseDedicatedDevice
"""


async def test_load_fleet_reads_yaml_with_simulate_marks(
    tmp_path: Path, clock: ManualClock
) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET_YAML, encoding="utf-8")

    fleet = load_fleet(path)
    backend = SimulatedBackend(fleet, clock=clock, pending_for=PENDING_FOR)
    status = await finished(backend, clock, "galaxy-s23-tom", Scope.WORK_PROFILE)

    assert [e["deviceName"] for e in fleet] == ["GALAXY-S23-TOM", "KIOSK-DOCK-4"]
    assert status.failure is FailureCode.RESET_TOKEN_NOT_ACTIVATED


@pytest.mark.parametrize("wrapped", [False, True], ids=["top-level-list", "devices-key"])
def test_load_fleet_reads_json(tmp_path: Path, wrapped: bool) -> None:
    fleet = demo_fleet()
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps({"devices": fleet} if wrapped else fleet), encoding="utf-8")

    assert load_fleet(str(path)) == fleet


@pytest.mark.parametrize(
    ("text", "said"),
    [
        pytest.param("", "the file is empty", id="empty"),
        pytest.param("hello", "expected a list of devices", id="scalar"),
        pytest.param("devices: 3", "expected a list of devices", id="devices-not-a-list"),
        pytest.param("fleet: []", "expected a list of devices", id="no-devices-key"),
        pytest.param("[]", "lists no devices", id="no-devices"),
        pytest.param("- just a name", "device 1 is not a mapping", id="entry-not-a-mapping"),
        pytest.param("- deviceName: A", "device 1 has no id", id="missing-id"),
        pytest.param("- {id: '1', deviceName: A}\n- {id: '2'}", "device 2 has no deviceName",
                     id="missing-name"),
        pytest.param("- {id: 7, deviceName: A}", "device 1 has no id", id="id-not-text"),
        pytest.param("- {id: ab, deviceName: A}\n- {id: AB, deviceName: B}",
                     "device 2 repeats the id AB of device 1", id="duplicate-id"),
        pytest.param("- {id: ab, deviceName: A, simulate: {resetToken: false}}",
                     "device 1 (ab): unknown simulate mark 'resetToken'", id="unknown-mark"),
        pytest.param("- {id: ab, deviceName: A, simulate: {passcodePolicy: maybe}}",
                     "true or false", id="mark-not-a-boolean"),
        pytest.param("- {id: ab, deviceName: A, simulate: {fail: ''}}", "simulate.fail",
                     id="empty-fail-mark"),
        pytest.param("- {id: ab, deviceName: A, simulate: [fail]}", "must be a mapping",
                     id="simulate-not-a-mapping"),
        pytest.param("- id: ab\n  deviceName: [unclosed", "not valid YAML or JSON (line 2",
                     id="bad-syntax"),
    ],
)  # fmt: skip
def test_load_fleet_explains_a_bad_file_in_one_line(tmp_path: Path, text: str, said: str) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")

    with pytest.raises(ValueError) as raised:
        load_fleet(path)

    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert said in message
    assert "\n" not in message


def test_load_fleet_explains_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.yaml"

    with pytest.raises(ValueError, match="cannot read the fleet file") as raised:
        load_fleet(path)

    assert str(raised.value).startswith(str(path))


# -- synthetic fleets --------------------------------------------------------------------------


def test_synthetic_fleets_are_repeatable_and_varied() -> None:
    fleet = synthetic_fleet(2_000, seed=7)
    rows = {classify(device_from_graph(e).facts) for e in fleet}

    assert fleet == synthetic_fleet(2_000, seed=7)
    assert fleet != synthetic_fleet(2_000, seed=8)
    assert len({e["id"] for e in fleet}) == len({e["serialNumber"] for e in fleet}) == 2_000
    assert all(uuid.UUID(e["id"]).version == 4 for e in fleet)
    assert rows == set(Row)


async def test_a_hundred_thousand_devices_can_be_searched() -> None:
    fleet = synthetic_fleet(100_000)
    backend = SimulatedBackend(fleet)
    owner = next(e["emailAddress"] for e in fleet[4_242:] if e["emailAddress"])

    found = await backend.search_devices("iphone15", limit=100)
    [exact] = await backend.find_devices(fleet[99_999]["serialNumber"].lower())
    mine = await backend.search_devices("", primary_email=owner)

    assert len(found) == 100 and all("IPHONE15" in d.name for d in found)
    assert exact.id == fleet[99_999]["id"]
    assert mine and all(d.primary_email == owner for d in mine)
    assert await backend.search_devices("no such device") == []
