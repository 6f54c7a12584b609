"""Approver roles from ROLES_FILE: ``roles: {<role>: [<Slack user id or email>, ...]}``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from bot.ports import ApprovalCheck, Approvers, DeviceFilter
from policy.approval import Actor as PolicyActor
from policy.approval import canonical_role, holds_permitted_role
from policy.membership import email_key


class RolesFileError(ValueError):
    pass


def _key(member: str) -> str:
    """An email by ``email_key`` (A-Z lowered; "" for one outside ASCII, which never holds a
    role); a Slack user id in capitals (Slack writes them so), "" for one outside ASCII."""
    member = member.strip()
    if "@" in member:
        return email_key(member)
    return member.upper() if member.isascii() else ""


class FileRoleDirectory:
    """Role membership by Slack user id or email (emails compared by ``email_key``), read once
    at start."""

    def __init__(self, roles: Mapping[str, Sequence[str]]) -> None:
        self._members: dict[str, set[str]] = {}
        self._people: dict[str, list[str]] = {}  # canonical role -> members as the file has them
        for role, members in roles.items():
            for member in members:
                key = _key(str(member))
                if key:
                    self._members.setdefault(key, set()).add(canonical_role(str(role)))
                    people = self._people.setdefault(canonical_role(str(role)), [])
                    if key not in people:
                        people.append(key)

    @classmethod
    def from_file(cls, path: Path) -> FileRoleDirectory:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise RolesFileError(f"ROLES_FILE: cannot read {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise RolesFileError(f"ROLES_FILE: {path} is not valid YAML ({exc})") from None
        roles = data.get("roles") if isinstance(data, dict) else None
        if not isinstance(roles, dict) or not all(
            isinstance(m, list) and all(isinstance(x, str) for x in m) for m in roles.values()
        ):
            raise RolesFileError(
                f"ROLES_FILE: {path} must hold 'roles: {{<role>: [<Slack user id or email>, ...]}}'"
            )
        return cls(roles)

    async def principal_of(self, user_id: str, email: str) -> str:
        """A roles file names people by Slack id and email only: no principal of its own."""
        return ""

    async def device_filter(self, user_id: str, email: str) -> DeviceFilter | None:
        """A roles file knows no scopes: an approver is shown every device."""
        return None

    async def roles_for(self, user_id: str, email: str) -> frozenset[str]:
        found: set[str] = set()
        for key in (_key(user_id), email_key(email)):
            if key:
                found |= self._members.get(key, set())
        return frozenset(found)

    async def approval_for(
        self, user_id: str, email: str, device_id: str, permitted: frozenset[str]
    ) -> ApprovalCheck:
        """A roles file knows no scopes: a permitted role counts for every device."""
        roles = await self.roles_for(user_id, email)
        if holds_permitted_role(PolicyActor(user_id, email, roles), permitted):
            return ApprovalCheck(roles)
        return ApprovalCheck(missing="no_role")

    async def approvers_for(self, device_id: str, permitted: frozenset[str]) -> Approvers:
        """The permitted roles, and the people the file gives them (Slack ids or emails)."""
        wanted = {canonical_role(r).lower() for r in permitted}
        people: list[str] = []
        roles: list[str] = []
        for role, members in sorted(self._people.items()):
            if role.lower() in wanted:
                roles.append(role)
                people.extend(m for m in members if m not in people)
        return Approvers(tuple(roles), tuple(people))
