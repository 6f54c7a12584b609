"""What people may read: a request (the requester's own, or any for an approver), their
recent ones, and the approvals queue."""

from __future__ import annotations

from bot.domain import ResetRequest, State
from bot.ports import BackendError
from bot.usecases.core import Core, Person, is_approver

# How many waiting requests a scoped approver's queue looks through for its first ``limit``.
QUEUE_SCAN = 100


async def status(core: Core, person: Person, request_id: str | None = None) -> list[ResetRequest]:
    """One request (the requester's own, or any for an approver), or the person's recent ones."""
    if not request_id:
        return await core.store.by_requester(person.user_id, limit=10)
    request = await core.store.get(request_id.strip().upper()[:20])
    if request is None:
        return []
    if request.requester_id != person.user_id and not await is_approver(core, person):
        return []
    return [request]


async def queue(core: Core, person: Person | None = None, limit: int = 20
                ) -> list[ResetRequest]:
    """The requests awaiting approval; for ``person``, only those for devices within their
    reach (Intune RBAC scope), told from the device index, not read per request: the first
    ``limit`` of at most QUEUE_SCAN waiting. A device the index cannot place, or a reach
    that cannot be read, is left out."""
    try:
        keep = None if person is None else await core.roles.device_filter(
            person.user_id, person.email)
        if keep is None:
            return await core.store.in_states([State.AWAITING_APPROVAL], limit=limit)
        shown: list[ResetRequest] = []
        for request in await core.store.in_states([State.AWAITING_APPROVAL],
                                                  limit=max(limit, QUEUE_SCAN)):
            found = await core.backend.search_devices(request.device_id, limit=10, keep=keep)
            if any(d.id == request.device_id for d in found):
                shown.append(request)
                if len(shown) >= limit:
                    break
    except BackendError:
        return []
    return shown
