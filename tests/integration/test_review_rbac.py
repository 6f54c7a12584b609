"""Attacks from the review of issue 12's RBAC: the Graph adapters over real HTTPS against the
Graph fake, where the tenant's data is shaped to slip through a scope check."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from bot.roles_graph import GraphRoleDirectory
from tests.fakes import graph_api as emu
from tests.integration.test_graph_who import ANY, OTHER, PHONE, phone

if TYPE_CHECKING:
    from tests.integration.graph_fixtures import EmulatorFactory

pytest_plugins = ["tests.integration.graph_fixtures"]

MakeDirectory = Callable[..., GraphRoleDirectory]


async def test_a_device_graph_gives_no_scope_tags_carries_default_only(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    """Intune gives every object without a scope tag the Default tag ("0"): an assignment
    tagged "7" only does not see it. A device whose roleScopeTagIds Graph leaves out (or
    empty) must not be visible to every assignment."""
    emulator = await make_emulator([phone(roleScopeTagIds=["7"]), phone(OTHER)])
    nina = emulator.add_user("nina@example.com")
    emulator.assign_intune_role(emu.HELP_DESK_OPERATOR, [nina], scope_type="allDevices",
                                role_scope_tag_ids=["7"], display_name="Tag 7 helpdesk")
    directory = make_directory(emulator)
    assert (await directory.approval_for("UNINA", "nina@example.com", PHONE, ANY)).roles
    untagged = await directory.approval_for("UNINA", "nina@example.com", OTHER, ANY)
    assert (untagged.roles, untagged.missing) == (frozenset(), "scope_tag")


async def test_an_approver_whose_assignment_was_removed_is_refused_at_the_next_click(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    """A click reads the person and the device again; the role assignments must be read again
    too: an administrator who deletes an approver's Intune assignment expects the next click
    to be refused, not one a minute later from the directory the bot cached."""
    emulator = await make_emulator([phone()])
    rolf = emulator.add_user("rolf@example.com")
    assignment = emulator.assign_intune_role(emu.HELP_DESK_OPERATOR, [rolf],
                                             scope_type="allDevices")
    directory = make_directory(emulator)
    assert (await directory.approval_for("UROLF", "rolf@example.com", PHONE, ANY)).roles
    emulator.remove_intune_role_assignment(assignment)
    after = await directory.approval_for("UROLF", "rolf@example.com", PHONE, ANY)
    assert (after.roles, after.missing) == (frozenset(), "no_role")


async def test_an_entra_role_list_that_ignores_its_filter_makes_nobody_an_administrator(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    """transitiveRoleAssignments is asked for one principal's rows; if Graph ever ignored that
    filter (as it silently does for others), every row of the tenant would come back: the
    Global Administrator's must not be read as the clicker's. A role through a group the
    person is in still counts."""
    emulator = await make_emulator([phone()])
    ada = emulator.add_user("ada@example.com")
    emulator.add_user("mallory@example.com")
    ian = emulator.add_user("ian@example.com")
    group = "bbbbbbbb-0000-4000-8000-000000000001"
    emulator.add_group_member(group, ian)
    emulator.assign_directory_role(ada, emu.GLOBAL_ADMINISTRATOR)
    emulator.assign_directory_role(group, emu.INTUNE_ADMINISTRATOR)
    emulator.directory_filter_ignored = True
    directory = make_directory(emulator)
    mallory = await directory.approval_for("UMAL", "mallory@example.com", PHONE, ANY)
    assert (mallory.roles, mallory.missing) == (frozenset(), "no_role")
    assert (await directory.approval_for("UADA", "ada@example.com", PHONE, ANY)).roles == (
        frozenset({"Global Administrator"}))
    assert (await directory.approval_for("UIAN", "ian@example.com", PHONE, ANY)).roles == (
        frozenset({"Intune Administrator"}))
