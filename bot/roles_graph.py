"""Approver roles from the tenant itself: Entra role assignments and Intune RBAC, read
through Microsoft Graph (fact sheet shared/docs/intune-graph.md §7)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.backends.graph_http import GraphClient
from bot.ports import Clock
from policy.approval import CUSTOM_RESET_PASSCODE_ROLE, RESET_PASSCODE_PERMISSION, canonical_role
from policy.membership import email_key

logger = logging.getLogger(__name__)

# Entra built-in role template ids; for built-in roles an assignment's roleDefinitionId is the
# template id (§7.1).
ENTRA_ROLES: Mapping[str, str] = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "3a2c62db-5318-420d-8d74-23affee5d9d5": "Intune Administrator",
}
# Built-in Intune roles that count, by canonical name ("Help Desk Operator" -> "Helpdesk
# Operator", "Intune Role Administrator" -> "Role Administrator"); ids are not known to be the
# same in every tenant, so built-ins are recognised by isBuiltIn + displayName (§7.2).
BUILT_IN_INTUNE_ROLES = frozenset({"Helpdesk Operator", "Role Administrator"})
# Marker returned, with the role's own name, for a custom Intune role that allows
# Remote tasks / Reset passcode (product.md: such a role counts as permitted).
CUSTOM_RESET_ROLE = CUSTOM_RESET_PASSCODE_ROLE
TENANT_WIDE = "/"
CHECK_MEMBER_GROUPS_MAX = 20  # checkMemberGroups takes at most 20 group ids (§7.2)


class GraphRoleDirectory:
    """RoleDirectory reading a user's roles from Entra ID and Intune RBAC, cached briefly."""

    def __init__(
        self,
        graph: GraphClient,
        *,
        clock: Clock | None = None,
        ttl: timedelta = timedelta(seconds=60),
    ) -> None:
        """``graph`` is shared (one token, one connection pool); whoever made it closes it."""
        self.graph = graph
        self._clock: Clock = clock or graph.clock
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, frozenset[str]]] = {}
        self._principals: dict[str, tuple[datetime, str]] = {}
        self._rbac: tuple[datetime, dict[str, frozenset[str]]] | None = None

    async def roles_for(self, user_id: str, email: str) -> frozenset[str]:
        """The permitted-role names ``email`` holds; empty for a user the tenant does not know.
        Raises BackendError (retryable for outages and throttling) when Graph cannot say."""
        key = email_key(email)  # "" for an address outside ASCII: it never holds a role
        if not key:
            return frozenset()
        now = self._clock.now()
        cached = self._cache.get(key)
        if cached is not None and now < cached[0]:
            return cached[1]
        roles = await self._lookup(email.strip())
        self._cache[key] = (now + self._ttl, roles)
        logger.debug("roles for %s (%s): %s", user_id, key, ", ".join(sorted(roles)) or "none")
        return roles

    async def principal_of(self, user_id: str, email: str) -> str:
        """The Entra object id the email leads to (by UPN, else by mail), "" for none; cached
        for the TTL. A second Slack account under the person's UPN, mail or any alias leads
        to the same id: four eyes compares these."""
        key = email_key(email)
        if not key:
            return ""
        now = self._clock.now()
        cached = self._principals.get(key)
        if cached is not None and now < cached[0]:
            return cached[1]
        principal = await self._user_id(email.strip()) or ""
        self._principals[key] = (now + self._ttl, principal)
        return principal

    async def _lookup(self, email: str) -> frozenset[str]:
        principal = await self.principal_of("", email)
        if not principal:
            return frozenset()
        roles = set(await self._entra_roles(principal))
        rbac = await self._intune_role_groups()
        if rbac:
            for group in await self._member_groups(principal, list(rbac)):
                roles |= rbac.get(group, frozenset())
        return frozenset(roles)

    async def _user_id(self, email: str) -> str | None:
        """The Entra object id for a UPN, or else for a mail address; None if unknown."""
        select = {"$select": "id,userPrincipalName,mail"}
        status, body = await self.graph.get_json(
            f"v1.0/users/{quote(email, safe='@')}", params=select, accept={404}, what="the user"
        )
        if status != 404:
            return str(body.get("id") or "") or None
        # The Slack email may be the mail attribute rather than the UPN.
        _, found = await self.graph.get_json(
            "v1.0/users",
            params={**select, "$filter": f"mail eq '{email.replace(chr(39), chr(39) * 2)}'"},
            what="the user",
        )
        rows = [r for r in found.get("value") or [] if isinstance(r, dict)]
        if len(rows) != 1:
            return None
        return str(rows[0].get("id") or "") or None

    async def _entra_roles(self, principal: str) -> set[str]:
        """Global / Intune Administrator, tenant-wide, direct or through a role-assignable
        group: transitiveRoleAssignments (beta) needs ConsistencyLevel: eventual (§7.1)."""
        roles: set[str] = set()
        async for rows in self.graph.pages(
            "beta/roleManagement/directory/transitiveRoleAssignments",
            params={"$count": "true", "$filter": f"principalId eq '{principal}'"},
            headers={"ConsistencyLevel": "eventual"},
            what="the user's Entra roles",
        ):
            for row in rows:
                name = ENTRA_ROLES.get(str(row.get("roleDefinitionId") or "").lower())
                # An administrative-unit scope does not cover the tenant's devices (§7.1).
                if name and str(row.get("directoryScopeId") or "") == TENANT_WIDE:
                    roles.add(name)
        return roles

    async def _intune_role_groups(self) -> dict[str, frozenset[str]]:
        """Group id -> role names, for the Intune roles that count; cached for the TTL."""
        now = self._clock.now()
        if self._rbac is not None and now < self._rbac[0]:
            return self._rbac[1]
        groups: dict[str, set[str]] = {}
        async for definitions in self.graph.pages(
            "v1.0/deviceManagement/roleDefinitions", what="Intune role definitions"
        ):
            for definition in definitions:
                names = role_names(definition)
                if not names:
                    continue
                for member in await self._role_members(str(definition.get("id") or "")):
                    groups.setdefault(member, set()).update(names)
        result = {group: frozenset(names) for group, names in groups.items()}
        self._rbac = (now + self._ttl, result)
        return result

    async def _role_members(self, definition_id: str) -> set[str]:
        """Member group ids of every assignment of a role definition: the navigation listing
        lacks ``members``, so each assignment is read on its own (§7.2, Maester's pattern)."""
        members: set[str] = set()
        if not definition_id:
            return members
        definition = quote(definition_id, safe="")
        async for rows in self.graph.pages(
            f"v1.0/deviceManagement/roleDefinitions/{definition}/roleAssignments",
            what="Intune role assignments",
        ):
            for row in rows:
                assignment_id = str(row.get("id") or "")
                if not assignment_id:
                    continue
                _, assignment = await self.graph.get_json(
                    f"v1.0/deviceManagement/roleAssignments/{quote(assignment_id, safe='')}",
                    what="an Intune role assignment",
                )
                members.update(str(m) for m in assignment.get("members") or [] if m)
        return members

    async def _member_groups(self, principal: str, group_ids: list[str]) -> set[str]:
        """Which of ``group_ids`` the user is in, transitively (checkMemberGroups, §7.2)."""
        found: set[str] = set()
        for start in range(0, len(group_ids), CHECK_MEMBER_GROUPS_MAX):
            chunk = group_ids[start : start + CHECK_MEMBER_GROUPS_MAX]
            response = await self.graph.request(
                "POST",
                f"v1.0/users/{quote(principal, safe='')}/checkMemberGroups",
                json_body={"groupIds": chunk},
                what="the user's group membership",
            )
            body: Any = response.json()
            found.update(str(g) for g in (body.get("value") or []) if g)
        return found


def role_names(definition: Mapping[str, Any]) -> frozenset[str]:
    """The names an Intune role definition grants, or nothing if it does not count."""
    display = " ".join(str(definition.get("displayName") or "").split())
    built_in = definition.get("isBuiltIn", definition.get("isBuiltInRoleDefinition"))
    if built_in is True:
        canonical = canonical_role(display)
        return frozenset({canonical}) if canonical in BUILT_IN_INTUNE_ROLES else frozenset()
    if display and allows_reset(definition.get("rolePermissions") or []):
        # Prefixed, so a custom role named like a built-in one never passes for it.
        return frozenset({f"Intune custom role: {display}", CUSTOM_RESET_ROLE})
    return frozenset()


def allows_reset(permissions: Iterable[Any]) -> bool:
    """Whether rolePermissions allow Remote tasks / Reset passcode and do not deny it."""
    wanted = RESET_PASSCODE_PERMISSION.casefold()
    allowed = denied = False
    for permission in permissions:
        if not isinstance(permission, Mapping):
            continue
        for action in permission.get("resourceActions") or []:
            if not isinstance(action, Mapping):
                continue
            allowed |= wanted in _folded(action.get("allowedResourceActions"))
            denied |= wanted in _folded(action.get("notAllowedResourceActions"))
    return allowed and not denied


def _folded(values: object) -> set[str]:
    return {str(v).casefold() for v in values} if isinstance(values, list) else set()
