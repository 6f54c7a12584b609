"""Try again: an approver chooses to run a reset whose outcome Intune never confirmed once more
(issue 12 point 5). The same people as may approve (a permitted role, four eyes), exactly once
however many click, and audited with who chose it."""

from __future__ import annotations

from bot.domain import State
from bot.usecases.core import Core, Outcome, Person, Reply, unknown_request
from bot.usecases.decide import already_decided, refused


async def try_again(core: Core, request_id: str, person: Person) -> Reply:
    """Approve an unconfirmed reset once more: checked like an approval, at click time."""
    request = await core.store.get(request_id)
    if request is None:
        return unknown_request()
    # As an approval is checked: for this device (role, scope, scope tags), read again now.
    refusal = await refused(core, request, person)
    if refusal is not None:
        return refusal
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
