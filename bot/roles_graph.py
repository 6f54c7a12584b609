"""Approver roles from the tenant itself, as Intune decides them: Entra Global / Intune
Administrator (active, tenant-wide), or an Intune role assignment that includes the person,
whose role allows Remote tasks / Reset passcode and whose scope covers the device (fact sheet
shared/docs/intune-graph.md §7, "Checked 2026-12"). The decision is policy/intune_rbac.py's;
the reads are bot/rbac_graph.py's; the people are bot/people.py's."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.backends.graph_http import GraphClient
from bot.backends.owners import GraphOwners
from bot.people import GraphPeople
from bot.ports import ApprovalCheck, Approvers, Clock, Device, DeviceFilter
from bot.rbac_graph import (
    ScopeMembers,
    read_device_scope,
    read_directory,
    read_person,
    read_scope_members,
    scope_of_listed,
)
from policy import intune_rbac
from policy.approval import RESET_PASSCODE_ROLE, Actor, canonical_role, holds_permitted_role
from policy.intune_rbac import DEFAULT_TAG, Directory, Person, Reach, ScopeType

logger = logging.getLogger(__name__)

CUSTOM_RESET_ROLE = RESET_PASSCODE_ROLE  # its former name, for callers that import it


class GraphRoleDirectory:
    """RoleDirectory over Entra ID and Intune RBAC. The role directory (definitions and
    assignments) and each person's facts are cached for ``ttl``; a click (``approval_for``)
    reads the person, the device and the directory again."""

    def __init__(
        self,
        graph: GraphClient,
        *,
        clock: Clock | None = None,
        ttl: timedelta = timedelta(seconds=60),
        people: GraphPeople | None = None,
    ) -> None:
        """``graph`` and ``people`` are shared; whoever made them closes them."""
        self.graph = graph
        self._clock: Clock = clock or graph.clock
        self._ttl = ttl
        self.people = people or GraphPeople(graph, clock=self._clock, ttl=ttl)
        self._owners = GraphOwners(graph)
        self._directory: tuple[datetime, Directory] | None = None
        self._persons: dict[str, tuple[datetime, Person]] = {}
        self._filters: dict[str, tuple[datetime, DeviceFilter | None]] = {}

    async def principal_of(self, user_id: str, email: str) -> str:
        """The Entra object id of the one user the email leads to, "" for none or several:
        four eyes compares these across Slack accounts."""
        return (await self.people.identify(email)).user_id

    async def roles_for(self, user_id: str, email: str) -> frozenset[str]:
        """The roles the person holds that let them reset some device (scope aside): who
        counts as the helpdesk. Empty for a user the tenant does not know. Raises
        BackendError (retryable for outages and throttling) when Graph cannot say."""
        person = await self._person(email, fresh=False)
        if person is None:
            return frozenset()
        roles = intune_rbac.roles_held(person, await self._read_directory())
        logger.debug("roles for %s: %s", user_id, ", ".join(sorted(roles)) or "none")
        return roles

    async def approval_for(
        self, user_id: str, email: str, device_id: str, permitted: frozenset[str]
    ) -> ApprovalCheck:
        """Whether Intune would let the person reset this device, read again now: the role
        assignments too, so an assignment deleted a moment ago no longer counts."""
        directory = await self._read_directory(fresh=True)
        person = await self._person(email, fresh=True)
        if person is None:
            return ApprovalCheck(missing=intune_rbac.Missing.ROLE.value)
        owner = (await self._owners.owner_of(device_id)).user_id
        device = await read_device_scope(self.graph, device_id, owner, directory)
        verdict = intune_rbac.judge(person, directory, device)
        roles = verdict.roles
        if roles and not holds_permitted_role(Actor(user_id, email, roles), permitted):
            return ApprovalCheck(missing=intune_rbac.Missing.ROLE.value,
                                 detail=tuple(sorted(roles - {RESET_PASSCODE_ROLE})))
        if not roles:
            return ApprovalCheck(missing=str(verdict.missing or intune_rbac.Missing.ROLE),
                                 detail=verdict.detail)
        return ApprovalCheck(roles)

    async def approvers_for(self, device_id: str, permitted: frozenset[str]) -> Approvers:
        """The roles whose holders could approve for this device (who holds them is not
        listed: Intune's groups may be large)."""
        directory = await self._read_directory()
        owner = (await self._owners.owner_of(device_id)).user_id
        device = await read_device_scope(self.graph, device_id, owner, directory)
        wanted = {canonical_role(r).lower() for r in permitted}
        names = intune_rbac.approver_roles(directory, device)
        entra = [n for n in names if n in intune_rbac.ENTRA_ROLES.values()]
        kept = [n for n in entra if n.lower() in wanted]
        if RESET_PASSCODE_ROLE.lower() in wanted:
            kept += [n for n in names if n not in entra]
        else:
            kept += [n for n in names if n not in entra and n.lower() in wanted]
        return Approvers(tuple(kept))

    async def device_filter(self, user_id: str, email: str) -> DeviceFilter | None:
        """Which devices the person's picker and approvals queue show: None (all) for an
        active tenant-wide Entra role; else those their assignments allowing Reset passcode
        cover and share a tag with (policy's ``reach``), from each listed device's tags,
        Entra device and user against the scope groups' members. Read once per ``ttl`` per
        person, then a set lookup per device; a person the tenant does not know sees none."""
        identity = await self.people.identify(email)
        now = self._clock.now()
        cached = self._filters.get(identity.user_id)
        if cached is not None and now < cached[0]:
            return cached[1]
        person = await self._person(email, fresh=False)
        keep: DeviceFilter | None
        if person is None:
            keep = DeviceFilter(_none, frozenset(), frozenset())
        else:
            reach = intune_rbac.reach(person, await self._read_directory())
            keep = None if reach.everything else _scoped(
                reach, await read_scope_members(self.graph, reach.scope_groups))
        self._filters[identity.user_id] = (now + self._ttl, keep)
        return keep

    async def _person(self, email: str, *, fresh: bool) -> Person | None:
        identity = await self.people.identify(email)
        if not identity.user_id:
            return None
        now = self._clock.now()
        cached = self._persons.get(identity.user_id)
        if not fresh and cached is not None and now < cached[0]:
            return cached[1]
        person = await read_person(self.graph, identity.user_id, await self._read_directory())
        self._persons[identity.user_id] = (now + self._ttl, person)
        return person

    async def _read_directory(self, *, fresh: bool = False) -> Directory:
        now = self._clock.now()
        if not fresh and self._directory is not None and now < self._directory[0]:
            return self._directory[1]
        directory = await read_directory(self.graph)
        self._directory = (now + self._ttl, directory)
        return directory


def _none(device: Device) -> bool:
    return False


def _scoped(reach: Reach, members: dict[str, ScopeMembers]) -> DeviceFilter:
    """The filter for a scoped reach. A device with none of the assignments' tags, or (when
    every assignment is scoped by groups) that none of the groups holds, is turned away on a
    few set lookups: most of the fleet, for a small scope. The same sets are the bounds."""
    devices = frozenset(d for m in members.values() for d in m.devices)
    users = frozenset(u for m in members.values() for u in m.users)
    grouped = all(a.scope_type in ("", ScopeType.RESOURCE_SCOPE) for a in reach.assignments)
    tags = frozenset(t for a in reach.assignments for t in (a.scope_tags or {DEFAULT_TAG}))

    def admits(device: Device) -> bool:
        if not tags.intersection(device.scope_tags or (DEFAULT_TAG,)):
            return False
        if grouped and device.entra_device_id not in devices and (
                device.listed_user_id not in users):
            return False
        return reach.admits(scope_of_listed(device.scope_tags, device.entra_device_id,
                                            device.listed_user_id, members))

    return DeviceFilter(admits, tags, devices if grouped else None,
                        users if grouped else frozenset())
