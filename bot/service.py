"""The facade the Slack surface calls: one object holding the ports (a ``Core``), with one
method per use case. The workflow itself lives in bot/usecases/ (request, decide, execute,
reveal, expire, status); slow or must-not-be-lost work (the reset itself, telling people) is
scheduled with each change and run by the job runner in bot/jobs.py.
"""

from __future__ import annotations

import asyncio

from bot.domain import SYSTEM, ResetRequest
from bot.ports import Clock, Device, DeviceBackend, RequestStore, RoleDirectory
from bot.usecases import again, decide, execute, expire, request, reveal, status
from bot.usecases.core import (
    MAX_QUERY,
    Core,
    Outcome,
    Person,
    Reply,
    ServiceConfig,
    Sleep,
    actor,
    is_approver,
)
from bot.usecases.execute import POLL_DELAYS
from bot.usecases.reveal import Show, ShowFailed
from bot.vault import Vault
from policy import approval

__all__ = [
    "MAX_QUERY", "POLL_DELAYS", "SYSTEM", "Outcome", "Person", "Reply", "ResetService",
    "ServiceConfig", "Show", "ShowFailed", "Sleep",
]


class ResetService:
    def __init__(
        self,
        store: RequestStore,
        backend: DeviceBackend,
        roles: RoleDirectory,
        vault: Vault,
        clock: Clock,
        config: ServiceConfig | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.core = Core(store, backend, roles, vault, clock, config or ServiceConfig(), sleep)

    @property
    def store(self) -> RequestStore:
        return self.core.store

    @property
    def clock(self) -> Clock:
        return self.core.clock

    @property
    def config(self) -> ServiceConfig:
        return self.core.config

    async def actor(self, person: Person) -> approval.Actor:
        return await actor(self.core, person)

    async def is_approver(self, person: Person) -> bool:
        return await is_approver(self.core, person)

    async def find_devices(self, person: Person, text: str, limit: int = 100) -> list[Device]:
        return await request.find_devices(self.core, person, text, limit)

    async def request_reset(
        self, person: Person, query: str = "", *, device_id: str | None = None,
        request_id: str | None = None,
    ) -> Reply:
        return await request.request_reset(self.core, person, query, device_id=device_id,
                                           request_id=request_id)

    async def decide(self, request_id: str, person: Person, *, approve: bool) -> Reply:
        return await decide.decide(self.core, request_id, person, approve=approve)

    async def cancel(self, request_id: str, person: Person) -> Reply:
        return await decide.cancel(self.core, request_id, person)

    async def try_again(self, request_id: str, person: Person) -> Reply:
        """An approver runs an unconfirmed reset once more (issue 12)."""
        return await again.try_again(self.core, request_id, person)

    async def execute(self, request_id: str) -> None:
        await execute.execute(self.core, request_id)

    async def reveal(self, request_id: str, person: Person, show: Show) -> Reply:
        return await reveal.reveal(self.core, request_id, person, show)

    async def sweep(self) -> int:
        return await expire.sweep(self.core)

    async def status(self, person: Person, request_id: str | None = None) -> list[ResetRequest]:
        return await status.status(self.core, person, request_id)

    async def queue(self, person: Person | None = None, limit: int = 20) -> list[ResetRequest]:
        """The approvals queue, only ``person``'s reach of it when given."""
        return await status.queue(self.core, person, limit)
