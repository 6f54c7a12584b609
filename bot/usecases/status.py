"""What people may read: a request (the requester's own, or any for an approver), their
recent ones, and the approvals queue."""

from __future__ import annotations

from bot.domain import ResetRequest, State
from bot.usecases.core import Core, Person, is_approver


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


async def queue(core: Core, limit: int = 20) -> list[ResetRequest]:
    return await core.store.in_states([State.AWAITING_APPROVAL], limit=limit)
