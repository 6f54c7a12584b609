"""The Graph reads behind policy/intune_rbac.py: Intune role definitions and assignments (with
their scope groups, scope type and scope tags), a person's active Entra roles and groups, and
what places a device in a scope (fact sheet §7 and "Checked 2026-12", RBAC scope).

Which fact each read relies on:
- role definitions: ``rolePermissions[].resourceActions[].allowedResourceActions`` and
  ``notAllowedResourceActions`` (v1.0 and beta) [V];
- assignments: ``GET beta/deviceManagement/roleAssignments`` lists ``members``,
  ``resourceScopes``, ``scopeMembers``, ``scopeType``, ``roleScopeTagIds`` [V]; the link to
  the definition is the ``roleDefinitions/{id}/roleAssignments`` navigation, whose rows lack
  ``members`` [V/O], so the two are joined by assignment id;
- Entra roles: beta ``transitiveRoleAssignments`` needs ``ConsistencyLevel: eventual`` and
  ``$count=true`` (else 404), lists active assignments only, direct or through a group [V];
- membership: ``POST /users/{id}/checkMemberGroups`` and ``/devices/{id}/checkMemberGroups``
  (at most 20 ids, transitive) [V]; a managedDevice's Entra device is found by
  ``GET /devices?$filter=deviceId eq '{azureADDeviceId}'`` [V].
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from bot.backends.graph_http import GraphClient
from policy.intune_rbac import (
    ENTRA_ROLES,
    DeviceScope,
    Directory,
    Person,
    RoleAssignment,
    RoleDefinition,
)

CHECK_MEMBER_GROUPS_MAX = 20
TENANT_WIDE = "/"
_GUID_CHARS = frozenset("0123456789abcdefABCDEF-")


async def read_directory(graph: GraphClient) -> Directory:
    """Every Intune role definition and assignment, joined."""
    definitions: dict[str, RoleDefinition] = {}
    links: dict[str, str] = {}  # assignment id -> definition id
    async for rows in graph.pages("beta/deviceManagement/roleDefinitions",
                                  what="Intune role definitions"):
        for row in rows:
            definition = definition_of(row)
            if definition is not None:
                definitions[definition.id] = definition
    for definition_id in definitions:
        async for rows in graph.pages(
            f"beta/deviceManagement/roleDefinitions/{quote(definition_id, safe='')}"
            "/roleAssignments", what="Intune role assignments",
        ):
            links.update({str(r["id"]): definition_id for r in rows if r.get("id")})
    assignments: list[RoleAssignment] = []
    async for rows in graph.pages("beta/deviceManagement/roleAssignments",
                                  what="Intune role assignments"):
        for row in rows:
            assignment = assignment_of(row, links)
            if assignment is not None:
                assignments.append(assignment)
    return Directory(definitions, tuple(assignments))


def definition_of(row: Any) -> RoleDefinition | None:
    if not isinstance(row, dict) or not row.get("id"):
        return None
    allowed: set[str] = set()
    denied: set[str] = set()
    for permission in _list(row.get("rolePermissions")):
        for action in _list(permission.get("resourceActions") if isinstance(permission, dict)
                            else None):
            if isinstance(action, dict):
                allowed |= _folded(action.get("allowedResourceActions"))
                denied |= _folded(action.get("notAllowedResourceActions"))
    built_in = row.get("isBuiltIn", row.get("isBuiltInRoleDefinition"))
    return RoleDefinition(str(row["id"]), str(row.get("displayName") or ""), built_in is True,
                          frozenset(allowed), frozenset(denied))


def assignment_of(row: Any, links: dict[str, str]) -> RoleAssignment | None:
    """An assignment, linked to its definition (by the navigation, or an expanded
    roleDefinition); None when neither says which role it assigns."""
    if not isinstance(row, dict) or not row.get("id"):
        return None
    expanded = row.get("roleDefinition")
    definition = links.get(str(row["id"])) or (
        str(expanded.get("id") or "") if isinstance(expanded, dict) else "")
    if not definition:
        return None
    scopes = _texts(row.get("resourceScopes")) | _texts(row.get("scopeMembers"))
    return RoleAssignment(
        id=str(row["id"]), name=str(row.get("displayName") or row["id"]),
        definition_id=definition, members=_texts(row.get("members")),
        scope_type=str(row.get("scopeType") or "resourceScope"),
        scope_groups=scopes, scope_tags=_texts(row.get("roleScopeTagIds")),
    )


async def read_person(graph: GraphClient, principal: str, directory: Directory) -> Person:
    """The person's active tenant-wide Entra roles and which assignment members they are."""
    roles: set[str] = set()
    via: dict[str, set[str]] = {}  # a group's id -> the Entra roles it holds
    async for rows in graph.pages(
        "beta/roleManagement/directory/transitiveRoleAssignments",
        params={"$count": "true", "$filter": f"principalId eq '{principal}'"},
        headers={"ConsistencyLevel": "eventual"}, what="your Entra roles",
    ):
        for row in rows:
            role = str(row.get("roleDefinitionId") or "").lower()
            who = str(row.get("principalId") or "")
            # An administrative-unit scope does not cover the tenant's devices (§7.1).
            if role in ENTRA_ROLES and str(row.get("directoryScopeId") or "") == TENANT_WIDE:
                # The filter is re-checked, as every filter is ("Checked 2026-12", Filters): a
                # row is the person's own, or a group's they are in (checkMemberGroups below).
                if who == principal:
                    roles.add(role)
                elif who:
                    via.setdefault(who, set()).add(role)
    me = f"v1.0/users/{quote(principal, safe='')}"
    groups = directory.member_groups() - {principal}
    found = await member_groups(graph, me, groups | set(via))
    roles.update(r for g in found & set(via) for r in via[g])
    found = found & groups
    return Person(principal, frozenset(roles), found)


async def read_device_scope(graph: GraphClient, device_id: str, owner: str,
                            directory: Directory) -> DeviceScope:
    """The device's scope tags, and which assignment scope groups hold the device (its Entra
    device object) or its primary user ``owner``."""
    scope_groups = frozenset(g for a in directory.assignments for g in a.scope_groups)
    status, body = await graph.get_json(
        f"beta/deviceManagement/managedDevices/{quote(device_id, safe='')}",
        params={"$select": "id,roleScopeTagIds,azureADDeviceId"}, accept={404},
        what=f"device {device_id}",
    )
    if status == 404:
        return DeviceScope()
    tags = _texts(body.get("roleScopeTagIds"))
    groups: set[str] = set()
    if scope_groups and owner:
        groups |= await member_groups(graph, f"v1.0/users/{quote(owner, safe='')}",
                                      scope_groups)
    entra_device = await _entra_device(graph, str(body.get("azureADDeviceId") or ""))
    if scope_groups and entra_device:
        groups |= await member_groups(graph, f"v1.0/devices/{quote(entra_device, safe='')}",
                                      scope_groups)
    return DeviceScope(frozenset(groups), tags, bool(owner))


async def _entra_device(graph: GraphClient, azure_ad_device_id: str) -> str:
    """The Entra device object id for a managedDevice's azureADDeviceId ("" for none)."""
    wanted = azure_ad_device_id.strip()
    if not wanted or not set(wanted) <= _GUID_CHARS or wanted.strip("0-") == "":
        return ""
    _, body = await graph.get_json(
        "v1.0/devices", params={"$filter": f"deviceId eq '{wanted}'", "$select": "id,deviceId"},
        what="the device's Entra object",
    )
    rows = [r for r in _list(body.get("value")) if isinstance(r, dict)
            and str(r.get("deviceId") or "").lower() == wanted.lower() and r.get("id")]
    return str(rows[0]["id"]) if len(rows) == 1 else ""


@dataclass(frozen=True, slots=True)
class ScopeMembers:
    """Who a scope group holds, transitively: Entra devices by ``deviceId`` (a managedDevice's
    azureADDeviceId, lower-cased) and users by object id (a managedDevice's userId)."""

    devices: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()


async def read_scope_members(graph: GraphClient, group_ids: Iterable[str]
                             ) -> dict[str, ScopeMembers]:
    """Each scope group's transitive members (``GET /groups/{id}/transitiveMembers``, paged by
    @odata.nextLink; each row's ``@odata.type`` says user, device or group [V]). A group the
    directory no longer knows (404) holds no one."""
    found: dict[str, ScopeMembers] = {}
    for group in sorted(set(group_ids)):
        devices: set[str] = set()
        users: set[str] = set()
        url = f"v1.0/groups/{quote(group, safe='')}/transitiveMembers"
        query: dict[str, str] | None = {"$top": "999"}
        seen: set[str] = set()
        while True:
            status, body = await graph.get_json(url, params=query, accept={404},
                                                what="a scope group's members")
            if status == 404:
                break
            for row in _list(body.get("value")):
                if not isinstance(row, dict):
                    continue
                kind = str(row.get("@odata.type") or "").casefold()
                if kind == "#microsoft.graph.device" and isinstance(row.get("deviceId"), str):
                    devices.add(row["deviceId"].strip().lower())
                elif kind == "#microsoft.graph.user" and isinstance(row.get("id"), str):
                    users.add(row["id"].strip())
            next_link = body.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link or next_link in seen:
                break
            seen.add(next_link)
            url, query = next_link, None
        found[group] = ScopeMembers(frozenset(devices - {""}), frozenset(users - {""}))
    return found


def scope_of_listed(tags: frozenset[str], entra_device_id: str, user_id: str,
                    members: dict[str, ScopeMembers]) -> DeviceScope:
    """A listed device's DeviceScope from what the listing says and the groups' members."""
    groups = frozenset(g for g, m in members.items()
                       if (entra_device_id and entra_device_id in m.devices)
                       or (user_id and user_id in m.users))
    return DeviceScope(groups, tags, bool(user_id))


async def member_groups(graph: GraphClient, principal_path: str,
                        group_ids: Iterable[str]) -> frozenset[str]:
    """Which of ``group_ids`` the user or device is in, transitively (checkMemberGroups)."""
    ids = sorted(set(group_ids))
    found: set[str] = set()
    for start in range(0, len(ids), CHECK_MEMBER_GROUPS_MAX):
        chunk = ids[start : start + CHECK_MEMBER_GROUPS_MAX]
        response = await graph.request("POST", f"{principal_path}/checkMemberGroups",
                                       json_body={"groupIds": chunk},
                                       what="group membership")
        body: Any = response.json()
        value = body.get("value") if isinstance(body, dict) else None
        found.update(str(g) for g in _list(value) if g in chunk)
    return frozenset(found)


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _texts(value: object) -> frozenset[str]:
    return frozenset(str(v) for v in _list(value) if isinstance(v, str) and v.strip())


def _folded(values: object) -> set[str]:
    return {str(v).casefold() for v in _list(values)}
