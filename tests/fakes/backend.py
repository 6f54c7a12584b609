"""A DeviceBackend and a RoleDirectory over dicts (fakes of our own ports), for use-case
tests that need no fleet, no Graph and no HTTP."""

from __future__ import annotations

from datetime import datetime

from bot.clock import ManualClock
from bot.ports import (
    ActionRef,
    ActionState,
    ActionStatus,
    ApprovalCheck,
    Approvers,
    Device,
    DeviceFilter,
    Identity,
)
from policy.platforms import Scope


class FakeBackend:
    name = "fake"

    def __init__(self, clock: ManualClock, *devices: Device, passcode: str = "482913") -> None:
        self.clock = clock
        self.devices = {d.id: d for d in devices}
        self.passcode = passcode
        self.resets: list[str] = []  # device ids, one per start_reset

    async def find_devices(self, query: str, *, primary_email: str | None = None,
                           limit: int = 10) -> list[Device]:
        q = query.casefold()
        return [d for d in self.devices.values()
                if q in (d.id.casefold(), d.serial.casefold(), d.name.casefold())
                and (primary_email is None or d.primary_email == primary_email)][:limit]

    async def search_devices(self, text: str, *, primary_email: str | None = None,
                             limit: int = 100, keep: DeviceFilter | None = None
                             ) -> list[Device]:
        t = text.casefold()
        return [d for d in self.devices.values() if t in d.name.casefold()
                and (primary_email is None or d.primary_email == primary_email)
                and (keep is None or keep.admits(d))][:limit]

    async def get_device(self, device_id: str) -> Device | None:
        return self.devices.get(device_id)

    async def start_reset(self, device: Device, scope: Scope) -> ActionRef:
        self.resets.append(device.id)
        return ActionRef(device.id, self.clock.now(), f"action-{len(self.resets)}")

    async def action_status(self, ref: ActionRef) -> ActionStatus:
        return ActionStatus(ActionState.DONE, passcode=self.passcode)

    async def find_started_action(self, device_id: str, since: datetime) -> ActionRef | None:
        return None

    async def identify(self, email: str) -> Identity:
        """Each distinct email is one directory user, its id the email itself (lowered)."""
        key = email.strip().lower()
        return Identity(f"id:{key}", upn=key) if key else Identity(refusal="no_directory_user")

    async def owner_of(self, device: Device) -> Identity:
        if device.primary_user_id:
            return Identity(device.primary_user_id)
        known = self.devices.get(device.id, device)
        return await self.identify(known.primary_email) if known.primary_email else Identity()

    async def devices_of(self, user_id: str, text: str = "", limit: int = 100) -> list[Device]:
        return [d for d in await self.search_devices(text, limit=limit)
                if (await self.owner_of(d)).user_id == user_id]

    async def aclose(self) -> None:
        return None


class FakeRoles:
    def __init__(self, roles: dict[str, frozenset[str]],
                 principals: dict[str, str] | None = None) -> None:
        self.roles = roles
        self.principals = principals or {}  # Slack user id -> directory id

    async def roles_for(self, user_id: str, email: str) -> frozenset[str]:
        return self.roles.get(user_id, frozenset())

    async def principal_of(self, user_id: str, email: str) -> str:
        return self.principals.get(user_id, "")

    async def device_filter(self, user_id: str, email: str) -> DeviceFilter | None:
        return None

    async def approval_for(self, user_id: str, email: str, device_id: str,
                           permitted: frozenset[str]) -> ApprovalCheck:
        roles = self.roles.get(user_id, frozenset())
        return ApprovalCheck(roles) if roles else ApprovalCheck(missing="no_role")

    async def approvers_for(self, device_id: str, permitted: frozenset[str]) -> Approvers:
        """The permitted roles, and (as ROLES_FILE does) the people holding one."""
        people = tuple(sorted(u for u, held in self.roles.items() if held & permitted))
        return Approvers(tuple(sorted(permitted)), people)
