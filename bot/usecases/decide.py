"""Deciding a request: an approver approves or denies (four eyes: never their own), or the
requester cancels; exactly one decision wins however many race."""

from __future__ import annotations

from bot.domain import ResetRequest
from bot.ports import BackendError
from bot.usecases.core import Core, Outcome, Person, Reply, unknown_request
from bot.usecases.expire import approval_lapsed, expire_approval
from policy import approval
from policy.intune_rbac import RESET_PASSCODE, Missing


async def decide(core: Core, request_id: str, person: Person, *, approve: bool) -> Reply:
    """Approve or deny: a permitted role, never one's own request, exactly once."""
    request = await core.store.get(request_id)
    if request is None:
        return unknown_request()
    refusal = await refused(core, request, person)
    if refusal is not None:
        return refusal
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


async def refused(core: Core, request: ResetRequest, person: Person) -> Reply | None:
    """Why ``person`` may not approve ``request`` (approve, deny or Try again), or None: a
    permitted role for this device, read again now, and never their own request."""
    permitted = core.config.permitted_roles
    try:
        # Read again at every click, for this device: a role, its scope, the person's groups.
        check = await core.roles.approval_for(person.user_id, person.email, request.device_id,
                                              permitted)
        mine = await _principal(core, person.user_id, person.email)
        requester = request.requester_principal or await _principal(
            core, request.requester_id, request.requester_email)
    except BackendError:
        return Reply(Outcome.TRY_LATER, "role_unchecked")
    who = approval.Actor(person.user_id, person.email, check.roles, mine)
    verdict = approval.may_decide(who, request.requester_id, permitted,
                                  requester_email=request.requester_email,
                                  requester_principal=requester)
    if not verdict:
        params = dict(verdict.params)
        key = f"not_allowed.{verdict.code}"
        if verdict.code == "no_role" and check.missing in _MISSING:
            # What this approver lacks for this device (the catalogs' reply.not_allowed.<missing>):
            # the roles or assignments it is about, as the directory names them.
            key = f"not_allowed.{check.missing}"
            params.update({"permission": RESET_PASSCODE, "detail": ", ".join(check.detail)})
        return Reply(Outcome.NOT_ALLOWED, key, params, request=request)
    return None


# What a refused approver lacks, each its own words: the role's permission, or its scope.
_MISSING = frozenset({Missing.PERMISSION.value, Missing.SCOPE.value, Missing.SCOPE_TAG.value})


async def _principal(core: Core, user_id: str, email: str) -> str:
    """The person's directory id for four eyes, as the role source knows it ("" for a roles
    file: Slack ids and emails are compared then, and a click needs no Graph)."""
    return await core.roles.principal_of(user_id, email)


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
