"""GraphRoleDirectory against the Graph emulator over real HTTPS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bot.backends.graph import GraphBackend
from bot.backends.graph_http import GraphClient
from bot.clock import ManualClock
from bot.config import Settings
from bot.ports import BackendError
from bot.roles_graph import GraphRoleDirectory
from policy.approval import (
    GRAPH_PERMITTED_ROLES,
    RESET_PASSCODE_PERMISSION,
    RESET_PASSCODE_ROLE,
    Actor,
    holds_permitted_role,
)
from tests.fakes import graph_api as emu
from tests.fakes.graph_api import GraphEmulator

if TYPE_CHECKING:
    from tests.integration.graph_fixtures import EmulatorFactory, RecordingSleep

# The fixtures (test CA, emulator, backend factories) live in graph_fixtures.
pytest_plugins = ["tests.integration.graph_fixtures"]

MakeDirectory = Callable[..., GraphRoleDirectory]
HELPDESK_GROUP = "aaaaaaaa-0000-4000-8000-000000000001"
NESTED_GROUP = "aaaaaaaa-0000-4000-8000-000000000002"


RESET_ROLE = RESET_PASSCODE_ROLE


def permitted(roles: frozenset[str]) -> bool:
    """What the approval policy (graph mode's default permitted roles) makes of these."""
    return holds_permitted_role(Actor("U1", "x@example.com", roles), GRAPH_PERMITTED_ROLES)


async def test_global_administrator_comes_from_entra(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    ada = emulator.add_user("ada@example.com")
    emulator.assign_directory_role(ada, emu.GLOBAL_ADMINISTRATOR)
    directory = make_directory(emulator)
    roles = await directory.roles_for("U1", "Ada@Example.com")
    assert roles == frozenset({"Global Administrator"})
    assert permitted(roles)
    transitive = [h for _, p, _, h in emulator.requests if p.endswith("/transitiveRoleAssignments")]
    assert transitive and transitive[0]["consistencylevel"] == "eventual"


async def test_intune_administrator_through_a_role_assignable_group(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    ian = emulator.add_user("ian@example.com")
    group = "bbbbbbbb-0000-4000-8000-000000000001"
    emulator.add_group_member(group, ian)
    emulator.assign_directory_role(group, emu.INTUNE_ADMINISTRATOR)
    directory = make_directory(emulator)
    assert await directory.roles_for("U2", "ian@example.com") == frozenset({"Intune Administrator"})


async def test_role_scoped_to_an_administrative_unit_does_not_count(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    user = emulator.add_user("au@example.com")
    emulator.assign_directory_role(
        user, emu.GLOBAL_ADMINISTRATOR, directory_scope_id="/administrativeUnits/123"
    )
    directory = make_directory(emulator)
    assert await directory.roles_for("U3", "au@example.com") == frozenset()


async def test_helpdesk_operator_through_intune_rbac_group_membership(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    hana = emulator.add_user("hana@example.com")
    rob = emulator.add_user("rob@example.com")
    reader = emulator.add_user("reader@example.com")
    # Hana is in the helpdesk group through a nested group: checkMemberGroups is transitive.
    emulator.add_group_member(NESTED_GROUP, hana)
    emulator.add_group_member(HELPDESK_GROUP, NESTED_GROUP)
    emulator.assign_intune_role(emu.HELP_DESK_OPERATOR, [HELPDESK_GROUP])
    roles_group = "cccccccc-0000-4000-8000-000000000001"
    emulator.add_group_member(roles_group, rob)
    emulator.assign_intune_role(emu.INTUNE_ROLE_ADMINISTRATOR, [roles_group])
    readers = "cccccccc-0000-4000-8000-000000000002"
    emulator.add_group_member(readers, reader)
    emulator.assign_intune_role(emu.READ_ONLY_OPERATOR, [readers])
    emulator.assign_intune_role(emu.SCHOOL_ADMINISTRATOR, [readers])
    directory = make_directory(emulator)

    assert await directory.roles_for("U4", "hana@example.com") == frozenset(
        {"Helpdesk Operator", RESET_ROLE})
    # Intune Role Administrator has no remote tasks (ref-built-in-roles.md 02/2026): nothing.
    assert await directory.roles_for("U5", "rob@example.com") == frozenset()
    # School Administrator is judged by its permissions too: it allows Reset passcode.
    assert await directory.roles_for("U6", "reader@example.com") == frozenset(
        {"School Administrator", RESET_ROLE})
    checks = [p for m, p, _, _ in emulator.requests if p.endswith("/checkMemberGroups")]
    assert checks and all(p.startswith("/v1.0/users/") for p in checks)


async def test_custom_role_with_the_reset_permission_counts(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    cleo = emulator.add_user("cleo@example.com")
    squad = emulator.add_role_definition(
        "Reset Squad", ["Microsoft.Intune_ManagedDevices_Read", RESET_PASSCODE_PERMISSION]
    )
    group = "dddddddd-0000-4000-8000-000000000001"
    emulator.add_group_member(group, cleo)
    emulator.assign_intune_role(squad, [group])
    directory = make_directory(emulator)
    roles = await directory.roles_for("U7", "cleo@example.com")
    assert roles == frozenset({"Intune custom role: Reset Squad", RESET_ROLE})
    assert permitted(roles)


async def test_custom_role_without_the_reset_permission_gives_nothing(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    dan = emulator.add_user("dan@example.com")
    lockers = emulator.add_role_definition("Lockers", ["Microsoft.Intune_RemoteTasks_RemoteLock"])
    denied = emulator.add_role_definition(
        "Denied",
        [RESET_PASSCODE_PERMISSION],
        not_allowed_actions=[RESET_PASSCODE_PERMISSION],
    )
    impostor = emulator.add_role_definition("Help Desk Operator", [])  # custom, same name
    group = "eeeeeeee-0000-4000-8000-000000000001"
    emulator.add_group_member(group, dan)
    for definition in (lockers, denied, impostor):
        emulator.assign_intune_role(definition, [group])
    directory = make_directory(emulator)
    assert await directory.roles_for("U8", "dan@example.com") == frozenset()


async def test_unknown_user_has_no_roles(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    directory = make_directory(emulator)
    assert await directory.roles_for("U9", "nobody@example.com") == frozenset()
    assert await directory.roles_for("U9", "") == frozenset()


async def test_user_found_by_mail_when_the_upn_differs(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    eva = emulator.add_user("eva.k@contoso.onmicrosoft.com", mail="eva@example.com")
    emulator.assign_directory_role(eva, emu.GLOBAL_ADMINISTRATOR)
    directory = make_directory(emulator)
    assert await directory.roles_for("U10", "eva@example.com") == frozenset(
        {"Global Administrator"}
    )


async def test_results_are_cached_for_the_ttl(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory, clock: ManualClock
) -> None:
    emulator = await make_emulator()
    ada = emulator.add_user("ada@example.com")
    emulator.assign_directory_role(ada, emu.GLOBAL_ADMINISTRATOR)
    directory = make_directory(emulator, clock=clock, ttl=timedelta(seconds=60))
    first = await directory.roles_for("U1", "ada@example.com")
    seen = len(emulator.requests)
    assert await directory.roles_for("U1", "ADA@example.com") == first
    clock.advance(timedelta(seconds=59))
    assert await directory.roles_for("U1", "ada@example.com") == first
    assert len(emulator.requests) == seen  # no Graph call within the TTL
    clock.advance(timedelta(seconds=2))
    await directory.roles_for("U1", "ada@example.com")
    assert len(emulator.requests) > seen


async def test_graph_outage_is_a_retryable_error(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory, sleep: RecordingSleep
) -> None:
    emulator = await make_emulator()
    emulator.add_user("ada@example.com")
    directory = make_directory(emulator)
    await directory.roles_for("U0", "warmup@example.com")  # token in hand
    emulator.set_down(True)
    with pytest.raises(BackendError) as caught:
        await directory.roles_for("U1", "ada@example.com")
    assert caught.value.retryable
    assert sleep.calls  # it did retry before giving up


async def test_missing_permission_is_not_retryable(
    make_emulator: EmulatorFactory, make_directory: MakeDirectory
) -> None:
    emulator = await make_emulator()
    emulator.add_user("ada@example.com")
    emulator.fail_next("transitiveRoleAssignments", 403)
    directory = make_directory(emulator)
    with pytest.raises(BackendError) as caught:
        await directory.roles_for("U1", "ada@example.com")
    assert not caught.value.retryable


async def test_backend_and_directory_can_share_one_graph_client(
    make_emulator: EmulatorFactory, sleep: RecordingSleep
) -> None:
    """One token and one connection pool for both (bootstrap wiring)."""
    emulator: GraphEmulator = await make_emulator()
    ada = emulator.add_user("ada@example.com")
    emulator.assign_directory_role(ada, emu.GLOBAL_ADMINISTRATOR)
    settings = Settings(_env_file=None, **emulator.settings_overrides())  # type: ignore[call-arg]
    graph = GraphClient.from_settings(settings, sleep=sleep)
    try:
        backend = GraphBackend(graph)
        directory = GraphRoleDirectory(graph)
        assert await backend.search_devices("") == []
        assert await directory.roles_for("U1", "ada@example.com") == frozenset(
            {"Global Administrator"}
        )
        assert len(emulator.token_requests) == 1
        await backend.aclose()
        assert await directory.roles_for("U1", "ada@example.com")  # client still open
    finally:
        await graph.aclose()
