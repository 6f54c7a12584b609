"""The request workflow: request, decide, cancel, execute, deliver, reveal, expire.

No Slack here. Callers pass a ``Person``; the service resolves roles, applies policy, records
every step in the store, and leaves slow or must-not-be-lost work (the reset itself, telling
people) to the durable job queue in bot/jobs.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from bot import logs
from bot.domain import OPEN_STATES, ResetRequest, State, new_request_id
from bot.ports import (
    ActionRef,
    ActionState,
    BackendError,
    Clock,
    Device,
    DeviceBackend,
    FailureCode,
    NotifyEvent,
    RoleDirectory,
)
from bot.storage import JobSpec, OpenRequestExists, Store
from bot.vault import Vault, VaultError
from policy import approval
from policy.platforms import MATRIX, Decision, DeviceFacts, parse_major
from policy.platforms import decide as decide_platform

log = logging.getLogger(__name__)

SYSTEM = "passcode-bot"
MAX_QUERY = 200
# Backend polling after the reset starts: quick at first so a fast result reaches the
# requester within seconds, then backing off (product.md "Timing").
POLL_DELAYS = (1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0)


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
    """What happened, with a plain-text message for the person who acted."""

    outcome: Outcome
    message: str
    request: ResetRequest | None = None
    matches: list[Device] = field(default_factory=list)
    passcode: str | None = field(default=None, repr=False)
    # Which message this is and its values, for a surface that words it in the person's own
    # language; ``message`` is the English wording.
    key: str = ""
    params: dict[str, str | int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.outcome in {
            Outcome.CREATED, Outcome.APPROVED, Outcome.DENIED, Outcome.CANCELLED, Outcome.SHOWN,
        }


Sleep = Callable[[float], Awaitable[None]]


class ShowFailed(Exception):
    """The surface could not show the passcode; ``code`` says why (e.g. Slack's error code)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# Shows the passcode to the requester (the surface's modal); returns once it is shown, raises
# (ShowFailed, ideally) when it is not. Given the request and the plain passcode.
Show = Callable[[ResetRequest, str], Awaitable[None]]


@dataclass(slots=True)
class ServiceConfig:
    permitted_roles: frozenset[str] = approval.DEFAULT_PERMITTED_ROLES
    approval_timeout: timedelta = timedelta(hours=24)
    passcode_ttl: timedelta = timedelta(days=7)
    execution_timeout: timedelta = timedelta(minutes=15)
    max_requests_per_user_hour: int = 5
    max_requests_per_device_day: int = 3


class ResetService:
    def __init__(
        self,
        store: Store,
        backend: DeviceBackend,
        roles: RoleDirectory,
        vault: Vault,
        clock: Clock,
        config: ServiceConfig | None = None,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.store = store
        self.backend = backend
        self.roles = roles
        self.vault = vault
        self.clock = clock
        self.config = config or ServiceConfig()
        self.sleep = sleep
        self.on_jobs: Callable[[], None] = lambda: None  # set by the job runner: wake up
        # A purge's WAL checkpoint is still to do (it was held up, or a restart came between):
        # the first sweep checkpoints in any case.
        self._checkpoint_due = True

    # -- who is acting --------------------------------------------------------------------

    async def actor(self, person: Person) -> approval.Actor:
        roles = await self.roles.roles_for(person.user_id, person.email)
        return approval.Actor(person.user_id, person.email, roles)

    async def is_approver(self, person: Person) -> bool:
        try:
            actor = await self.actor(person)
        except BackendError:
            return False
        return approval.holds_permitted_role(actor, self.config.permitted_roles)

    # -- request --------------------------------------------------------------------------

    async def find_devices(self, person: Person, text: str, limit: int = 100) -> list[Device]:
        """Devices the person may pick: their own, or the whole fleet for an approver."""
        mine = None if await self.is_approver(person) else person.email
        if mine is not None and not mine.strip():
            return []
        found = await self.backend.search_devices(text[:MAX_QUERY], primary_email=mine,
                                                  limit=limit)
        return found if mine is None else _own(person, found)

    async def request_reset(
        self, person: Person, query: str = "", *, device_id: str | None = None
    ) -> Reply:
        """Ask for a passcode reset of one device, named by the person or picked by id."""
        query = " ".join(query.split())
        if not device_id and not query:
            return Reply(Outcome.INVALID, "Name the device: its name, serial number or Intune id.",
                         key="invalid.empty")
        if len(query) > MAX_QUERY:
            return Reply(
                Outcome.INVALID,
                f"That device name is too long ({len(query)} characters); names, serial "
                f"numbers and Intune ids are at most {MAX_QUERY}.",
                key="invalid.long", params={"n": len(query), "max": MAX_QUERY},
            )
        try:
            actor = await self.actor(person)
            is_approver = approval.holds_permitted_role(actor, self.config.permitted_roles)
            # Without a role a person sees their own devices only: anyone else's is answered
            # exactly as a device that does not exist, so nothing about it can be learnt.
            mine = None if is_approver else person.email
            if device_id:
                device = await self.backend.get_device(device_id[:MAX_QUERY])
                matches = [device] if device else []
            elif mine is not None and not mine.strip():
                matches = []
            else:
                matches = await self.backend.find_devices(query, primary_email=mine, limit=10)
        except BackendError as exc:
            return Reply(Outcome.TRY_LATER, f"The device service did not answer: {exc.message}",
                         key="try_later", params={"detail": exc.message})
        if not is_approver:
            matches = _own(person, matches)
        if not matches and not is_approver:
            return Reply(
                Outcome.NOT_FOUND,
                f"No device of yours matches “{query or device_id}”. Check the name, or use "
                "the serial number or Intune device id from the Company Portal app. For "
                "someone else's device, ask the helpdesk.",
                key="not_found.own",
            )
        if not matches:
            return Reply(
                Outcome.NOT_FOUND,
                f"No managed device is called “{query or device_id}”. Check the name, or use "
                "the serial number or Intune device id from the Company Portal app.",
            )
        if len(matches) > 1:
            return Reply(
                Outcome.AMBIGUOUS,
                f"{len(matches)} devices match “{query}”; ask again with the serial number or "
                "Intune device id of the one you mean.",
                matches=matches,
            )
        return await self._create(actor, person, matches[0])

    async def _create(self, actor: approval.Actor, person: Person, device: Device) -> Reply:
        now = self.clock.now()
        decision = decide_platform(device.facts)
        verdict = approval.may_request(
            actor, device.primary_email, userless=decision.userless or not device.primary_email,
            permitted=self.config.permitted_roles,
        )
        # The person's own cap first, refusals included, so that refusals too are bounded:
        # past it nothing more is written for them, whatever they ask for.
        refusal = await self._over_person_limit(person, now)
        if refusal is None and decision.allowed and verdict:
            refusal = await self._over_limits(device, now)
        if refusal is not None:
            return refusal
        warning = decision.warning
        if decision.warning and device.has_passcode_policy is True:
            warning = ""
        elif decision.warning and device.has_passcode_policy is False:
            warning = "No device passcode policy is assigned to this device, so the reset will fail."
        request = ResetRequest(
            id=new_request_id(),
            requester_id=person.user_id,
            requester_email=person.email,
            device_id=device.id,
            device_name=device.name,
            device_serial=device.serial,
            device_owner_email=device.primary_email,
            row=decision.row,
            scope=decision.scope,
            expected=decision.result,
            state=State.AWAITING_APPROVAL,
            created_at=now,
            updated_at=now,
            warning=warning,
            approval_deadline=now + self.config.approval_timeout,
        )
        if not decision.allowed or not verdict:
            request.state = State.REFUSED
            request.reason = decision.reason if not decision.allowed else verdict.reason
            request.hint = decision.hint if not decision.allowed else ""
            request.approval_deadline = None
            await self.store.insert(request, actor=person.user_id, detail=request.reason)
            text = request.reason + (f" {request.hint}" if request.hint else "")
            key, params = (f"refused.{verdict.code}", {}) if decision.allowed else (
                _platform_refusal(decision, device.facts))
            return Reply(Outcome.REFUSED, text, request=request, key=key, params=params)
        try:
            await self.store.insert(
                request, actor=person.user_id,
                jobs=[JobSpec("notify", NotifyEvent.APPROVAL_REQUESTED)],
            )
        except OpenRequestExists as lost:  # another request for the device got in first
            return _already_open(device, lost.existing)
        self.on_jobs()
        return Reply(
            Outcome.CREATED,
            f"Request {request.id}: a passcode reset of {device.name} is waiting for an "
            "approver. You will get a direct message when it is decided.",
            request=request,
        )

    async def _over_person_limit(self, person: Person, now: datetime) -> Reply | None:
        """At most so many requests an hour per person, refused ones included."""
        cap = self.config.max_requests_per_user_hour
        if await self.store.count_since(since=now - timedelta(hours=1),
                                        requester_id=person.user_id) >= cap:
            return Reply(
                Outcome.LIMITED,
                f"You have asked for {cap} passcode resets in the last hour, the most allowed. "
                "Try again later, or ask the helpdesk.",
                key="limited.user", params={"cap": cap},
            )
        return None

    async def _over_limits(self, device: Device, now: datetime) -> Reply | None:
        """The device's limits: one open request (checked here as the fast path; the store's
        insert is the guarantee), and a cap per day."""
        open_request = await self.store.open_for_device(device.id)
        if open_request is not None:
            return _already_open(device, open_request)
        cap = self.config.max_requests_per_device_day
        if await self.store.count_since(since=now - timedelta(days=1), device_id=device.id) >= cap:
            return Reply(
                Outcome.LIMITED,
                f"{device.name} has had {cap} passcode reset requests in the last 24 hours, the "
                "most allowed. Ask the helpdesk to look at the device.",
                key="limited.device", params={"cap": cap, "name": device.name},
            )
        return None

    # -- decide ---------------------------------------------------------------------------

    async def decide(self, request_id: str, person: Person, *, approve: bool) -> Reply:
        """Approve or deny: a permitted role, never one's own request, exactly once."""
        request = await self.store.get(request_id)
        if request is None:
            return Reply(Outcome.UNKNOWN_REQUEST, "That request does not exist.")
        try:
            actor = await self.actor(person)
        except BackendError:
            return Reply(Outcome.TRY_LATER, "Your role could not be checked right now; try again.")
        verdict = approval.may_decide(actor, request.requester_id, self.config.permitted_roles,
                                      requester_email=request.requester_email)
        if not verdict:
            params: dict[str, str | int] = {}
            if verdict.code == "no_role":
                params["roles"] = ", ".join(sorted(self.config.permitted_roles))
            return Reply(Outcome.NOT_ALLOWED, verdict.reason, request=request,
                         key=f"not_allowed.{verdict.code}", params=params)
        now = self.clock.now()
        if request.state is State.AWAITING_APPROVAL and self._approval_lapsed(request, now):
            await self._expire_approval(request.id, now)
            return Reply(Outcome.EXPIRED, "This request expired before it was decided.", request)
        if approve:
            updated = await self.store.transition(
                request_id, State.APPROVED, actor=person.user_id, at=now,
                only_from=[State.AWAITING_APPROVAL],
                changes={"decided_by": person.user_id, "decided_at": now},
                jobs=[JobSpec("execute"), JobSpec("notify", NotifyEvent.DECIDED)],
            )
        else:
            updated = await self.store.transition(
                request_id, State.DENIED, actor=person.user_id, at=now,
                changes={"decided_by": person.user_id, "decided_at": now},
                jobs=[JobSpec("notify", NotifyEvent.DECIDED)],
            )
        if updated is None:
            return await self._already(request_id)
        self.on_jobs()
        verb = "approved" if approve else "denied"
        return Reply(
            Outcome.APPROVED if approve else Outcome.DENIED,
            f"You {verb} request {request_id} ({updated.device_name}).",
            request=updated,
        )

    async def _already(self, request_id: str) -> Reply:
        current = await self.store.get(request_id)
        assert current is not None
        who = f" by {current.decided_by}" if current.decided_by else ""
        return Reply(
            Outcome.ALREADY_DECIDED,
            f"Request {request_id} was already decided: it is {current.state.label}{who}.",
            request=current,
        )

    async def cancel(self, request_id: str, person: Person) -> Reply:
        """The requester withdraws their own pending request."""
        request = await self.store.get(request_id)
        if request is None:
            return Reply(Outcome.UNKNOWN_REQUEST, "That request does not exist.")
        verdict = approval.may_cancel(approval.Actor(person.user_id, person.email),
                                      request.requester_id)
        if not verdict:
            return Reply(Outcome.NOT_ALLOWED, verdict.reason, request=request,
                         key=f"not_allowed.{verdict.code}")
        updated = await self.store.transition(
            request_id, State.CANCELLED, actor=person.user_id, at=self.clock.now(),
            jobs=[JobSpec("notify", NotifyEvent.CANCELLED)],
        )
        if updated is None:
            return await self._already(request_id)
        self.on_jobs()
        return Reply(Outcome.CANCELLED, f"You cancelled request {request_id}.", request=updated)

    # -- execute --------------------------------------------------------------------------

    async def execute(self, request_id: str) -> None:
        """Run the reset of an approved request: one backend action, whatever crashes or
        repeats happen. Raises BackendError(retryable) to be tried again by the job queue."""
        request = await self.store.get(request_id)
        if request is None:
            return
        fresh = False
        if request.state is State.APPROVED:
            now = self.clock.now()
            claimed = await self.store.transition(
                request_id, State.EXECUTING, actor=SYSTEM, at=now,
                changes={"action_started_at": now},
            )
            if claimed is not None:
                request, fresh = claimed, True
            else:
                request = await self.store.get(request_id)
        if request is None or request.state is not State.EXECUTING:
            return
        assert request.action_started_at is not None
        timeout = self.config.execution_timeout
        # Until the reset is started, an outage may hold it up for EXECUTION_TIMEOUT from the
        # approval; once started, the device has EXECUTION_TIMEOUT from then to confirm it.
        deadline = request.action_started_at + timeout
        ref: ActionRef | None = None
        try:
            ref = await self._start_once(request, fresh, deadline)
            if ref is None:
                return
            deadline = max(deadline, await self._recorded_at(request.id) + timeout)
            await self._await_result(request, ref, deadline)
        except BackendError as exc:
            if exc.retryable and self.clock.now() < deadline:
                raise
            if not exc.retryable:
                await self._finish_failed(request_id, exc.failure, exc.message)
                return
            # The service stayed unreachable: say so plainly; the technical detail is logged.
            log.warning("request %s: giving up after %s: %s", request_id, timeout, exc.message)
            started = True if ref is not None or request.action_ref else None
            await self._finish_failed(
                request_id, FailureCode.TIMED_OUT, _unreachable(timeout, started)
            )

    async def _start_once(
        self, request: ResetRequest, fresh: bool, deadline: datetime
    ) -> ActionRef | None:
        assert request.action_started_at is not None
        if request.action_ref:
            return ActionRef(request.device_id, request.action_started_at, request.action_ref)
        if not fresh:
            # A restart, or a retry after an error: the reset may have started before we could
            # record it. Read the backend's action list instead of starting a second reset.
            # (Any reset of ours started after action_started_at; the backend allows for its
            # own clock's skew.)
            found = await self.backend.find_started_action(
                request.device_id, request.action_started_at
            )
            if found is not None:
                await self._record_action(request.id, found, "found after restart")
                return found
        if self.clock.now() >= deadline:
            # Intune came back too late: a reset started now would outlive the request.
            await self._finish_failed(
                request.id, FailureCode.TIMED_OUT,
                _unreachable(self.config.execution_timeout, started=False),
            )
            return None
        device = await self.backend.get_device(request.device_id)
        if device is None:
            await self._finish_failed(
                request.id, FailureCode.DEVICE_NOT_FOUND,
                "The device is no longer managed by Intune.",
            )
            return None
        ref = await self.backend.start_reset(device, request.scope)
        await self._record_action(request.id, ref, "reset started")
        return ref

    async def _record_action(self, request_id: str, ref: ActionRef, detail: str) -> None:
        now = self.clock.now()
        await self.store.update_fields(
            request_id, actor=SYSTEM, at=now, action="backend_action", detail=detail,
            changes={"action_ref": ref.ref or "started", "action_recorded_at": now},
        )

    async def _recorded_at(self, request_id: str) -> datetime:
        """When the reset was recorded as started (just after the backend took it)."""
        request = await self.store.get(request_id)
        recorded = request.action_recorded_at if request is not None else None
        return recorded or self.clock.now()

    async def _await_result(self, request: ResetRequest, ref: ActionRef, deadline: datetime) -> None:
        delays = iter(POLL_DELAYS)
        while True:
            status = await self.backend.action_status(ref)
            if status.state is ActionState.DONE:
                await self._finish_done(request, status.passcode)
                return
            if status.state is ActionState.FAILED:
                await self._finish_failed(
                    request.id, status.failure or FailureCode.BACKEND_ERROR, status.detail
                )
                return
            if self.clock.now() >= deadline:
                await self._finish_failed(
                    request.id, FailureCode.TIMED_OUT,
                    "The device did not confirm the reset in time. It may still apply when "
                    "the device next checks in; ask the helpdesk to look in the Intune admin "
                    "center before trying again.",
                )
                return
            await self.sleep(next(delays, POLL_DELAYS[-1]))

    async def _finish_done(self, request: ResetRequest, passcode: str | None) -> None:
        now = self.clock.now()
        changes: dict[str, object] = {"completed_at": now}
        if passcode:
            logs.remember(passcode)
            # Sealed at once: the plain passcode never reaches the database or a log.
            changes.update(
                sealed_passcode=self.vault.seal(request.id, passcode),
                has_passcode=True,
                passcode_expires_at=now + self.config.passcode_ttl,
            )
        await self.store.transition(
            request.id, State.COMPLETED, actor=SYSTEM, at=now, changes=changes,
            detail="passcode issued" if passcode else "no passcode returned",
            jobs=[JobSpec("notify", NotifyEvent.RESULT)],
        )
        self.on_jobs()

    async def _finish_failed(self, request_id: str, failure: FailureCode, detail: str) -> None:
        await self.store.transition(
            request_id, State.FAILED, actor=SYSTEM, at=self.clock.now(),
            changes={"failure_code": failure.value, "failure_detail": detail[:1000]},
            detail=failure.value, jobs=[JobSpec("notify", NotifyEvent.RESULT)],
        )
        self.on_jobs()

    # -- reveal and expiry ----------------------------------------------------------------

    async def reveal(self, request_id: str, person: Person, show: Show) -> Reply:
        """The requester alone sees the passcode, any number of times within its 7 days.

        ``show`` puts it in front of them (the surface's modal); the reveal is recorded only
        once it returns. When it raises, the failure is recorded instead (no state change) and
        the outcome is NOT_SHOWN."""
        request = await self.store.get(request_id)
        if request is None:
            return Reply(Outcome.UNKNOWN_REQUEST, "That request does not exist.")
        if person.user_id != request.requester_id:
            return Reply(
                Outcome.NOT_ALLOWED,
                "Only the person who asked for this reset can see its passcode.",
                request=request,
            )
        now = self.clock.now()
        if request.has_passcode and request.passcode_expires_at and now >= request.passcode_expires_at:
            if await self._purge(request_id, now):
                await self._checkpoint()
            request = await self.store.get(request_id)
        if request is None or not request.passcode_available(now):
            return Reply(Outcome.UNAVAILABLE, _unavailable_reason(request), request=request)
        sealed = await self.store.sealed_passcode(request_id)
        if sealed is None:
            return Reply(Outcome.UNAVAILABLE, _unavailable_reason(request), request=request)
        try:
            passcode = self.vault.unseal(request_id, sealed)
            logs.remember(passcode)
        except VaultError:
            log.error("request %s: sealed passcode cannot be opened with the configured keys",
                      request_id)
            return Reply(
                Outcome.UNAVAILABLE,
                "The passcode cannot be opened with the bot's current key; ask the helpdesk.",
                request=request,
            )
        try:
            await show(request, passcode)
        except Exception as exc:  # noqa: BLE001 - whatever went wrong, it was not shown
            code = exc.code if isinstance(exc, ShowFailed) else type(exc).__name__
            code = code[:100]
            log.warning("request %s: the passcode could not be shown (%s)", request_id, code)
            await self.store.note(request_id, actor=person.user_id, at=self.clock.now(),
                                  action="reveal_failed", detail=code)
            return Reply(
                Outcome.NOT_SHOWN,
                "The passcode window could not be opened, so nothing was shown. Click "
                "Show passcode again.",
                request=request, key="reveal.not_shown",
            )
        updated = await self.store.transition(
            request_id, State.REVEALED, actor=person.user_id, at=self.clock.now(),
            action="reveal", changes={"reveal_count": request.reveal_count + 1},
        )
        return Reply(Outcome.SHOWN, "", request=updated or request, passcode=passcode)

    async def sweep(self) -> int:
        """Expire undecided requests and delete passcodes past their 7 days. Returns how many."""
        now = self.clock.now()
        count = 0
        for request_id in await self.store.approvals_due(now):
            count += await self._expire_approval(request_id, now)
        purged = 0
        for request_id in await self.store.passcodes_due(now):
            purged += await self._purge(request_id, now)
        if purged or self._checkpoint_due:
            await self._checkpoint()
        return count + purged

    async def _checkpoint(self) -> None:
        """Empty the WAL after a purge, so the deleted passcode is gone from every file. A
        busy reader can hold it up: then the next sweep tries again."""
        try:
            done = await self.store.checkpoint()
        except Exception:  # the purge stands; the next sweep tries again
            log.exception("WAL checkpoint after a purge failed; the next sweep tries again")
            done = False
        if not done:
            log.info("WAL checkpoint after a purge was held up by a reader; trying again later")
        self._checkpoint_due = not done

    def _approval_lapsed(self, request: ResetRequest, now: datetime) -> bool:
        return request.approval_deadline is not None and now >= request.approval_deadline

    async def _expire_approval(self, request_id: str, now: datetime) -> int:
        done = await self.store.transition(
            request_id, State.EXPIRED, actor=SYSTEM, at=now,
            jobs=[JobSpec("notify", NotifyEvent.APPROVAL_EXPIRED)],
        )
        self.on_jobs()
        return int(done is not None)

    async def _purge(self, request_id: str, now: datetime) -> int:
        done = await self.store.transition(
            request_id, State.PASSCODE_EXPIRED, actor=SYSTEM, at=now,
            changes={"sealed_passcode": None},
            jobs=[JobSpec("notify", NotifyEvent.PASSCODE_EXPIRED)],
        )
        self.on_jobs()
        return int(done is not None)

    # -- status ---------------------------------------------------------------------------

    async def status(self, person: Person, request_id: str | None = None) -> list[ResetRequest]:
        """One request (the requester's own, or any for an approver), or the person's recent ones."""
        if not request_id:
            return await self.store.by_requester(person.user_id, limit=10)
        request = await self.store.get(request_id.strip().upper()[:20])
        if request is None:
            return []
        if request.requester_id != person.user_id and not await self.is_approver(person):
            return []
        return [request]

    async def queue(self, limit: int = 20) -> list[ResetRequest]:
        return await self.store.in_states([State.AWAITING_APPROVAL], limit=limit)

    async def open_requests(self) -> list[ResetRequest]:
        return await self.store.in_states(OPEN_STATES, limit=1000)


def _own(person: Person, devices: list[Device]) -> list[Device]:
    """The devices whose primary user is the person (their email, as the policy compares)."""
    return [d for d in devices if approval.same_email(person.email, d.primary_email)]


def _already_open(device: Device, existing: ResetRequest) -> Reply:
    return Reply(
        Outcome.ALREADY_OPEN,
        f"{device.name} already has a passcode reset in progress "
        f"({existing.id}, {existing.state.label}).",
        request=existing,
    )


def _platform_refusal(decision: Decision, facts: DeviceFacts) -> tuple[str, dict[str, str | int]]:
    """The message key and values of a platform refusal that is not its row's own reason (the
    row names that one): the OS version is unreadable, or older than the row supports."""
    info = MATRIX[decision.row]
    if decision.allowed or decision.reason == info.reason:
        return "", {}
    version = facts.os_version.strip()
    major = parse_major(facts.os_version)
    if major is None:
        return "refused.unknown_os_version", {"version": version}
    if info.min_major is not None and major < info.min_major:
        return "refused.old_os_version", {"version": version, "min": info.min_major}
    return "", {}


def _unreachable(timeout: timedelta, started: bool | None) -> str:
    """Why a reset failed when Intune stayed out of reach; ``started`` None: not known."""
    lead = f"Intune, the device-management service, could not be reached for {_span(timeout)}"
    if started is False:
        return (f"{lead}, so the passcode was not reset. Ask again, or call the helpdesk if it "
                "is urgent.")
    if started:
        return (f"{lead}, so the result of the passcode reset is unknown. The helpdesk can see "
                "it in the Intune admin center.")
    return (f"{lead}, so the bot cannot tell whether the passcode was reset. Ask the helpdesk "
            "to check the device in the Intune admin center before asking again, so it is not "
            "reset twice.")


def _span(duration: timedelta) -> str:
    """A duration as a person says it: "15 minutes", "90 seconds", "2 hours"."""
    seconds = int(duration.total_seconds())
    if seconds % 3600 == 0 and seconds >= 7200:
        return f"{seconds // 3600} hours"
    if seconds % 60 == 0 and seconds >= 120:
        return f"{seconds // 60} minutes"
    return f"{seconds} seconds"


def _unavailable_reason(request: ResetRequest | None) -> str:
    if request is None:
        return "That request does not exist."
    if request.state is State.PASSCODE_EXPIRED:
        return ("This passcode expired 7 days after it was issued and has been deleted. "
                "Ask for a new reset if you still need one.")
    if request.state in OPEN_STATES:
        return "The reset has not finished yet; you will get a message when it has."
    if request.state in {State.COMPLETED, State.REVEALED} and not request.has_passcode:
        return "This reset did not produce a passcode."
    return f"There is no passcode for this request: it is {request.state.label}."
