"""The picker's fallback on a miss (bot/backends/fallback.py) over a lookup the test controls:
one lookup per key at a time, a bounded number at once and waiting, misses remembered for a
while, a slow lookup learnt afterwards, failures answered as nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.backends.fallback import MissFallback
from bot.clock import ManualClock
from bot.ports import BackendError, Device
from policy.platforms import DeviceFacts


def dev(name: str) -> Device:
    return Device(id=f"id-{name}", name=name, serial=f"S-{name}", facts=DeviceFacts("Android"))


class Lookups:
    """Answers each key with ``known[key]`` once let go (``gate``); records what it was asked."""

    def __init__(self, known: dict[str, list[Device]] | None = None) -> None:
        self.known = known or {}
        self.asked: list[str] = []
        self.running = 0
        self.most_running = 0
        self.gate = asyncio.Event()
        self.gate.set()
        self.fail: Exception | None = None

    async def __call__(self, key: str) -> list[Device]:
        self.asked.append(key)
        self.running += 1
        self.most_running = max(self.most_running, self.running)
        try:
            await self.gate.wait()
            if self.fail is not None:
                raise self.fail
            return self.known.get(key.casefold(), [])
        finally:
            self.running -= 1


def fallback(lookups: Lookups, learnt: list[Device], clock: ManualClock | None = None,
             **kwargs: float) -> MissFallback:
    return MissFallback(lookups, learnt.extend, clock or ManualClock(), **kwargs)  # type: ignore[arg-type]


async def test_a_found_device_is_answered_and_learnt() -> None:
    lookups, learnt = Lookups({"ser-x": [dev("x")]}), list[Device]()
    miss = fallback(lookups, learnt)
    assert await miss.after_miss("  SER-X ") == [dev("x")]
    assert learnt == [dev("x")]
    assert lookups.asked == ["SER-X"]


async def test_short_keys_are_never_asked() -> None:
    lookups, learnt = Lookups(), list[Device]()
    miss = fallback(lookups, learnt)
    assert await miss.after_miss("ab") == []
    assert await miss.after_miss("  a ") == []
    assert lookups.asked == []


async def test_a_miss_is_remembered_until_its_time_is_up() -> None:
    lookups, learnt, clock = Lookups(), list[Device](), ManualClock()
    miss = fallback(lookups, learnt, clock)
    for text in ("nope", "NOPE", "nope "):
        assert await miss.after_miss(text) == []
    assert lookups.asked == ["nope"]
    clock.advance(timedelta(seconds=31))
    lookups.known["nope"] = [dev("nope")]
    assert await miss.after_miss("nope") == [dev("nope")]
    miss.forget_misses()
    assert len(lookups.asked) == 2


async def test_the_same_key_at_once_shares_one_lookup() -> None:
    lookups, learnt = Lookups({"ser-x": [dev("x")]}), list[Device]()
    lookups.gate.clear()
    miss = fallback(lookups, learnt)
    waiting = [asyncio.create_task(miss.after_miss(k)) for k in ("ser-x", "SER-X", "Ser-X")]
    await asyncio.sleep(0.01)
    lookups.gate.set()
    assert await asyncio.gather(*waiting) == [[dev("x")]] * 3
    assert lookups.asked == ["ser-x"]
    assert learnt == [dev("x")]


async def test_lookups_at_once_are_bounded_and_beyond_the_queue_a_miss_is_not_asked() -> None:
    lookups, learnt = Lookups(), list[Device]()
    lookups.gate.clear()
    miss = fallback(lookups, learnt, max_in_flight=2, max_queued=3, wait_s=5.0)
    waiting = [asyncio.create_task(miss.after_miss(f"key-{i}")) for i in range(3)]
    await asyncio.sleep(0.01)
    assert lookups.running == 2  # the third waits its turn
    assert await miss.after_miss("key-over") == []  # the queue is full: answered at once
    lookups.gate.set()
    assert await asyncio.gather(*waiting) == [[], [], []]
    assert sorted(lookups.asked) == ["key-0", "key-1", "key-2"]
    assert lookups.most_running == 2


async def test_a_slow_lookup_answers_nothing_now_and_is_learnt_when_it_ends() -> None:
    lookups, learnt = Lookups({"slow-one": [dev("slow")]}), list[Device]()
    lookups.gate.clear()
    miss = fallback(lookups, learnt, wait_s=0.01)
    assert await miss.after_miss("slow-one") == []
    assert learnt == []
    lookups.gate.set()
    for _ in range(100):
        if learnt:
            break
        await asyncio.sleep(0.01)
    assert learnt == [dev("slow")]


async def test_a_failed_lookup_answers_nothing_and_is_not_retried_at_once() -> None:
    lookups, learnt = Lookups(), list[Device]()
    lookups.fail = BackendError("Graph is down")
    miss = fallback(lookups, learnt)
    assert await miss.after_miss("down-key") == []
    assert await miss.after_miss("down-key") == []
    lookups.fail = RuntimeError("a bug")
    assert await miss.after_miss("other-key") == []
    assert lookups.asked == ["down-key", "other-key"]


async def test_closing_stops_the_lookups_still_running() -> None:
    lookups, learnt = Lookups(), list[Device]()
    lookups.gate.clear()
    miss = fallback(lookups, learnt, wait_s=0.01)
    assert await miss.after_miss("hanging") == []
    assert lookups.running == 1
    await miss.aclose()
    assert lookups.running == 0
