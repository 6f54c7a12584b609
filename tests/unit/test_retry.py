"""The retry policy (bot/retry.py): steps, cap, jitter, Retry-After, limits, testing switch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from dataclasses import replace

import pytest

from bot import retry
from bot.domain import JobKind
from bot.jobs import POLICIES
from bot.retry import GRAPH, JOB_EXECUTE, JOB_NOTIFY, POLL, Backoff, Schedule, jittered


def draws(policy: Backoff, retry_no: int, n: int = 500) -> list[float]:
    return [policy.delay(retry_no) for _ in range(n)]


def test_steps_double_from_the_base_delay_up_to_the_cap() -> None:
    policy = Backoff(attempts=10, base_delay=0.5, max_delay=4.0)
    assert [policy.step(n) for n in range(1, 7)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


@pytest.mark.parametrize("retry_no", [1, 2, 3, 6, 12])
def test_graph_delays_stay_between_half_and_all_of_the_step(retry_no: int) -> None:
    step = GRAPH.step(retry_no)
    delays = draws(GRAPH, retry_no)
    assert all(0.5 * step <= d <= step for d in delays)
    assert max(delays) <= GRAPH.max_delay


def test_jitter_spreads_the_delays_over_the_whole_range() -> None:
    """Not a constant factor: the draws reach both ends of the range."""
    delays = [jittered(10.0, (0.8, 1.2)) for _ in range(2000)]
    assert min(delays) < 8.2 and max(delays) > 11.8
    assert all(8.0 <= d <= 12.0 for d in delays)


def test_job_delays_are_two_to_the_attempts_within_twenty_percent_and_capped() -> None:
    for attempts in (1, 3, 5, 8):
        base = float(min(2**attempts, 300))
        assert all(0.8 * base <= d <= 1.2 * base for d in draws(JOB_NOTIFY, attempts))
    assert all(48.0 <= d <= 72.0 for d in draws(JOB_EXECUTE, 12))  # execute: a minute
    assert all(240.0 <= d <= 360.0 for d in draws(JOB_NOTIFY, 12))  # notify: five minutes


def test_each_job_kind_has_its_policy_with_todays_limits() -> None:
    assert set(POLICIES) == set(JobKind)
    assert POLICIES[JobKind.NOTIFY].attempts == 12
    assert POLICIES[JobKind.EXECUTE].attempts == 200
    assert not POLICIES[JobKind.NOTIFY].may_retry(12)
    assert POLICIES[JobKind.NOTIFY].may_retry(11)


def test_a_retry_after_is_waited_out_as_given() -> None:
    assert GRAPH.delay(1, 30.0) == 30.0
    assert GRAPH.delay(4, 0.0) == 0.0
    assert GRAPH.delay(1, 30.0, throttled=True) == 30.0


def test_a_throttled_answer_without_retry_after_waits_the_throttle_window_jittered() -> None:
    """Intune's window is 20 s: a wait inside it would be throttled again (issue 12)."""
    delays = [GRAPH.delay(1, throttled=True) for _ in range(500)]
    assert all(20.0 <= d <= 25.0 for d in delays) and len(set(delays)) > 1
    plain = replace(GRAPH, throttle_wait=None)
    assert all(d <= plain.step(1) for d in [plain.delay(1, throttled=True) for _ in range(50)])


def test_tries_stop_at_the_attempts_and_at_the_total_wait() -> None:
    policy = Backoff(attempts=3, base_delay=1.0, max_delay=10.0, max_wait=5.0)
    assert policy.may_retry(1, 0.0, 1.0)
    assert policy.may_retry(2, 1.0, 4.0)  # exactly the budget
    assert not policy.may_retry(3, 0.0, 0.0)  # third try was the last
    assert not policy.may_retry(2, 1.0, 4.5)  # would wait past the budget


def test_the_poll_schedule_is_todays_and_repeats_its_last_wait() -> None:
    assert [POLL.delay(n) for n in range(1, 12)] == [
        1.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 20.0, 30.0, 30.0, 30.0,
    ]
    assert Schedule((2.0,)).delay(5) == 2.0


@pytest.fixture
def real_waits() -> Iterator[None]:
    retry.set_testing(False)
    yield
    retry.set_testing(True)


async def test_the_testing_switch_makes_a_wait_take_no_time() -> None:
    assert retry.is_testing()  # tests/conftest.py turns it on
    started = time.monotonic()
    await asyncio.gather(*(retry.wait(30.0) for _ in range(3)))
    assert time.monotonic() - started < 1.0
    assert GRAPH.delay(3) > 0  # the delay is still computed, for an injected sleep to see


async def test_without_the_testing_switch_a_wait_takes_its_time(real_waits: None) -> None:
    started = time.monotonic()
    await retry.wait(0.2)
    assert time.monotonic() - started >= 0.19
