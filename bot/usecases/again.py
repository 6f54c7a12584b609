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
        return Reply(Outcome.TRY_LATER, "Your role could not be checked right now; try again.")
    verdict = approval.may_decide(who, request.requester_id, core.config.permitted_roles,
                                  requester_email=request.requester_email,
                                  requester_principal=requester)
    if not verdict:
        params: dict[str, str | int] = {}
        if verdict.code == "no_role":
            params["roles"] = ", ".join(sorted(core.config.permitted_roles))
        return Reply(Outcome.NOT_ALLOWED, verdict.reason, request=request,
                     key=f"not_allowed.{verdict.code}", params=params)
    if request.state is not State.UNCONFIRMED:
        return await already_decided(core, request_id)
    other = await core.store.open_for_device(request.device_id)
    if other is not None:
        # Another request for the device is under way: one reset at a time.
        return Reply(Outcome.ALREADY_OPEN,
                     f"{request.device_name} already has a passcode reset in progress "
                     f"({other.id}, {other.state.label}).", request=other)
    updated = await core.store.apply(request.try_again(person.user_id, core.clock.now()))
    if updated is None:
        return await already_decided(core, request_id)
    return Reply(Outcome.APPROVED,
                 f"You chose to try request {request_id} ({updated.device_name}) again.",
                 request=updated, key="try_again.done")
