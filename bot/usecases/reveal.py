"""Showing the passcode: to the requester alone, any number of times within its 7 days,
recorded only once it was shown."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from bot import logs
from bot.domain import OPEN_STATES, ResetRequest, State
from bot.usecases.core import Core, Outcome, Person, Reply, unknown_request
from bot.usecases.expire import checkpoint, purge
from bot.vault import VaultError

log = logging.getLogger("bot.service")


class ShowFailed(Exception):
    """The surface could not show the passcode; ``code`` says why (e.g. Slack's error code)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


# Shows the passcode to the requester (the surface's modal); returns once it is shown, raises
# (ShowFailed, ideally) when it is not. Given the request and the plain passcode.
Show = Callable[[ResetRequest, str], Awaitable[None]]


async def reveal(core: Core, request_id: str, person: Person, show: Show) -> Reply:
    """The requester alone sees the passcode, any number of times within its 7 days.

    ``show`` puts it in front of them (the surface's modal); the reveal is recorded only once
    it returns. When it raises, the failure is recorded instead (no state change) and the
    outcome is NOT_SHOWN."""
    request = await core.store.get(request_id)
    if request is None:
        return unknown_request()
    if person.user_id != request.requester_id:
        return Reply(Outcome.NOT_ALLOWED, "reveal.not_requester", request=request)
    now = core.clock.now()
    if request.has_passcode and request.passcode_expires_at and now >= request.passcode_expires_at:
        if await purge(core, request, now):
            await checkpoint(core)
        request = await core.store.get(request_id)
    if request is None or not request.passcode_available(now):
        return unavailable(request)
    sealed = await core.store.sealed_passcode(request_id)
    if sealed is None:
        return unavailable(request)
    try:
        passcode = core.vault.unseal(request_id, sealed)
        logs.remember(passcode)
    except VaultError:
        log.error("request %s: sealed passcode cannot be opened with the configured keys",
                  request_id)
        return Reply(Outcome.UNAVAILABLE, "unavailable.key", request=request)
    try:
        await show(request, passcode)
    except Exception as exc:  # noqa: BLE001 - whatever went wrong, it was not shown
        code = exc.code if isinstance(exc, ShowFailed) else type(exc).__name__
        code = code[:100]
        log.warning("request %s: the passcode could not be shown (%s)", request_id, code)
        await core.store.apply(request.note(person.user_id, core.clock.now(), "reveal_failed",
                                            code))
        return Reply(Outcome.NOT_SHOWN, "reveal.not_shown", request=request)
    updated = await core.store.apply(request.reveal(person.user_id, core.clock.now()))
    return Reply(Outcome.SHOWN, "shown", request=updated or request, passcode=passcode)


def unavailable(request: ResetRequest | None) -> Reply:
    """Why there is no passcode to show, by the request's state."""
    if request is None:
        return Reply(Outcome.UNAVAILABLE, "unknown_request")
    if request.state is State.PASSCODE_EXPIRED:
        key = "unavailable.expired"
    elif request.state in OPEN_STATES:
        key = "unavailable.open"
    elif request.state in {State.COMPLETED, State.REVEALED} and not request.has_passcode:
        key = "unavailable.none"
    else:
        return Reply(Outcome.UNAVAILABLE, "unavailable.state", {"state": request.state.value},
                     request=request)
    return Reply(Outcome.UNAVAILABLE, key, request=request)
