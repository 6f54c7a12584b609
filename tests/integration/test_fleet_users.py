"""A FLEET_FILE names users as Entra does, and devices their primary user by id (issue 12,
point 1): the simulated backend answers who a person is and whose device it is from it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.backends.simulated import SimulatedBackend, load_fleet_file

FLEET = """
users:
  - {id: u-alice, userPrincipalName: alice@contoso.onmicrosoft.com, mail: alice@example.com,
     displayName: Alice}
  - {id: u-bob, userPrincipalName: bob@example.com, mail: bob@example.com}
  - {id: u-twin1, userPrincipalName: twin1@example.com, mail: twin@example.com}
  - {id: u-twin2, userPrincipalName: twin2@example.com, mail: twin@example.com}
devices:
  - {id: d-1, deviceName: PIXEL-1, serialNumber: S1, operatingSystem: Android, osVersion: "14",
     deviceEnrollmentType: androidEnterpriseFullyManaged, deviceType: androidEnterprise,
     userPrincipalName: alice@example.com, primaryUserId: u-bob}
  - {id: d-2, deviceName: PIXEL-2, serialNumber: S2, operatingSystem: Android, osVersion: "14",
     deviceEnrollmentType: androidEnterpriseFullyManaged, deviceType: androidEnterprise,
     userPrincipalName: alice@contoso.onmicrosoft.com}
  - {id: d-3, deviceName: KIOSK, serialNumber: S3, operatingSystem: Android, osVersion: "13",
     deviceEnrollmentType: androidEnterpriseDedicatedDevice, deviceType: androidEnterprise,
     userPrincipalName: stranger@example.com}
"""


@pytest.fixture
def backend(tmp_path: Path) -> SimulatedBackend:
    path = tmp_path / "fleet.yaml"
    path.write_text(FLEET, encoding="utf-8")
    fleet = load_fleet_file(path)
    return SimulatedBackend(fleet.devices, users=fleet.users)


async def test_people_are_found_by_upn_then_mail_and_twins_are_refused(
    backend: SimulatedBackend,
) -> None:
    assert (await backend.identify("ALICE@example.com")).user_id == "u-alice"  # by mail
    assert (await backend.identify("bob@example.com")).user_id == "u-bob"
    twin = await backend.identify("twin@example.com")
    assert (twin.user_id, twin.refusal) == ("", "ambiguous_directory_user")
    assert (await backend.identify("stranger@example.com")).refusal == "no_directory_user"


async def test_the_primary_user_is_the_named_id_never_the_device_fields(
    backend: SimulatedBackend,
) -> None:
    devices = {d.id: d for d in await backend.search_devices("")}
    assert (await backend.owner_of(devices["d-1"])).user_id == "u-bob"  # its UPN says alice
    assert (await backend.owner_of(devices["d-2"])).user_id == "u-alice"  # by its UPN
    assert (await backend.owner_of(devices["d-3"])).user_id == ""  # no such user: userless
    assert [d.id for d in await backend.devices_of("u-alice")] == ["d-2"]
    assert [d.id for d in await backend.devices_of("u-bob")] == ["d-1"]


@pytest.mark.parametrize(("text", "says"), [
    ("users: {a: 1}\ndevices: [{id: d, deviceName: n}]", "'users' must be a list"),
    ("users: [{id: u}]\ndevices: [{id: d, deviceName: n}]", "needs an id and a userPrincipalName"),
    ("users: [{id: u, userPrincipalName: a@x.org}, {id: u, userPrincipalName: b@x.org}]\n"
     "devices: [{id: d, deviceName: n}]", "repeats the id u"),
    ("users: [{id: u, userPrincipalName: a@x.org}]\n"
     "devices: [{id: d, deviceName: n, primaryUserId: nobody}]",
     "primaryUserId 'nobody' is not the id of a user"),
])
def test_a_wrong_users_section_is_named(tmp_path: Path, text: str, says: str) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=says):
        load_fleet_file(path)
