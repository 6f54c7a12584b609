"""Attacks from the review of issue 12 point 5 (never a second reset), over HTTPS against the
Graph fake: a restart must not read "nothing queued yet" as "nothing queued"."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.backends.graph import GraphBackend
from bot.backends.graph_http import GraphClient
from bot.clock import ManualClock
from bot.config import Settings
from bot.ports import BackendError
from bot.retry import GRAPH
from policy.platforms import Scope
from tests.integration.test_graph_backend import device

if TYPE_CHECKING:
    from tests.fakes.graph_api import GraphEmulator
    from tests.integration.graph_fixtures import EmulatorFactory

pytest_plugins = ["tests.integration.graph_fixtures"]


def backend_on(emulator: GraphEmulator, clock: ManualClock) -> GraphBackend:
    """A bot process's backend; its waits move the shared clock (Intune's time passes)."""
    settings = Settings(_env_file=None, **emulator.settings_overrides())  # type: ignore[call-arg]
    graph = GraphClient.from_settings(settings, clock=clock, sleep=clock.sleep,
                                      retry=replace(GRAPH, attempts=3))
    return GraphBackend(graph, clock=clock)


async def test_a_restart_right_after_the_post_gives_intune_the_grace_window(
    make_emulator: EmulatorFactory,
) -> None:
    """The bot claims the request, POSTs resetPasscode, Intune takes it, and the process dies
    before the answer arrives. It restarts at once; Intune's two records list the action
    only some seconds later. Reading them at once shows nothing, which is not "nothing was
    queued": the restart must give Intune the grace window a lost answer gets, then find the
    reset and follow it, never POST a second one."""
    clock = ManualClock()
    phone = device("pixel")
    emulator = await make_emulator([phone], clock=clock)
    emulator.records_lag = timedelta(seconds=10)
    first = backend_on(emulator, clock)
    second = backend_on(emulator, clock)
    try:
        target = await first.get_device(phone["id"])
        assert target is not None
        claimed = clock.now()
        held = emulator.hold_next("/resetPasscode", method="POST")
        posting = asyncio.create_task(first.start_reset(target, Scope.DEVICE))
        await held.wait_handled()
        posting.cancel()  # the process dies with the POST in flight
        with contextlib.suppress(asyncio.CancelledError):
            await posting
        held.release()
        assert emulator.reset_posts(phone["id"]) == 1

        found = await second.find_started_action(phone["id"], claimed)
        assert found is not None  # else execute POSTs again: a second reset
        assert emulator.reset_posts(phone["id"]) == 1
    finally:
        for backend in (first, second):
            await backend.aclose()
            await backend.graph.aclose()


async def test_our_clock_stepping_back_after_a_lost_post_does_not_send_a_second(
    make_emulator: EmulatorFactory,
) -> None:
    """Our clock runs 10 s fast and NTP steps it back during the grace window after a lost
    answer. Intune took the POST; both records list it with Intune's stamp. The bot must
    find it (or end unconfirmed), never POST again: "since our POST" is Graph's clock as it
    stood at the POST, not as the latest answer tells it after our clock moved."""
    intune = ManualClock()
    ours = ManualClock(intune.now() + timedelta(seconds=10))
    stepped = False

    async def sleep(seconds: float) -> None:
        nonlocal stepped
        intune.advance(timedelta(seconds=seconds))
        ours.advance(timedelta(seconds=seconds if stepped else seconds - 10))
        stepped = True

    phone = device("pixel")
    emulator = await make_emulator([phone], clock=intune)
    settings = Settings(_env_file=None, **emulator.settings_overrides())  # type: ignore[call-arg]
    graph = GraphClient.from_settings(settings, clock=ours, sleep=sleep,
                                      retry=replace(GRAPH, attempts=3))
    backend = GraphBackend(graph, clock=ours)
    try:
        target = await backend.get_device(phone["id"])  # Graph's clock learnt: 10 s behind ours
        assert target is not None
        emulator.lose_answer_next("resetPasscode", 504)
        with contextlib.suppress(BackendError):
            await backend.start_reset(target, Scope.DEVICE)
        assert emulator.reset_posts(phone["id"]) == 1
    finally:
        await backend.aclose()
        await graph.aclose()
