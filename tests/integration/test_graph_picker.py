"""The picker on the Intune backend against the Graph emulator over HTTPS: a device enrolled
after the index was loaded is found by a live exact lookup on a miss, and learnt; what Graph's
$filter answers is re-checked (eq that matches substrings, filters ignored); an end user's
search never reaches another person's device, learnt or not."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest

from bot.backends.graph import GraphBackend
from bot.clock import ManualClock
from bot.ports import BackendError, Device
from bot.retry import GRAPH
from tests.integration.test_graph_backend import device

if TYPE_CHECKING:
    from tests.integration.graph_fixtures import EmulatorFactory

pytest_plugins = ["tests.integration.graph_fixtures"]

MakeBackend = Callable[..., GraphBackend]


def names(devices: list[Device]) -> list[str]:
    return [d.name for d in devices]


async def test_a_device_enrolled_after_start_is_found_by_serial_name_and_id_then_learnt(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([device(f"pixel-{i}") for i in range(3)])
    backend = make_backend(emulator)
    assert names(await backend.search_devices("pixel")) == ["pixel-0", "pixel-1", "pixel-2"]

    phone, tablet, laptop = device("phone-new"), device("tab-new"), device("lap-new")
    for new in (phone, tablet, laptop):
        emulator.add_device(new)
    assert names(await backend.search_devices("SER-PHONE-NEW")) == ["phone-new"]  # serial
    assert names(await backend.search_devices("Tab-New")) == ["tab-new"]  # name
    assert [d.id for d in await backend.search_devices(laptop["id"].upper())] == [laptop["id"]]
    lookups = len(emulator.device_lookups())

    # Learnt: the next keystrokes (substrings now) come from the index, with no lookup.
    assert names(await backend.search_devices("-new")) == ["lap-new", "phone-new", "tab-new"]
    assert names(await backend.search_devices("phone-ne")) == ["phone-new"]
    assert len(emulator.device_lookups()) == lookups
    assert names(await backend.search_devices("pixel")) == ["pixel-0", "pixel-1", "pixel-2"]
    # An id the index knows is answered from it, not asked again.
    assert [d.id for d in await backend.search_devices(phone["id"])] == [phone["id"]]
    assert len(emulator.device_lookups()) == lookups
    assert emulator.graph_requests(phone["id"]) == []  # no GET by id either


async def test_a_lookup_keeps_only_true_matches_when_eq_matches_substrings(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([device("galaxy")])
    emulator.eq_matches_substrings("deviceName", "serialNumber")
    backend = make_backend(emulator)
    assert names(await backend.search_devices("galaxy")) == ["galaxy"]  # index loaded

    for name in ("tab-new", "tab-new-2", "my tab-new", "TAB-NEWER"):
        emulator.add_device(device(name, serial=f"S-{len(name)}-{name[:3]}"))
    found = await backend.search_devices("tab-new")
    assert names(found) == ["tab-new"]
    # The fake really answered the near misses too: the check is ours, not Graph's.
    assert any("deviceName eq 'tab-new'" in q for q in emulator.device_lookups())
    # ...and the index learnt only the true match.
    assert names(await backend.search_devices("tab-")) == ["tab-new"]


async def test_a_lookup_keeps_only_true_matches_when_the_filter_is_ignored(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([device("galaxy")], filterable=(), page_size=2)
    backend = make_backend(emulator)
    assert names(await backend.search_devices("gal")) == ["galaxy"]
    others = [device(f"other-{i}") for i in range(5)]
    for new in [*others, device("mine-new")]:
        emulator.add_device(new)
    assert names(await backend.search_devices("SER-MINE-NEW")) == ["mine-new"]
    assert any("$skiptoken" in q for _, _, q, _ in emulator.requests)  # every device came
    assert await backend.search_devices("other-") == []  # the ignored rows were not learnt


async def test_an_end_user_never_gets_another_persons_device_from_lookup_or_index(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([device("alice-old"), device("bob-old", email="bob@x.org")])
    backend = make_backend(emulator)
    alice, bob = "alice@example.com", "bob@x.org"
    assert names(await backend.search_devices("", primary_email=alice)) == ["alice-old"]

    emulator.add_device(device("bob-new", email=bob))
    # alice types bob's new serial: no answer, and no live lookup on her behalf.
    assert await backend.search_devices("SER-BOB-NEW", primary_email=alice) == []
    assert emulator.device_lookups() == []
    # An approver finds it (live); the index learns it, and still gives it only to bob.
    assert names(await backend.search_devices("SER-BOB-NEW")) == ["bob-new"]
    for text in ("SER-BOB-NEW", "bob-new", "bob", "new", ""):
        seen = names(await backend.search_devices(text, primary_email=alice))
        assert seen == (["alice-old"] if text == "" else []), text
    assert names(await backend.search_devices("bob", primary_email=bob)) == ["bob-new", "bob-old"]
    assert await backend.find_devices("SER-BOB-NEW", primary_email=alice) == []


async def test_a_miss_is_asked_once_then_not_again_for_a_while(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, clock: ManualClock
) -> None:
    emulator = await make_emulator([device("galaxy")])
    backend = make_backend(emulator, clock=clock)
    assert await backend.search_devices("zz") == []  # too short to name a device: not asked
    assert emulator.device_lookups() == []
    for _ in range(3):
        assert await backend.search_devices("zzzz") == []
    assert len(emulator.device_lookups()) == 2  # serialNumber, then deviceName: once

    emulator.add_device(device("zzzz"))
    clock.advance(timedelta(seconds=31))
    assert names(await backend.search_devices("ZZZZ")) == ["zzzz"]
    assert len(emulator.device_lookups()) == 4


async def test_a_slow_lookup_answers_empty_and_the_next_keystroke_finds_the_device(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([device("galaxy")])
    backend = make_backend(emulator, lookup_wait_s=0.05)
    assert names(await backend.search_devices("gal")) == ["galaxy"]
    emulator.add_device(device("slow-new"))
    hold = emulator.hold_next("/managedDevices", method="GET")
    assert await backend.search_devices("SER-SLOW-NEW") == []  # Graph has not answered yet
    await hold.wait_handled()
    hold.release()
    for _ in range(100):  # the lookup finishes in the background
        if names(await backend.search_devices("slow-n")) == ["slow-new"]:
            break
        await asyncio.sleep(0.01)
    assert names(await backend.search_devices("slow-n")) == ["slow-new"]


async def test_a_device_found_while_the_index_reloads_stays_in_the_new_index(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, clock: ManualClock
) -> None:
    emulator = await make_emulator([device("galaxy")])
    backend = make_backend(emulator, clock=clock, index_refresh=timedelta(minutes=10))
    assert names(await backend.search_devices("gal")) == ["galaxy"]
    hold = emulator.hold_next("/managedDevices", method="GET")  # the reload's list
    clock.advance(timedelta(minutes=11))
    assert names(await backend.search_devices("gal")) == ["galaxy"]  # starts the reload
    await hold.wait_handled()
    emulator.add_device(device("late-new"))  # enrolled after the reload's list was read
    assert names(await backend.search_devices("SER-LATE-NEW")) == ["late-new"]
    hold.release()
    await backend._index._tasks["refresh"]  # the reload, done
    assert names(await backend.search_devices("late")) == ["late-new"]


def graph_time(clock: ManualClock, later: timedelta = timedelta(0)) -> str:
    return (clock.now() + later).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


async def wait_for(backend: GraphBackend, text: str, name: str) -> list[str]:
    """Keystrokes until ``name`` shows for ``text`` (a background delta is running)."""
    for _ in range(200):
        found = names(await backend.search_devices(text))
        if name in found:
            return found
        await asyncio.sleep(0.01)
    return names(await backend.search_devices(text))


async def test_a_delta_finds_a_device_enrolled_since_by_any_part_of_its_name(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, clock: ManualClock
) -> None:
    """A part of a name that other devices share hits the index, so no live lookup runs:
    the delta (enrolledDateTime gt, every minute) brings the new device in."""
    old = device("tab-old", enrolledDateTime=graph_time(clock, -timedelta(days=90)))
    emulator = await make_emulator([old])
    backend = make_backend(emulator, clock=clock)
    assert names(await backend.search_devices("tab")) == ["tab-old"]
    emulator.add_device(device("tab-zed",
                               enrolledDateTime=graph_time(clock, timedelta(seconds=30))))
    assert names(await backend.search_devices("tab")) == ["tab-old"]  # no delta due yet
    clock.advance(timedelta(seconds=61))
    assert await wait_for(backend, "tab", "tab-zed") == ["tab-old", "tab-zed"]
    lookups = emulator.device_lookups()
    assert lookups and all("enrolledDateTime gt" in q for q in lookups)  # no exact lookup


async def test_a_delta_whose_filter_graph_ignores_stops_and_learns_nothing_false(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, clock: ManualClock
) -> None:
    devices = [device(f"tab-{i}", enrolledDateTime=graph_time(clock, -timedelta(days=9)))
               for i in range(3)]
    emulator = await make_emulator(devices)
    emulator.date_filterable.clear()  # the filter is ignored: every device comes back
    backend = make_backend(emulator, clock=clock)
    assert names(await backend.search_devices("tab")) == ["tab-0", "tab-1", "tab-2"]

    def deltas() -> int:
        return sum("enrolledDateTime" in q for q in emulator.device_lookups())

    clock.advance(timedelta(seconds=61))
    await backend.search_devices("tab")
    for _ in range(200):
        if deltas() and not any(t for t in asyncio.all_tasks() if "delta" in t.get_name()):
            break
        await asyncio.sleep(0.01)
    assert deltas() == 1
    for _ in range(3):  # no more deltas: the one answer showed Graph ignores the filter
        clock.advance(timedelta(seconds=61))
        assert names(await backend.search_devices("tab")) == ["tab-0", "tab-1", "tab-2"]
        await asyncio.sleep(0.02)
    assert deltas() == 1


async def test_a_full_load_leaves_the_collector_on_whether_it_worked_or_failed(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """The load turns garbage collection off while it reads and indexes the devices; a load
    that fails half way must not leave it off for the life of the process."""
    emulator = await make_emulator([device(f"tab-{i}") for i in range(5)], page_size=2)
    backend = make_backend(emulator, retry=replace(GRAPH, attempts=1))
    await backend.refresh_index()
    assert gc.isenabled()
    emulator.fail_next("/managedDevices", status=400, times=1)
    with pytest.raises(BackendError):
        await backend.refresh_index()
    assert gc.isenabled()
    assert names(await backend.search_devices("tab-")) == [f"tab-{i}" for i in range(5)]
