"""What every use case works with: the ports, the settings that shape the workflow, and the
shapes of what a use case answers (Person in, Reply out)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from bot.domain import ResetRequest
from bot.ports import BackendError, Clock, Device, DeviceBackend, RequestStore, RoleDirectory
from bot.vault import Vault
from policy import approval

MAX_QUERY = 200


@dataclass(frozen=True, slots=True)
class Person:
    """Someone acting through the bot, identified by their chat user id and email."""

    user_id: str
    email: str
    name: str = ""


class Outcome(StrEnum):
    CREATED = "created"
    REFUSED = "refused"
    NOT_FOUND = "not_found"
    AMBIGUOUS = "ambiguous"
    ALREADY_OPEN = "already_open"
    LIMITED = "limited"
    INVALID = "invalid"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"
    NOT_ALLOWED = "not_allowed"
    ALREADY_DECIDED = "already_decided"
    EXPIRED = "expired"
    UNKNOWN_REQUEST = "unknown_request"
    SHOWN = "shown"
    UNAVAILABLE = "unavailable"
    NOT_SHOWN = "not_shown"  # the passcode's modal did not open; nothing was revealed
    TRY_LATER = "try_later"


@dataclass(frozen=True, slots=True)
class Reply:
    """What happened, for the person who acted: which message (``key``) and its values; the
    surface words it in the person's language (the catalogs, handlers/locale). A value a
    person or a backend controls (a typed query, a device's name, a backend's detail) is raw
    here: the surface shows it as a literal."""

    outcome: Outcome
    key: str
    params: dict[str, str | int] = field(default_factory=dict)
    request: ResetRequest | None = None
    matches: list[Device] = field(default_factory=list)
    passcode: str | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.outcome in {
            Outcome.CREATED, Outcome.APPROVED, Outcome.DENIED, Outcome.CANCELLED, Outcome.SHOWN,
        }


Sleep = Callable[[float], Awaitable[None]]


@dataclass(slots=True)
class ServiceConfig:
    permitted_roles: frozenset[str] = approval.DEFAULT_PERMITTED_ROLES
    approval_timeout: timedelta = timedelta(hours=24)
    passcode_ttl: timedelta = timedelta(days=7)
    execution_timeout: timedelta = timedelta(minutes=15)
    max_requests_per_user_hour: int = 5
    max_requests_per_device_day: int = 3
    stale_checkin_days: int = 7  # warn the approver past this; 0: never (issue 12)


@dataclass(slots=True)
class Core:
    """The ports and settings the use cases run on (cosmicpython's unit of work, minus the
    transaction: each RequestStore write is its own)."""

    store: RequestStore
    backend: DeviceBackend
    roles: RoleDirectory
    vault: Vault
    clock: Clock
    config: ServiceConfig = field(default_factory=ServiceConfig)
    sleep: Sleep = asyncio.sleep
    # A purge's WAL checkpoint is still to do (it was held up, or a restart came between):
    # the first sweep checkpoints in any case.
    checkpoint_due: bool = True


async def actor(core: Core, person: Person, *, principal: bool = False) -> approval.Actor:
    """The person as policy sees them: their roles, and with ``principal`` the directory's id
    for them (four eyes)."""
    roles = await core.roles.roles_for(person.user_id, person.email)
    found = await core.roles.principal_of(person.user_id, person.email) if principal else ""
    return approval.Actor(person.user_id, person.email, roles, found)


async def is_approver(core: Core, person: Person) -> bool:
    try:
        found = await actor(core, person)
    except BackendError:
        return False
    return approval.holds_permitted_role(found, core.config.permitted_roles)


async def own(core: Core, principal: str, devices: list[Device]) -> list[Device]:
    """The devices whose primary user, read live from the backend, is ``principal`` (the
    person's directory id): the device's own user fields are never asked."""
    if not principal:
        return []
    return [d for d in devices if (await core.backend.owner_of(d)).user_id == principal]


def unknown_request() -> Reply:
    return Reply(Outcome.UNKNOWN_REQUEST, "unknown_request")
