"""The per-channel chat.postMessage pacer, on a fake clock: assertions on the sleeps it asks for."""

from __future__ import annotations

import asyncio

import pytest

from bot.ports import Later
from handlers.slack.pacing import ChannelPacer


class FakeTime:
    """A clock that moves only when the pacer sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 9))
        self.now += seconds


def pacer(fake: FakeTime, rate: float = 1.0, burst: int = 3) -> ChannelPacer:
    return ChannelPacer(rate, burst, clock=fake.clock, sleep=fake.sleep)


def test_a_burst_goes_at_once_then_one_post_per_interval() -> None:
    fake = FakeTime()
    p = pacer(fake)
    assert [round(p.reserve("C1"), 9) for _ in range(6)] == [0, 0, 0, 1, 2, 3]


async def test_waiting_sleeps_only_past_the_burst() -> None:
    fake = FakeTime()
    p = pacer(fake, rate=2.0, burst=2)
    for _ in range(5):
        await p.wait("C1")
    # Each wait runs after the previous one's sleep moved the clock: 0, 0, then 0.5 s apart.
    assert fake.sleeps == [0.5, 0.5, 0.5]


async def test_concurrent_waiters_get_successive_slots_in_call_order() -> None:
    fake = FakeTime()
    p = pacer(fake, rate=1.0, burst=1)
    recorded: list[float] = []

    async def sleep(seconds: float) -> None:  # all are waiting at once; each wakes at its slot
        recorded.append(round(seconds, 9))
        called = fake.now
        await asyncio.sleep(0)
        fake.now = max(fake.now, called + seconds)

    p._sleep = sleep
    await asyncio.gather(*(p.wait("C1") for _ in range(4)))
    assert recorded == [1.0, 2.0, 3.0]


def test_channels_do_not_share_a_schedule() -> None:
    fake = FakeTime()
    p = pacer(fake, rate=1.0, burst=1)
    assert p.reserve("CAPPROVALS") == 0
    assert p.reserve("CAPPROVALS") == pytest.approx(1.0)
    assert p.reserve("D1") == 0  # a DM is another channel: not behind the approvals queue
    assert p.reserve("D2") == 0


def test_a_quiet_channel_earns_its_burst_back() -> None:
    fake = FakeTime()
    p = pacer(fake, rate=1.0, burst=3)
    delays = [p.reserve("C1") for _ in range(5)]
    assert delays == pytest.approx([0, 0, 0, 1, 2])
    fake.now += 10.0
    assert [p.reserve("C1") for _ in range(4)] == pytest.approx([0, 0, 0, 1])


def test_old_channels_are_forgotten_but_busy_ones_kept() -> None:
    fake = FakeTime()
    p = pacer(fake, rate=1.0, burst=1)
    for _ in range(10):
        p.reserve("CBUSY")  # its queue now reaches 10 s ahead
    for i in range(2000):
        p.reserve(f"D{i}")
        fake.now += 0.001
    assert len(p._next) < 2000  # pruned as it grew
    assert p.reserve("CBUSY") > 0  # still paced: its schedule was not dropped too early


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0)])
def test_nonsense_settings_are_refused(rate: float, burst: int) -> None:
    with pytest.raises(ValueError):
        ChannelPacer(rate, burst)


async def test_a_long_wait_comes_back_as_later_and_keeps_its_slot() -> None:
    fake = FakeTime()
    p = ChannelPacer(1.0, 1, clock=fake.clock, sleep=fake.sleep, max_sleep=0.5)
    await p.wait("C1", key="a")  # the burst: at once
    with pytest.raises(Later) as b_later:
        await p.wait("C1", key="b")
    with pytest.raises(Later) as c_later:
        await p.wait("C1", key="c")
    assert (b_later.value.seconds, c_later.value.seconds) == (1.0, 2.0)

    fake.now += 2.0  # c comes back at its time and goes at once
    await p.wait("C1", key="c")
    with pytest.raises(Later) as e_later:  # a newcomer queues behind every slot given out
        await p.wait("C1", key="e")
    assert e_later.value.seconds == 1.0
    with pytest.raises(Later) as b_again:  # b comes back late: c went a moment ago
        await p.wait("C1", key="b")
    assert b_again.value.seconds == 1.0  # one interval after c, never at once with it
    fake.now += 0.5  # e comes back half a second early: it sleeps the rest of its turn
    await p.wait("C1", key="e")
    assert fake.sleeps == [0.5]


async def test_without_a_key_a_long_wait_still_sleeps() -> None:
    fake = FakeTime()
    p = ChannelPacer(1.0, 1, clock=fake.clock, sleep=fake.sleep, max_sleep=0.0)
    p.reserve("C1")
    p.reserve("C1")
    await p.wait("C1")
    assert fake.sleeps == [2.0]
