"""Who a person is, whose device it is, and who may approve for it, as Intune decides: the
Graph adapters over real HTTPS against the Graph fake (issue 12, points 1-3)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from bot.backends.graph import GraphBackend
from bot.roles_graph import GraphRoleDirectory
from policy.approval import GRAPH_PERMITTED_ROLES, RESET_PASSCODE_PERMISSION, RESET_PASSCODE_ROLE
from tests.fakes import graph_api as emu
from tests.fakes.graph_api import GraphEmulator

if TYPE_CHECKING:
    from tests.integration.graph_fixtures import EmulatorFactory

pytest_plugins = ["tests.integration.graph_fixtures"]

MakeDirectory = Callable[..., GraphRoleDirectory]
MakeBackend = Callable[..., GraphBackend]

PHONE = "0b9e8a52-6a43-4b8e-9d51-2f6f1c0d0a01"
PHONE_AAD = "7d1c2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
OTHER = "0b9e8a52-6a43-4b8e-9d51-2f6f1c0d0a02"
SWEDEN = "51111111-0000-4000-8000-000000000001"  # scope group: Sweden's devices
ITALY = "51111111-0000-4000-8000-000000000002"
HELPDESK_SE = "61111111-0000-4000-8000-000000000001"  # the Swedish helpdesk's members
ANY = GRAPH_PERMITTED_ROLES


def phone(device_id: str = PHONE, upn: str = "alice@example.com", **extra: Any) -> dict[str, Any]:
    return {
        "id": device_id, "deviceName": f"PIXEL-{device_id[-2:]}",
        "serialNumber": f"S{device_id[-4:]}",
        "operatingSystem": "Android", "osVersion": "14",
        "deviceEnrollmentType": "androidEnterpriseFullyManaged", "deviceType": "androidEnterprise",
        "managementAgent": "mdm", "managedDeviceOwnerType": "company",
        "userPrincipalName": upn, "emailAddress": upn, "userDisplayName": upn.split("@")[0],
        **extra,
    }  # fmt: skip


# -- who a person is ----------------------------------------------------------------------------


async def test_an_email_two_users_share_is_refused_never_guessed(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator()
    emulator.add_user("sam.one@contoso.onmicrosoft.com", mail="sam@example.com")
    emulator.add_user("sam.two@contoso.onmicrosoft.com", mail="sam@example.com")
    backend = make_backend(emulator)
    found = await backend.identify("sam@example.com")
    assert (found.user_id, found.refusal) == ("", "ambiguous_directory_user")
    nobody = await backend.identify("nobody@example.com")
    assert (nobody.user_id, nobody.refusal) == ("", "no_directory_user")


async def test_upn_wins_over_another_users_mail_and_case_is_ascii_only(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator()
    upn_user = emulator.add_user("Kim@Example.com", mail="kim.k@example.com")
    emulator.add_user("kim.other@contoso.onmicrosoft.com", mail="kim@example.com")
    backend = make_backend(emulator)
    assert (await backend.identify("kim@EXAMPLE.com")).user_id == upn_user
    filters = [q for _, p, q, _ in emulator.requests if p == "/v1.0/users"]
    assert filters and "userPrincipalName eq 'kim@example.com'" in filters[0]


# -- whose device it is -------------------------------------------------------------------------


async def test_a_former_owner_is_not_the_owner_the_current_one_is(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([phone()])
    alice = emulator.add_user("alice@example.com")
    bob = emulator.add_user("bob@example.com")
    # The phone went from Alice to Bob; its userPrincipalName still says Alice.
    emulator.set_primary_user(PHONE, bob)
    backend = make_backend(emulator)
    device = await backend.get_device(PHONE)
    assert device is not None and device.primary_email == "alice@example.com"  # display only
    assert (await backend.owner_of(device)).user_id == bob
    assert [d.id for d in await backend.devices_of(bob)] == [PHONE]
    # users/{alice}/managedDevices still lists it (she enrolled it): checked, and dropped.
    assert await backend.devices_of(alice) == []
    listed = [p for _, p, _, _ in emulator.requests if p.endswith(f"/users/{alice}/managedDevices")]
    assert listed


async def test_own_devices_are_read_live_not_from_the_index(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([phone()])
    alice = emulator.add_user("alice@example.com")
    backend = make_backend(emulator)
    await backend.refresh_index()
    emulator.add_device(phone(OTHER))  # enrolled after the index was built
    assert sorted(d.id for d in await backend.devices_of(alice)) == sorted([PHONE, OTHER])
    assert [d.id for d in await backend.devices_of(alice, "-02")] == [OTHER]


async def test_a_device_without_primary_user_has_no_owner(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([phone()])
    emulator.add_user("alice@example.com")
    emulator.set_primary_user(PHONE, None)
    backend = make_backend(emulator)
    device = await backend.get_device(PHONE)
    assert device is not None and (await backend.owner_of(device)).user_id == ""


# -- who may approve, for this device -----------------------------------------------------------


async def scoped_tenant(make_emulator: EmulatorFactory) -> tuple[GraphEmulator, dict[str, str]]:
    """A Swedish phone (its Entra device in the Sweden scope group), an Italian one, and a
    Help Desk Operator assignment for the Swedish helpdesk scoped to Sweden."""
    emulator = await make_emulator([phone(azureADDeviceId=PHONE_AAD),
                                    phone(OTHER, "bob@example.com")])
    people = {name: emulator.add_user(f"{name}@example.com")
              for name in ("alice", "bob", "hugo", "sara", "carl", "nina", "rolf")}
    emulator.add_group_member(SWEDEN, emulator.add_entra_device(PHONE_AAD))
    emulator.add_group_member(ITALY, people["bob"])  # OTHER's primary user is in Italy's group
    emulator.add_group_member(HELPDESK_SE, people["hugo"])
    emulator.assign_intune_role(emu.HELP_DESK_OPERATOR, [HELPDESK_SE], resource_scopes=[SWEDEN],
                                display_name="Sweden helpdesk")
    return emulator, people


async def test_a_scoped_help_desk_operator_approves_inside_their_scope_only(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator, _ = await scoped_tenant(make_emulator)
    directory = make_directory(emulator)
    inside = await directory.approval_for("UHUGO", "hugo@example.com", PHONE, ANY)
    assert inside.roles == frozenset({"Helpdesk Operator", RESET_PASSCODE_ROLE})
    outside = await directory.approval_for("UHUGO", "hugo@example.com", OTHER, ANY)
    assert (outside.roles, outside.missing, outside.detail) == (
        frozenset(), "scope", ("Sweden helpdesk",))
    checks = [p for m, p, _, _ in emulator.requests if p.endswith("/checkMemberGroups")]
    assert any(p.startswith("/v1.0/devices/") for p in checks)


async def test_a_scope_group_holding_the_primary_user_covers_the_device(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator, people = await scoped_tenant(make_emulator)
    italy_desk = "61111111-0000-4000-8000-000000000002"
    emulator.add_group_member(italy_desk, people["sara"])
    emulator.assign_intune_role(emu.HELP_DESK_OPERATOR, [italy_desk], resource_scopes=[ITALY])
    directory = make_directory(emulator)
    assert (await directory.approval_for("USARA", "sara@example.com", OTHER, ANY)).roles
    assert not (await directory.approval_for("USARA", "sara@example.com", PHONE, ANY)).roles


async def test_scope_tags_must_be_shared(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator([phone(roleScopeTagIds=["7"]), phone(OTHER)])
    carl = emulator.add_user("carl@example.com")
    nina = emulator.add_user("nina@example.com")
    emulator.assign_intune_role(emu.HELP_DESK_OPERATOR, [carl], scope_type="allDevices")
    emulator.assign_intune_role(emu.HELP_DESK_OPERATOR, [nina], scope_type="allDevices",
                                role_scope_tag_ids=["7"])
    directory = make_directory(emulator)
    carl_tagged = await directory.approval_for("UCARL", "carl@example.com", PHONE, ANY)
    assert (carl_tagged.roles, carl_tagged.missing) == (frozenset(), "scope_tag")
    assert (await directory.approval_for("UCARL", "carl@example.com", OTHER, ANY)).roles
    assert (await directory.approval_for("UNINA", "nina@example.com", PHONE, ANY)).roles


@pytest.mark.parametrize(("definition", "allowed"), [
    (emu.SCHOOL_ADMINISTRATOR, True),
    (emu.HELP_DESK_OPERATOR, True),
    (emu.INTUNE_ROLE_ADMINISTRATOR, False),
    (emu.READ_ONLY_OPERATOR, False),
])
async def test_built_in_roles_are_judged_by_their_permissions(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory, definition: str, allowed: bool
) -> None:
    emulator = await make_emulator([phone()])
    rolf = emulator.add_user("rolf@example.com")
    group = "71111111-0000-4000-8000-000000000001"
    emulator.add_group_member(group, rolf)
    emulator.assign_intune_role(definition, [group], scope_type="allDevices")
    directory = make_directory(emulator)
    check = await directory.approval_for("UROLF", "rolf@example.com", PHONE, ANY)
    assert bool(check.roles) is allowed
    if not allowed:
        assert check.missing == "permission"


async def test_custom_roles_count_by_the_permission_and_a_deny_wins(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator([phone()])
    with_it = emulator.add_role_definition("Resetters", [RESET_PASSCODE_PERMISSION])
    without = emulator.add_role_definition("Lockers", ["Microsoft.Intune_RemoteTasks_RemoteLock"])
    denied = emulator.add_role_definition("Denied", [RESET_PASSCODE_PERMISSION],
                                          not_allowed_actions=[RESET_PASSCODE_PERMISSION])
    users = {}
    for name, definition in (("rita", with_it), ("lars", without), ("dina", denied)):
        users[name] = emulator.add_user(f"{name}@example.com")
        emulator.assign_intune_role(definition, [users[name]], scope_type="allDevices")
    directory = make_directory(emulator)
    rita = await directory.approval_for("URITA", "rita@example.com", PHONE, ANY)
    assert rita.roles == frozenset({"Intune custom role: Resetters", RESET_PASSCODE_ROLE})
    for name in ("lars", "dina"):
        check = await directory.approval_for("U", f"{name}@example.com", PHONE, ANY)
        assert (check.roles, check.missing) == (frozenset(), "permission")


async def test_entra_administrators_approve_everywhere_and_unknown_people_nowhere(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator([phone(roleScopeTagIds=["7"])])
    ada = emulator.add_user("ada@example.com")
    emulator.assign_directory_role(ada, emu.INTUNE_ADMINISTRATOR)
    directory = make_directory(emulator)
    assert (await directory.approval_for("UADA", "ada@example.com", PHONE, ANY)).roles == (
        frozenset({"Intune Administrator"}))
    nobody = await directory.approval_for("UX", "nobody@example.com", PHONE, ANY)
    assert (nobody.roles, nobody.missing) == (frozenset(), "no_role")


async def test_a_click_reads_the_person_again(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator, people = await scoped_tenant(make_emulator)
    directory = make_directory(emulator)
    assert (await directory.approval_for("UHUGO", "hugo@example.com", PHONE, ANY)).roles
    emulator.remove_group_member(HELPDESK_SE, people["hugo"])  # off the helpdesk
    assert not (await directory.approval_for("UHUGO", "hugo@example.com", PHONE, ANY)).roles


async def test_who_can_approve_names_the_roles_covering_the_device(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator, _ = await scoped_tenant(make_emulator)
    emulator.assign_intune_role(emu.INTUNE_ROLE_ADMINISTRATOR, [HELPDESK_SE],
                                scope_type="allDevices")
    directory = make_directory(emulator)
    assert (await directory.approvers_for(PHONE, ANY)).roles == (
        "Global Administrator", "Intune Administrator", "Helpdesk Operator")
    assert (await directory.approvers_for(OTHER, ANY)).roles == (
        "Global Administrator", "Intune Administrator")


async def test_permitted_roles_narrow_who_intune_lets_approve_and_never_widen_it(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    """PERMITTED_ROLES naming a role whose definition does not allow Reset passcode gives its
    holders nothing (Intune would not let them reset the device); naming one that does leaves
    the others out."""
    emulator = await make_emulator([phone()])
    rob, hana = emulator.add_user("rob@example.com"), emulator.add_user("hana@example.com")
    emulator.assign_intune_role(emu.INTUNE_ROLE_ADMINISTRATOR, [rob], scope_type="allDevices")
    emulator.assign_intune_role(emu.HELP_DESK_OPERATOR, [hana], scope_type="allDevices")
    directory = make_directory(emulator)
    named = frozenset({"Intune Role Administrator"})
    refused = await directory.approval_for("UROB", "rob@example.com", PHONE, named)
    assert (refused.roles, refused.missing) == (frozenset(), "permission")
    assert not (await directory.approval_for("UHANA", "hana@example.com", PHONE, named)).roles
    helpdesk = frozenset({"Helpdesk Operator"})
    assert (await directory.approval_for("UHANA", "hana@example.com", PHONE, helpdesk)).roles
    assert not (await directory.approval_for("UROB", "rob@example.com", PHONE, helpdesk)).roles


async def test_the_fake_answers_transitive_role_assignments_only_as_documented(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """Without ConsistencyLevel: eventual and $count=true, transitiveRoleAssignments is a 404."""
    emulator = await make_emulator()
    backend = make_backend(emulator)
    path = "beta/roleManagement/directory/transitiveRoleAssignments"
    query = {"$filter": "principalId eq 'x'"}
    status, _ = await backend.graph.get_json(
        path, params=query, headers={"ConsistencyLevel": "eventual"}, accept={404})
    assert status == 404
    status, _ = await backend.graph.get_json(
        path, params={**query, "$count": "true"}, headers={"ConsistencyLevel": "eventual"})
    assert status == 200
