"""Who Intune would let reset the passcode of one device: the pure decision over what the
directory says (fact sheet shared/docs/intune-graph.md §7 and "Checked 2026-12").

Data in (role definitions, role assignments, the person's Entra roles and groups, the device's
scope facts), a verdict out: allowed through which role, or the permission or scope missing.
The Graph reads that gather the facts live in bot/roles_graph.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from policy.approval import RESET_PASSCODE_ROLE, canonical_role

RESET_PASSCODE = "Microsoft.Intune_RemoteTasks_ResetPasscode"
# Entra built-in role template ids: active, tenant-wide (directoryScopeId "/") they manage all
# of Intune (fact sheet §7.1). For built-in roles an assignment's roleDefinitionId is this id.
ENTRA_ROLES: Mapping[str, str] = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
}
DEFAULT_TAG = "0"  # Intune's "Default" scope tag: what an assignment without tags carries


class ScopeType(StrEnum):
    """beta deviceAndAppManagementRoleAssignment.scopeType (v1.0 has none: resourceScope)."""

    RESOURCE_SCOPE = "resourceScope"
    ALL_DEVICES = "allDevices"
    ALL_LICENSED_USERS = "allLicensedUsers"
    ALL_DEVICES_AND_LICENSED_USERS = "allDevicesAndLicensedUsers"


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    id: str
    name: str
    built_in: bool = False
    allowed: frozenset[str] = frozenset()  # allowedResourceActions, case-folded
    denied: frozenset[str] = frozenset()  # notAllowedResourceActions, case-folded

    @property
    def label(self) -> str:
        """The role's name as the bot speaks of it: a built-in by its own (canonical) name; a
        custom one prefixed, so a custom role named like a built-in never passes for it."""
        name = " ".join(self.name.split())
        return canonical_role(name) if self.built_in else f"Intune custom role: {name}"

    def allows(self, action: str = RESET_PASSCODE) -> bool:
        """Allowed and not denied: within a definition a deny wins."""
        wanted = action.casefold()
        return wanted in self.allowed and wanted not in self.denied


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    id: str
    name: str
    definition_id: str
    members: frozenset[str] = frozenset()  # group ids (some tenants: user ids)
    scope_type: str = ScopeType.RESOURCE_SCOPE.value
    scope_groups: frozenset[str] = frozenset()  # resourceScopes (+ beta scopeMembers)
    scope_tags: frozenset[str] = frozenset()  # roleScopeTagIds


@dataclass(frozen=True, slots=True)
class Person:
    """The person as the directory knows them: their id, their active tenant-wide Entra role
    template ids, and which of the groups asked about they are in (transitively)."""

    id: str
    entra_roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DeviceScope:
    """What decides whether an assignment's scope covers the device: the scope groups that
    contain the device or its primary user, its scope tags, whether it has a primary user."""

    groups: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    has_primary_user: bool = False


class Missing(StrEnum):
    """What a refused person lacks; each has its own words at the surface."""

    ROLE = "no_role"  # no Entra role and no Intune assignment includes them
    PERMISSION = "permission"  # their roles do not allow Remote tasks / Reset passcode
    SCOPE = "scope"  # a role allows it, but no assignment's scope groups cover the device
    SCOPE_TAG = "scope_tag"  # ... the scope covers it, but no assignment shares a scope tag


@dataclass(frozen=True, slots=True)
class RbacVerdict:
    roles: frozenset[str] = frozenset()  # the roles that let them, for this device
    missing: Missing | None = None
    detail: tuple[str, ...] = ()  # role or assignment names the refusal is about

    def __bool__(self) -> bool:
        return bool(self.roles)


@dataclass(frozen=True, slots=True)
class Directory:
    """Role definitions and assignments, by id (read once, cached)."""

    definitions: Mapping[str, RoleDefinition] = field(default_factory=dict)
    assignments: tuple[RoleAssignment, ...] = ()

    def member_groups(self) -> frozenset[str]:
        """Every principal id some assignment names: what to ask checkMemberGroups about."""
        return frozenset(m for a in self.assignments for m in a.members)


def includes(assignment: RoleAssignment, person: Person) -> bool:
    return person.id in assignment.members or bool(assignment.members & person.groups)


def covers(assignment: RoleAssignment, device: DeviceScope) -> bool:
    """Whether the assignment's scope (scope type, or its scope groups) covers the device.
    allLicensedUsers is taken to cover a device with a primary user (licensing is not read);
    an unknown scope type covers nothing."""
    kind = assignment.scope_type or ScopeType.RESOURCE_SCOPE.value
    if kind in (ScopeType.ALL_DEVICES, ScopeType.ALL_DEVICES_AND_LICENSED_USERS):
        return True
    if kind == ScopeType.ALL_LICENSED_USERS:
        return device.has_primary_user
    if kind == ScopeType.RESOURCE_SCOPE:
        return bool(assignment.scope_groups & device.groups)
    return False


def shares_tag(assignment: RoleAssignment, device: DeviceScope) -> bool:
    """Whether the assignment shares a scope tag with the device. Intune gives an object without
    tags the Default tag ("0"), on either side: a device Graph reports without tags is seen
    only by an assignment carrying Default (as one without tags does), never by every one."""
    default = frozenset({DEFAULT_TAG})
    return bool((assignment.scope_tags or default) & (device.tags or default))


def judge(person: Person, directory: Directory, device: DeviceScope) -> RbacVerdict:
    """Whether Intune would let ``person`` reset this device's passcode, and through which
    roles. Entra Global / Intune Administrator (active, tenant-wide) always; otherwise an
    assignment that includes them, whose definition allows Reset passcode, whose scope covers
    the device and which shares a scope tag with it. (PERMITTED_ROLES may narrow that to the
    roles it names, never widen it.) Refused: the furthest step any assignment got."""
    granted = {ENTRA_ROLES[r] for r in person.entra_roles if r in ENTRA_ROLES}
    mine = [a for a in directory.assignments if includes(a, person)]
    permitted = _permitted(mine, directory)
    in_scope = [(a, d) for a, d in permitted if covers(a, device)]
    for assignment, definition in in_scope:
        if shares_tag(assignment, device):
            granted.add(definition.label)
            if definition.allows():
                granted.add(RESET_PASSCODE_ROLE)
    if granted:
        return RbacVerdict(frozenset(granted))
    if in_scope:
        return RbacVerdict(missing=Missing.SCOPE_TAG, detail=_names(a for a, _ in in_scope))
    if permitted:
        return RbacVerdict(missing=Missing.SCOPE, detail=_names(a for a, _ in permitted))
    if mine:
        held = (directory.definitions.get(a.definition_id) for a in mine)
        return RbacVerdict(missing=Missing.PERMISSION,
                           detail=tuple(sorted({d.label for d in held if d is not None})))
    return RbacVerdict(missing=Missing.ROLE)


def roles_held(person: Person, directory: Directory) -> frozenset[str]:
    """The roles the person holds that could let them reset some device (scope not asked):
    who counts as the helpdesk when asking for someone else's device."""
    found = {ENTRA_ROLES[r] for r in person.entra_roles if r in ENTRA_ROLES}
    for assignment in directory.assignments:
        definition = directory.definitions.get(assignment.definition_id)
        if definition is None or not includes(assignment, person):
            continue
        if definition.allows():
            found |= {definition.label, RESET_PASSCODE_ROLE}
    return frozenset(found)


def approver_roles(directory: Directory, device: DeviceScope) -> tuple[str, ...]:
    """The roles whose holders could approve for this device (membership aside): the Entra
    roles, then each role allowing Reset passcode with an assignment whose scope and tags
    cover the device."""
    names: set[str] = set()
    for assignment in directory.assignments:
        definition = directory.definitions.get(assignment.definition_id)
        if definition is None or not definition.allows():
            continue
        if covers(assignment, device) and shares_tag(assignment, device):
            names.add(definition.label)
    return (*ENTRA_ROLES.values(), *sorted(names))


@dataclass(frozen=True, slots=True)
class Reach:
    """Which devices a person may reset, as ``judge`` would find: every device (an Entra
    role), or those some of ``assignments`` (theirs that allow it) covers and shares a tag
    with. What the picker and the approvals queue show them."""

    everything: bool = False
    assignments: tuple[RoleAssignment, ...] = ()

    @property
    def scope_groups(self) -> frozenset[str]:
        """The scope groups whose members decide (read them for ``admits``)."""
        return frozenset(g for a in self.assignments for g in a.scope_groups)

    def admits(self, device: DeviceScope) -> bool:
        return self.everything or any(covers(a, device) and shares_tag(a, device)
                                      for a in self.assignments)


def reach(person: Person, directory: Directory) -> Reach:
    """The person's reach over the fleet (see Reach): the assignments ``judge`` would try."""
    if any(r in ENTRA_ROLES for r in person.entra_roles):
        return Reach(everything=True)
    mine = [a for a in directory.assignments if includes(a, person)]
    return Reach(assignments=tuple(a for a, _ in _permitted(mine, directory)))


def _permitted(mine: Iterable[RoleAssignment], directory: Directory
               ) -> list[tuple[RoleAssignment, RoleDefinition]]:
    """The assignments whose definition allows Reset passcode."""
    permitted: list[tuple[RoleAssignment, RoleDefinition]] = []
    for assignment in mine:
        definition = directory.definitions.get(assignment.definition_id)
        if definition is not None and definition.allows():
            permitted.append((assignment, definition))
    return permitted


def _names(assignments: Iterable[RoleAssignment]) -> tuple[str, ...]:
    return tuple(sorted({a.name for a in assignments}))

