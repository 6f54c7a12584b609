"""Time running out: an undecided request expires after APPROVAL_TIMEOUT, and a passcode is
deleted 7 days after it was issued (then the WAL is emptied, so no copy is left in a file)."""

from __future__ import annotations

import logging
from datetime import datetime

from bot.domain import ResetRequest, State
from bot.usecases.core import Core

log = logging.getLogger("bot.service")


async def sweep(core: Core) -> int:
    """Expire undecided requests and delete passcodes past their 7 days. Returns how many."""
    now = core.clock.now()
    count = 0
    for request in await core.store.approvals_due(now):
        count += await expire_approval(core, request, now)
    purged = 0
    for request in await core.store.passcodes_due(now):
        purged += await purge(core, request, now)
    if purged or core.checkpoint_due:
        await checkpoint(core)
    return count + purged


def approval_lapsed(request: ResetRequest, now: datetime) -> bool:
    return (request.state is State.AWAITING_APPROVAL and request.approval_deadline is not None
            and now >= request.approval_deadline)


async def expire_approval(core: Core, request: ResetRequest, now: datetime) -> int:
    return int(await core.store.apply(request.expire_approval(now)) is not None)


async def purge(core: Core, request: ResetRequest, now: datetime) -> int:
    return int(await core.store.apply(request.purge_passcode(now)) is not None)


async def checkpoint(core: Core) -> None:
    """Empty the WAL after a purge, so the deleted passcode is gone from every file. A busy
    reader can hold it up: then the next sweep tries again."""
    try:
        done = await core.store.checkpoint()
    except Exception:  # the purge stands; the next sweep tries again
        log.exception("WAL checkpoint after a purge failed; the next sweep tries again")
        done = False
    if not done:
        log.info("WAL checkpoint after a purge was held up by a reader; trying again later")
    core.checkpoint_due = not done
