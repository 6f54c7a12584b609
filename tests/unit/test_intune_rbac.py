"""policy/intune_rbac.py and policy.membership.match_directory_user: the pure decisions of who
a person is and who Intune would let reset a device (issue 12, points 1 and 3)."""

from __future__ import annotations

import pytest

from policy.approval import RESET_PASSCODE_ROLE
from policy.intune_rbac import (
    RESET_PASSCODE,
    DeviceScope,
    Directory,
    Missing,
    Person,
    RoleAssignment,
    RoleDefinition,
    approver_roles,
    judge,
    reach,
    roles_held,
)
from policy.membership import DirectoryEntry, NoDirectoryUser, match_directory_user

RESET = RESET_PASSCODE.casefold()
HDO = RoleDefinition("hdo", "Help Desk Operator", True, frozenset({RESET}))
IRA = RoleDefinition("ira", "Intune Role Administrator", True, frozenset({"x_roles_read"}))
FAKE = RoleDefinition("fake", "Global Administrator", False, frozenset({"x_roles_read"}))
DENY = RoleDefinition("deny", "Denied", False, frozenset({RESET}), frozenset({RESET}))
DEFS = {d.id: d for d in (HDO, IRA, FAKE, DENY)}
ME = Person("me", groups=frozenset({"g-desk"}))


def assignment(definition: str, **kw: object) -> RoleAssignment:
    values: dict[str, object] = {"members": frozenset({"g-desk"}), "scope_type": "allDevices"}
    values.update(kw)
    return RoleAssignment(f"a-{definition}", f"assignment {definition}", definition,
                          **values)  # type: ignore[arg-type]


def test_a_role_allowing_the_reset_on_all_devices_is_enough() -> None:
    found = judge(ME, Directory(DEFS, (assignment("hdo"),)), DeviceScope())
    assert found.roles == frozenset({"Helpdesk Operator", RESET_PASSCODE_ROLE})


@pytest.mark.parametrize(("scope", "device", "allowed"), [
    ({"scope_type": "resourceScope", "scope_groups": frozenset({"se"})},
     DeviceScope(frozenset({"se"})), True),
    ({"scope_type": "resourceScope", "scope_groups": frozenset({"se"})},
     DeviceScope(frozenset({"it"})), False),
    ({"scope_type": "resourceScope"}, DeviceScope(frozenset({"se"})), False),  # no groups
    ({"scope_type": "allLicensedUsers"}, DeviceScope(has_primary_user=True), True),
    ({"scope_type": "allLicensedUsers"}, DeviceScope(), False),  # userless
    ({"scope_type": "allDevicesAndLicensedUsers"}, DeviceScope(), True),
    ({"scope_type": "unknownFutureValue"}, DeviceScope(), False),
])
def test_the_scope_must_cover_the_device(scope: dict[str, object], device: DeviceScope,
                                         allowed: bool) -> None:
    found = judge(ME, Directory(DEFS, (assignment("hdo", **scope),)), device)
    assert bool(found) is allowed
    if not allowed:
        assert found.missing is Missing.SCOPE and found.detail == ("assignment hdo",)


@pytest.mark.parametrize(("device_tags", "assignment_tags", "allowed"), [
    (frozenset(), frozenset(), True),
    (frozenset({"7"}), frozenset(), False),  # an untagged assignment carries Default only
    (frozenset({"0"}), frozenset(), True),
    (frozenset({"7"}), frozenset({"7", "9"}), True),
    (frozenset({"7"}), frozenset({"9"}), False),
])
def test_a_tagged_device_needs_a_shared_scope_tag(
    device_tags: frozenset[str], assignment_tags: frozenset[str], allowed: bool
) -> None:
    found = judge(ME, Directory(DEFS, (assignment("hdo", scope_tags=assignment_tags),)),
                  DeviceScope(tags=device_tags))
    assert bool(found) is allowed
    if not allowed:
        assert found.missing is Missing.SCOPE_TAG


def test_roles_without_the_permission_or_denying_it_give_nothing() -> None:
    for definition in ("ira", "deny", "fake"):
        found = judge(ME, Directory(DEFS, (assignment(definition),)), DeviceScope())
        assert (found.roles, found.missing) == (frozenset(), Missing.PERMISSION)
    # A custom role named like an Entra role is labelled as custom: it never passes for one.
    assert roles_held(ME, Directory(DEFS, (assignment("fake"),))) == frozenset()


def test_an_assignment_that_does_not_include_the_person_gives_nothing() -> None:
    other = Person("other", groups=frozenset({"g-else"}))
    found = judge(other, Directory(DEFS, (assignment("hdo"),)), DeviceScope())
    assert (found.roles, found.missing) == (frozenset(), Missing.ROLE)
    direct = Person("me")  # named in members directly (some tenants) counts
    assert judge(direct, Directory(DEFS, (assignment("hdo", members=frozenset({"me"})),)),
                 DeviceScope())


def test_entra_administrators_need_no_intune_assignment_and_others_are_ignored() -> None:
    admin = Person("me", entra_roles=frozenset({"3a2c62db-5318-420d-8d74-23affee5d9d5",
                                                "729827e3-9c14-49f7-bb1b-9608f156bbb8"}))
    assert judge(admin, Directory(), DeviceScope(tags=frozenset({"7"}))).roles == frozenset(
        {"Intune Administrator"})


def test_approver_roles_lists_the_roles_whose_scope_covers_the_device() -> None:
    directory = Directory(DEFS, (
        assignment("hdo", scope_type="resourceScope", scope_groups=frozenset({"se"})),
        assignment("ira"),
    ))
    assert approver_roles(directory, DeviceScope(frozenset({"se"}))) == (
        "Global Administrator", "Intune Administrator", "Helpdesk Operator")
    assert approver_roles(directory, DeviceScope()) == (
        "Global Administrator", "Intune Administrator")


# -- who a person is ----------------------------------------------------------------------------


def test_the_upn_wins_then_the_mail_and_two_are_never_a_guess() -> None:
    by_upn = DirectoryEntry("1", "Kim@Example.com", "kim.k@example.com")
    by_mail = DirectoryEntry("2", "kim.x@contoso.com", "kim@example.com")
    assert match_directory_user("kim@example.COM", [by_mail, by_upn]) == by_upn
    assert match_directory_user("kim@example.com", [by_mail]) == by_mail
    twin = DirectoryEntry("3", "kim.y@contoso.com", "kim@example.com")
    assert match_directory_user("kim@example.com", [by_mail, twin]) is NoDirectoryUser.AMBIGUOUS
    assert match_directory_user("nobody@example.com", [by_upn]) is NoDirectoryUser.NONE


def test_a_loose_directory_answer_is_rechecked_exactly() -> None:
    """A filter that matched a substring or folded more than ASCII finds no one here."""
    near = [DirectoryEntry("1", "xkim@example.com", "kim@example.co"),
            DirectoryEntry("2", "KİM@example.com", "")]  # dotted capital I: not ASCII
    assert match_directory_user("kim@example.com", near) is NoDirectoryUser.NONE
    assert match_directory_user("", near) is NoDirectoryUser.NONE


# -- reach: which devices the picker and the approvals queue show (what judge would allow) ---

REACH_ASSIGNMENTS = [
    assignment("hdo", scope_type="resourceScope", scope_groups=frozenset({"se"})),
    assignment("hdo", scope_type="resourceScope", scope_groups=frozenset({"se"}),
               scope_tags=frozenset({"7"})),
    assignment("hdo", scope_tags=frozenset({"7", "0"})),
    assignment("hdo", scope_type="allLicensedUsers"),
    assignment("ira"),  # no Reset passcode: reaches nothing
    assignment("deny"),
    assignment("hdo", members=frozenset({"someone-else"})),  # not theirs
]
REACH_DEVICES = [
    DeviceScope(), DeviceScope(frozenset({"se"})), DeviceScope(frozenset({"se"}), frozenset({"7"})),
    DeviceScope(frozenset({"it"}), frozenset({"0"}), True), DeviceScope(tags=frozenset({"9"})),
]


@pytest.mark.parametrize("held", [(a,) for a in REACH_ASSIGNMENTS] + [
    tuple(REACH_ASSIGNMENTS[:2]), tuple(REACH_ASSIGNMENTS[3:])])
@pytest.mark.parametrize("device", REACH_DEVICES)
def test_reach_admits_exactly_the_devices_judge_allows(
    held: tuple[RoleAssignment, ...], device: DeviceScope,
) -> None:
    directory = Directory(DEFS, held)
    assert reach(ME, directory).admits(device) is bool(judge(ME, directory, device))


def test_an_entra_administrator_reaches_every_device_and_a_scoped_role_its_scope() -> None:
    admin = Person("me", frozenset({"62e90394-69f5-4237-9190-012177145e10"}))
    assert reach(admin, Directory(DEFS, ())).everything
    scoped = Directory(DEFS, (assignment("hdo", scope_type="resourceScope",
                                         scope_groups=frozenset({"se"})),))
    found = reach(ME, scoped)
    assert not found.everything and found.scope_groups == frozenset({"se"})
    assert found.admits(DeviceScope(frozenset({"se"})))
    assert not found.admits(DeviceScope(frozenset({"it"})))
    no_permission = Directory(DEFS, (assignment("ira", scope_type="resourceScope",
                                                scope_groups=frozenset({"se"})),))
    assert not reach(ME, no_permission).admits(DeviceScope(frozenset({"se"})))
