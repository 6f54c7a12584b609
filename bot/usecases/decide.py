"""Deciding a request: an approver approves or denies (four eyes: never their own), or the
requester cancels; exactly one decision wins however many race."""

from __future__ import annotations

from bot.ports import BackendError
from bot.usecases.core import Core, Outcome, Person, Reply, actor, unknown_request
from bot.usecases.expire import approval_lapsed, expire_approval
from policy import approval


async def decide(core: Core, request_id: str, person: Person, *, approve: bool) -> Reply:
    """Approve or deny: a permitted role, never one's own request, exactly once."""
    request = await core.store.get(request_id)
    if request is None:
        return unknown_request()
    try:
        who = await actor(core, person, principal=True)
        requester = await core.roles.principal_of(request.requester_id, request.requester_email)
    except BackendError:
        return Reply(Outcome.TRY_LATER, "role_unchecked")
    verdict = approval.may_decide(who, request.requester_id, core.config.permitted_roles,
                                  requester_email=request.requester_email,
                                  requester_principal=requester)
    if not verdict:
        return Reply(Outcome.NOT_ALLOWED, f"not_allowed.{verdict.code}", dict(verdict.params),
                     request=request)
    now = core.clock.now()
    if approval_lapsed(request, now):
        await expire_approval(core, request, now)
        return Reply(Outcome.EXPIRED, "expired", request=request)
    step = request.approve if approve else request.deny
    updated = await core.store.apply(step(person.user_id, now))
    if updated is None:
        return await already_decided(core, request_id)
    return Reply(
        Outcome.APPROVED if approve else Outcome.DENIED, "approved" if approve else "denied",
        {"id": request_id, "name": updated.device_name}, request=updated,
    )


async def cancel(core: Core, request_id: str, person: Person) -> Reply:
    """The requester withdraws their own pending request."""
    request = await core.store.get(request_id)
    if request is None:
        return unknown_request()
    verdict = approval.may_cancel(approval.Actor(person.user_id, person.email),
                                  request.requester_id)
    if not verdict:
        return Reply(Outcome.NOT_ALLOWED, f"not_allowed.{verdict.code}", dict(verdict.params),
                     request=request)
    updated = await core.store.apply(request.cancel(person.user_id, core.clock.now()))
    if updated is None:
        return await already_decided(core, request_id)
    return Reply(Outcome.CANCELLED, "cancelled", {"id": request_id}, request=updated)


async def already_decided(core: Core, request_id: str) -> Reply:
    current = await core.store.get(request_id)
    assert current is not None
    return Reply(Outcome.ALREADY_DECIDED, "already_decided",
                 {"id": request_id, "state": current.state.value, "by": current.decided_by},
                 request=current)
