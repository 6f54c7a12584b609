"""Asking for a reset: find the device (the person's own, or any for an approver), apply the
platform matrix and the four-eyes rules, the limits, and store the request or its refusal."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from bot.domain import ResetRequest, State, new_request_id
from bot.ports import BackendError, Device, OpenRequestExists, Standing
from bot.usecases.core import MAX_QUERY, Core, Outcome, Person, Reply, actor, is_approver, own
from bot.usecases.warnings import combine, warning_codes
from policy import approval
from policy.intune_rbac import RESET_PASSCODE, Missing
from policy.membership import NoDirectoryUser, same_email
from policy.platforms import decide as decide_platform

# The warning when the backend says no passcode policy is assigned (policy's warning says one
# is needed).
NO_PASSCODE_POLICY = "no_passcode_policy"


async def find_devices(core: Core, person: Person, text: str, limit: int = 100) -> list[Device]:
    """Devices the person may pick: their own (read live, by their directory id), or for an
    approver the fleet within their reach (Intune RBAC scope: ``RoleDirectory.device_filter``;
    nothing when it cannot be read)."""
    if await is_approver(core, person):
        try:
            keep = await core.roles.device_filter(person.user_id, person.email)
        except BackendError:
            return []
        return await core.backend.search_devices(text[:MAX_QUERY], limit=limit, keep=keep)
    try:
        me = await core.backend.identify(person.email)
        if not me.user_id:
            return []
        return await core.backend.devices_of(me.user_id, text[:MAX_QUERY], limit)
    except BackendError:
        return []


async def request_reset(
    core: Core, person: Person, query: str = "", *, device_id: str | None = None,
    request_id: str | None = None,
) -> Reply:
    """Ask for a passcode reset of one device, named by the person or picked by id.

    ``request_id``: the id the request (or its refusal) is stored under, chosen when the ask
    was acknowledged. Asked again with it (the work run a second time: its worker died after
    storing the request, before its work item was marked done), the answer is the stored
    request's, and nothing new is stored: not a second request once the first has closed."""
    if request_id:
        earlier = await core.store.get(request_id)
        if earlier is not None and earlier.requester_id == person.user_id:
            return _answered(earlier)
        if earlier is not None:  # someone else's: no answer of theirs, and not this id
            request_id = None
    query = " ".join(query.split())
    if not device_id and not query:
        return Reply(Outcome.INVALID, "invalid.empty")
    if len(query) > MAX_QUERY:
        return Reply(Outcome.INVALID, "invalid.long", {"n": len(query), "max": MAX_QUERY})
    try:
        who = await actor(core, person)
        approver = approval.holds_permitted_role(who, core.config.permitted_roles)
        # Who the person is in the backend's directory: their own devices are those whose
        # primary user is this id (product.md, "Whose device it is").
        me = await core.backend.identify(person.email)
        if not approver and not me.user_id:
            code = me.refusal if me.refusal in _NO_IDENTITY else NoDirectoryUser.NONE.value
            return Reply(Outcome.NOT_ALLOWED, f"identity.{code}")
        who = replace(who, principal=me.user_id)
        if device_id:
            device = await core.backend.get_device(device_id[:MAX_QUERY])
            matches = [device] if device else []
        else:
            matches = await core.backend.find_devices(query, limit=10)
        # Without a role a person sees their own devices only: anyone else's is answered
        # exactly as a device that does not exist, so nothing about it can be learnt.
        if not approver:
            matches = await own(core, me.user_id, matches)
    except BackendError as exc:
        return Reply(Outcome.TRY_LATER, "try_later", {"detail": exc.message})
    if not matches:
        # The picker's choice (no query) is not worth repeating; nor is whether it is gone or
        # not theirs.
        key = "not_found.own" if not approver else "not_found"
        return Reply(Outcome.NOT_FOUND, key if query else f"{key}.picked", {"query": query})
    if len(matches) > 1:
        return Reply(Outcome.AMBIGUOUS, "ambiguous", {"n": len(matches), "query": query},
                     matches=matches)
    try:
        return await _create(core, who, person, matches[0], request_id)
    except BackendError as exc:
        return Reply(Outcome.TRY_LATER, "try_later", {"detail": exc.message})


# Why an email leads to no one directory user (the catalogs' reply.identity.<code>).
_NO_IDENTITY = frozenset(c.value for c in NoDirectoryUser)


def _answered(request: ResetRequest) -> Reply:
    """What asking for ``request`` answered when it was stored."""
    if request.state is State.REFUSED:
        return Reply(Outcome.REFUSED, "refused", request=request)
    return Reply(Outcome.CREATED, "created", {"id": request.id, "name": request.device_name},
                 request=request)


async def _create(core: Core, who: approval.Actor, person: Person, device: Device,
                  request_id: str | None = None) -> Reply:
    now = core.clock.now()
    decision = decide_platform(device.facts)
    owner = await core.backend.owner_of(device)  # live: never the device's own user fields
    refused = await _out_of_scope(core, who, person, device, owner.user_id)
    if refused is not None:
        return refused
    verdict = approval.may_request(
        who, device.primary_email, userless=decision.userless or not owner.user_id,
        permitted=core.config.permitted_roles, owner_principal=owner.user_id,
    )
    standing = await core.store.standing(person.user_id, device.id,
                                         requester_since=now - timedelta(hours=1),
                                         device_since=now - timedelta(days=1))
    # The person's own cap first, refusals included, so that refusals too are bounded:
    # past it nothing more is written for them, whatever they ask for.
    refusal = _over_person_limit(core, standing)
    if refusal is None and decision.allowed and verdict:
        refusal = _over_limits(core, device, standing)
    if refusal is not None:
        return refusal
    warning = decision.warning
    if decision.warning and device.has_passcode_policy is True:
        warning = ""
    elif decision.warning and device.has_passcode_policy is False:
        warning = NO_PASSCODE_POLICY
    earlier = standing.unconfirmed
    warning, warning_params = combine(warning, warning_codes(
        device, decision, now, core.config.stale_checkin_days, earlier))
    request = ResetRequest(
        id=request_id or new_request_id(),
        requester_id=person.user_id,
        requester_email=person.email,
        device_id=device.id,
        device_name=device.name,
        device_serial=device.serial,
        device_owner_email=owner.email if owner.user_id else "",
        device_owner_id=owner.user_id,
        requester_principal=who.principal,
        row=decision.row,
        scope=decision.scope,
        expected=decision.result,
        state=State.AWAITING_APPROVAL,
        created_at=now,
        updated_at=now,
        warning=warning,
        warning_params=warning_params,
        approval_deadline=now + core.config.approval_timeout,
    )
    if not decision.allowed or not verdict:
        code, params = ((decision.refusal.code, decision.refusal.params)
                        if decision.refusal is not None else (verdict.code, verdict.params))
        await core.store.add(request.refuse(person.user_id, code, params))
        return Reply(Outcome.REFUSED, "refused", request=request)
    request.approver_roles, request.approver_people = await _approvers(core, device, person)
    try:
        await core.store.add(request.submit(person.user_id))
    except OpenRequestExists as lost:  # another request for the device got in first
        return already_open(device, lost.existing)
    return Reply(Outcome.CREATED, "created", {"id": request.id, "name": device.name},
                 request=request)


async def _out_of_scope(core: Core, who: approval.Actor, person: Person, device: Device,
                        owner_id: str) -> Reply | None:
    """Whoever asks for a device not their own reads its passcode once it is approved: their
    role must cover this device as Intune scopes it (as an approver's click is checked), or
    nothing is stored and they are told what they lack. Their own device needs no role."""
    if (who.principal and who.principal == owner_id) or not approval.holds_permitted_role(
            who, core.config.permitted_roles):
        return None
    check = await core.roles.approval_for(person.user_id, person.email, device.id,
                                          core.config.permitted_roles)
    if check.roles:
        return None
    missing = check.missing if check.missing in _SCOPE_MISSING else Missing.SCOPE.value
    return Reply(Outcome.NOT_ALLOWED, f"not_allowed.{missing}",
                 {"permission": RESET_PASSCODE, "detail": ", ".join(check.detail)})


_SCOPE_MISSING = frozenset({Missing.PERMISSION.value, Missing.SCOPE.value,
                            Missing.SCOPE_TAG.value})


async def _approvers(core: Core, device: Device, requester: Person) -> tuple[str, str]:
    """Who can approve, for the approvals post; unknown (empty) when the source cannot say.
    The requester is never among them (four eyes), even when their role would let them."""
    try:
        found = await core.roles.approvers_for(device.id, core.config.permitted_roles)
    except BackendError:
        return "", ""
    others = [p for p in found.people
              if p != requester.user_id and not same_email(p, requester.email)]
    return "\n".join(found.roles), "\n".join(others)


def _over_person_limit(core: Core, standing: Standing) -> Reply | None:
    """At most so many requests an hour per person, refused ones included."""
    cap = core.config.max_requests_per_user_hour
    if standing.by_requester >= cap:
        return Reply(Outcome.LIMITED, "limited.user", {"cap": cap})
    return None


def _over_limits(core: Core, device: Device, standing: Standing) -> Reply | None:
    """The device's limits: one open request (checked here as the fast path; the store's
    insert is the guarantee), and a cap per day."""
    if standing.open is not None:
        return already_open(device, standing.open)
    cap = core.config.max_requests_per_device_day
    if standing.for_device >= cap:
        return Reply(Outcome.LIMITED, "limited.device", {"cap": cap, "name": device.name})
    return None


def already_open(device: Device, existing: ResetRequest) -> Reply:
    return Reply(Outcome.ALREADY_OPEN, "already_open",
                 {"name": device.name, "id": existing.id, "state": existing.state.value},
                 request=existing)

