"""Try again: an approver chooses to run a reset whose outcome Intune never confirmed once more
(issue 12 point 5). The same people as may approve (a permitted role, four eyes), exactly once
however many click, and audited with who chose it."""

from __future__ import annotations

from bot.domain import State
from bot.ports import BackendError
from bot.usecases.core import Core, Outcome, Person, Reply, actor, unknown_request
from bot.usecases.decide import already_decided
from policy import approval


async def try_again(core: Core, request_id: str, person: Person) -> Reply:
    """Approve an unconfirmed reset once more: checked like an approval, at click time."""
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
    if request.state is not State.UNCONFIRMED:
        return await already_decided(core, request_id)
    other = await core.store.open_for_device(request.device_id)
    if other is not None:
        # Another request for the device is under way: one reset at a time.
        return Reply(Outcome.ALREADY_OPEN, "already_open",
                     {"name": request.device_name, "id": other.id, "state": other.state.value},
                     request=other)
    updated = await core.store.apply(request.try_again(person.user_id, core.clock.now()))
    if updated is None:
        return await already_decided(core, request_id)
    return Reply(Outcome.APPROVED, "try_again.done",
                 {"id": request_id, "name": updated.device_name}, request=updated)
