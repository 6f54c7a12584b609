"""Never a second reset (issue 12 points 5, 6) over HTTPS against the Graph emulator: a POST
whose answer was lost is looked for in deviceActionResults and remoteActionAudits before
anything else; another admin's reset is never taken for ours; every process's resets share
Intune's write budget through the database."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.backends.graph import GraphBackend
from bot.backends.graph_http import GraphClient
from bot.ports import ActionState, BackendError, FailureCode
from bot.retry import GRAPH
from bot.storage import Store
from policy.platforms import Scope
from tests.integration.test_graph_backend import MakeBackend, device

if TYPE_CHECKING:
    from tests.fakes.graph_api import GraphEmulator
    from tests.integration.graph_fixtures import EmulatorFactory

pytest_plugins = ["tests.integration.graph_fixtures"]


class OffsetClock:
    """Graph's clock: ours moved by ``offset`` (Intune's servers need not agree with us)."""

    def __init__(self, offset: timedelta) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


async def _target(backend: GraphBackend, device_id: str):  # type: ignore[no-untyped-def]
    found = await backend.get_device(device_id)
    assert found is not None
    return found


@pytest.mark.parametrize("lost", [None, 500, 502, 503, 504],
                         ids=["dropped", "500", "502", "503-without-retry-after", "504"])
async def test_a_lost_answer_whose_action_shows_up_late_is_never_repeated(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, lost: int | None
) -> None:
    """Intune took the POST, the answer was lost, and deviceActionResults does not list the
    action for the first reads: the audit shows it, so no second POST; it then completes."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    emulator.listing_delay_reads = 3
    backend = make_backend(emulator)
    target = await _target(backend, phone["id"])
    emulator.lose_answer_next("resetPasscode", lost)
    ref = await backend.start_reset(target, Scope.DEVICE)
    assert emulator.reset_posts(phone["id"]) == 1
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 1
    states = [(await backend.action_status(ref)).state for _ in range(6)]
    assert states[-1] is ActionState.DONE
    assert emulator.reset_posts(phone["id"]) == 1


async def test_a_lost_answer_is_unconfirmed_when_the_audit_cannot_be_read(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """deviceActionResults shows nothing yet and remoteActionAudits cannot be read: the two
    reads do not both show "nothing queued", so nothing is resent."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    emulator.listing_delay_reads = 5
    backend = make_backend(emulator)
    target = await _target(backend, phone["id"])
    emulator.lose_answer_next("resetPasscode", 504)
    emulator.fail_next("remoteActionAudits", 403, times=50)
    with pytest.raises(BackendError) as caught:
        await backend.start_reset(target, Scope.DEVICE)
    assert caught.value.failure is FailureCode.UNCONFIRMED and not caught.value.retryable
    assert "remoteActionAudits: could not be read" in caught.value.message
    assert emulator.reset_posts(phone["id"]) == 1
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 1


async def test_another_admins_earlier_reset_is_not_adopted_after_a_restart(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """A helpdesk admin reset the phone 20 s before our claim; Graph's Date header says how
    Intune's clock relates to ours, so a restart does not take theirs for ours (the old
    minute of skew did)."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    claimed = datetime.now(UTC)
    emulator.add_admin_reset(phone["id"], "helpdesk@example.com", claimed - timedelta(seconds=20))
    # The audit names the admin: not ours.
    assert await backend.find_started_action(phone["id"], claimed) is None
    # And with the audit unreadable, Intune's clock alone (Date) still tells: 20 s before ours,
    # so not ours; yet with one record unread a restart does not reset either: it waits.
    emulator.fail_next("remoteActionAudits", 403, times=10)
    look = await backend.look_for_reset(phone["id"], claimed)
    assert look.ours is None and not look.clear and look.unread
    with pytest.raises(BackendError) as caught:
        await backend.find_started_action(phone["id"], claimed)
    assert caught.value.retryable


async def test_a_restart_does_not_reset_on_top_of_another_admins_later_reset(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """After our claim (and before we could POST or record anything) an admin reset the phone:
    the restart sees it is theirs (the audit names them) and ends unconfirmed, sending none."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    claimed = datetime.now(UTC)
    emulator.add_admin_reset(phone["id"], "helpdesk@example.com", claimed + timedelta(seconds=5))
    with pytest.raises(BackendError) as caught:
        await backend.find_started_action(phone["id"], claimed)
    assert caught.value.failure is FailureCode.UNCONFIRMED
    # People read it by code, naming the admin Intune reported (as the view shows a literal).
    assert caught.value.params == {"words": "reset_unconfirmed.other",
                                   "name": "helpdesk@example.com"}


async def test_another_admins_reset_right_after_our_lost_post_stops_us(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """Our POST never reached Intune (a gateway's 504); meanwhile an admin reset the phone in
    the admin centre. deviceActionResults cannot tell whose it is; the audit names them: not
    ours, and not "nothing queued" either, so no reset of ours on top of theirs."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    target = await _target(backend, phone["id"])
    emulator.fail_next("resetPasscode", 504)
    emulator.add_admin_reset(phone["id"], "helpdesk@example.com",
                             datetime.now(UTC) + timedelta(seconds=1))
    with pytest.raises(BackendError) as caught:
        await backend.start_reset(target, Scope.DEVICE)
    assert caught.value.failure is FailureCode.UNCONFIRMED
    assert "helpdesk@example.com" in caught.value.message
    assert caught.value.params["name"] == "helpdesk@example.com"
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 1


async def test_our_reset_is_found_when_intunes_clock_runs_minutes_behind(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """Intune stamps actions on its own clock, five minutes behind ours: read through the Date
    header, our lost-answer reset is still recognised and followed to its end."""
    phone = device("pixel")
    emulator = await make_emulator([phone], clock=OffsetClock(timedelta(minutes=-5)))
    emulator.listing_delay_reads = 1
    backend = make_backend(emulator)
    target = await _target(backend, phone["id"])
    emulator.lose_answer_next("resetPasscode", None)
    ref = await backend.start_reset(target, Scope.DEVICE)
    states = [(await backend.action_status(ref)).state for _ in range(4)]
    assert states[-1] is ActionState.DONE
    assert emulator.reset_posts(phone["id"]) == 1


async def test_a_passcode_present_while_still_pending_is_delivered(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone], action_pending_reads=100)
    emulator.passcode_while_pending = True
    backend = make_backend(emulator)
    ref = await backend.start_reset(await _target(backend, phone["id"]), Scope.DEVICE)
    status = await backend.action_status(ref)
    assert emulator.action_results(phone["id"])[-1]["actionState"] == "pending"
    assert status.state is ActionState.DONE and status.passcode == emulator.issued_passcode(
        phone["id"])


async def _budgeted_backend(emulator: GraphEmulator, store: Store | None) -> GraphBackend:
    from tests.integration.graph_fixtures import settings_for

    graph = GraphClient.from_settings(settings_for(emulator), sleep=asyncio.sleep,
                                      retry=GRAPH)
    backend = GraphBackend(graph, write_budget=(LIMIT, WINDOW_S))
    if store is not None:
        backend.share_budget(store)
    return backend


LIMIT, WINDOW_S = 8, 1.0


async def test_many_resets_in_two_processes_stay_within_intunes_write_budget(
    make_emulator: EmulatorFactory, tmp_path: Path
) -> None:
    """Intune allows so many writes per window per app (200 / 20 s; here 8 / 1 s) and answers
    the rest 429 without Retry-After. Two bot processes (two database connections, two Graph
    clients) resetting 24 devices between them never go over it: the budget is the
    database's."""
    phones = [device(f"phone{i}") for i in range(24)]
    emulator = await make_emulator(phones)
    emulator.throttle_writes(LIMIT, WINDOW_S)
    path = str(tmp_path / "bot.db")
    stores = [await Store.open(path), await Store.open(path)]
    backends = [await _budgeted_backend(emulator, s) for s in stores]
    try:
        targets = [await _target(backends[0], p["id"]) for p in phones]
        await asyncio.gather(*(backends[i % 2].start_reset(t, Scope.DEVICE)
                               for i, t in enumerate(targets)))
    finally:
        for backend in backends:
            await backend.aclose()
            await backend.graph.aclose()
        for store in stores:
            await store.close()
    assert emulator.throttled_writes == 0
    assert emulator.max_writes_in(WINDOW_S) <= LIMIT
    assert all(emulator.reset_posts(p["id"]) == 1 for p in phones)
