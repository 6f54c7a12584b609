"""Executing an approved request: one backend action, whatever crashes or repeats happen, then
polling it to its end and recording the result (the passcode sealed at once)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot import logs
from bot.domain import ResetRequest, State
from bot.ports import ActionRef, ActionState, BackendError, FailureCode
from bot.retry import POLL
from bot.usecases.core import Core
from policy.membership import maybe_same_person

log = logging.getLogger("bot.service")

# Backend polling after the reset starts: quick at first so a fast result reaches the
# requester within seconds, then backing off (product.md "Timing"; bot/retry.py's POLL).
POLL_DELAYS = POLL.delays


async def execute(core: Core, request_id: str) -> None:
    """Run the reset of an approved request: one backend action, whatever crashes or repeats
    happen. Raises BackendError(retryable) to be tried again by the job queue."""
    request = await core.store.get(request_id)
    if request is None:
        return
    fresh = False
    # Set on an approved request only when an approver chose Try again after an unconfirmed
    # reset: when that first attempt started.
    earlier = request.action_started_at if request.state is State.APPROVED else None
    if request.state is State.APPROVED:
        claimed = await core.store.apply(request.start_execution(core.clock.now()))
        if claimed is not None:
            request, fresh = claimed, True
        else:
            request = await core.store.get(request_id)
    if request is None or request.state is not State.EXECUTING:
        return
    assert request.action_started_at is not None
    timeout = core.config.execution_timeout
    # Until the reset is started, an outage may hold it up for EXECUTION_TIMEOUT from the
    # approval; once started, the device has EXECUTION_TIMEOUT from then to confirm it.
    deadline = request.action_started_at + timeout
    ref: ActionRef | None = None
    try:
        ref = await _start_once(core, request, fresh and earlier is None, deadline,
                                since=earlier)
        if ref is None:
            return
        deadline = max(deadline, await _recorded_at(core, request.id) + timeout)
        await _await_result(core, request, ref, deadline)
    except BackendError as exc:
        if exc.failure is FailureCode.UNCONFIRMED:
            # Intune may or may not have queued the reset: nothing more is sent; the people
            # are told, and an approver may choose Try again (issue 12 point 5).
            log.warning("request %s: reset unconfirmed: %s", request_id, exc.message)
            await core.store.apply(request.unconfirm(
                core.clock.now(), exc.params or {"words": "reset_unconfirmed"}))
            return
        if exc.retryable and core.clock.now() < deadline:
            raise
        if not exc.retryable:
            await _finish_failed(core, request, exc.failure, exc.message,
                                 words=_own_words(exc.failure, exc.message))
            return
        # The service stayed unreachable: say so plainly; the technical detail is logged.
        log.warning("request %s: giving up after %s: %s", request_id, timeout, exc.message)
        started = True if ref is not None or request.action_ref else None
        await _finish_failed(core, request, FailureCode.TIMED_OUT,
                             **_unreachable(timeout, started))


async def _start_once(
    core: Core, request: ResetRequest, fresh: bool, deadline: datetime,
    since: datetime | None = None,
) -> ActionRef | None:
    assert request.action_started_at is not None
    if request.action_ref:
        return ActionRef(request.device_id, request.action_started_at, request.action_ref)
    if not fresh:
        # A restart, or a retry after an error: the reset may have started before we could
        # record it. Read the backend's action list instead of starting a second reset.
        # (Any reset of ours started after action_started_at; the backend allows for its
        # own clock's skew.) After Try again: since the unconfirmed attempt.
        found = await core.backend.find_started_action(
            request.device_id, since or request.action_started_at
        )
        if found is not None:
            await _record_action(core, request, found, "found after restart")
            return found
    if core.clock.now() >= deadline:
        # Intune came back too late: a reset started now would outlive the request.
        await _finish_failed(core, request, FailureCode.TIMED_OUT,
                             **_unreachable(core.config.execution_timeout, started=False))
        return None
    device = await core.backend.get_device(request.device_id)
    if device is None:
        await _finish_failed(core, request, FailureCode.DEVICE_NOT_FOUND, words="device_gone")
        return None
    owner = await core.backend.owner_of(device)  # live, by directory id (ports.owner_of)
    if _owner_changed(request, owner.user_id, device.primary_email):
        # The approver approved a reset of this owner's device, and an end user may ask only
        # for their own: a device that changed hands since is somebody else's now.
        await _finish_failed(core, request, FailureCode.OWNER_CHANGED, words="owner_changed")
        return None
    ref = await core.backend.start_reset(device, request.scope)
    await _record_action(core, request, ref, "reset started")
    return ref


def _owner_changed(request: ResetRequest, owner_id: str, shown_email: str) -> bool:
    """Whether the device's primary user is another than the request recorded: compared by
    directory id (none and none are the same). A request stored before the bot read ids
    (``device_owner_id`` None) compares the email it recorded with the device's, as then."""
    if request.device_owner_id is not None:
        return request.device_owner_id != owner_id
    recorded = request.device_owner_email
    if not recorded.strip() and not shown_email.strip():
        return False
    return not maybe_same_person(recorded, shown_email)


async def _record_action(core: Core, request: ResetRequest, ref: ActionRef, detail: str) -> None:
    await core.store.apply(request.record_action(ref.ref, core.clock.now(), detail))


async def _recorded_at(core: Core, request_id: str) -> datetime:
    """When the reset was recorded as started (just after the backend took it)."""
    request = await core.store.get(request_id)
    recorded = request.action_recorded_at if request is not None else None
    return recorded or core.clock.now()


async def _await_result(
    core: Core, request: ResetRequest, ref: ActionRef, deadline: datetime
) -> None:
    reads = 0
    while True:
        reads += 1
        status = await core.backend.action_status(ref)
        if status.state is ActionState.DONE:
            await _finish_done(core, request, status.passcode)
            return
        if status.state is ActionState.FAILED:
            failure = status.failure or FailureCode.BACKEND_ERROR
            await _finish_failed(core, request, failure, status.detail,
                                 words=_own_words(failure, status.detail))
            return
        if core.clock.now() >= deadline:
            await _finish_failed(core, request, FailureCode.TIMED_OUT, words="unconfirmed")
            return
        await core.sleep(POLL.delay(reads))


async def _finish_done(core: Core, request: ResetRequest, passcode: str | None) -> None:
    now = core.clock.now()
    sealed = None
    if passcode:
        logs.remember(passcode)
        # Sealed at once: the plain passcode never reaches the database or a log.
        sealed = core.vault.seal(request.id, passcode)
    await core.store.apply(request.complete(now, sealed, now + core.config.passcode_ttl))


async def _finish_failed(
    core: Core, request: ResetRequest, failure: FailureCode, detail: str = "", *,
    words: str = "", seconds: int | None = None,
) -> None:
    """Record the failure: ``detail`` is the backend's own words, ``words`` the code of ours
    (the catalogs' ``failure.<words>``), with ``seconds`` when they name a span of time."""
    params: dict[str, str | int] = {"words": words} if words else {}
    if seconds is not None:
        params["seconds"] = seconds
    await core.store.apply(request.fail(failure.value, detail, core.clock.now(), params))


def _own_words(failure: FailureCode, detail: str) -> str:
    """Our words for a failure the backend gave no words for: a reset policy refuses (the
    backends check policy before they call Intune) is worded by the service."""
    return "not_supported" if failure is FailureCode.NOT_SUPPORTED and not detail else ""


def _unreachable(timeout: timedelta, started: bool | None) -> dict[str, Any]:
    """Why a reset failed when Intune stayed out of reach; ``started`` None: not known."""
    ending = "unknown" if started is None else "started" if started else "not_started"
    return {"words": f"unreachable.{ending}", "seconds": int(timeout.total_seconds())}
