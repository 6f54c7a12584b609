"""The per-channel posting pace is the app's, not one process's: two bot processes (two stores
on one database, SQLite file or PostgreSQL; two Slack clients) posting into the approvals
channel together stay within it, as the Slack emulator saw the posts arrive."""

from __future__ import annotations

import asyncio

from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import Later
from bot.storage import Store
from handlers.demo.slack_emulator import SlackEmulator
from handlers.slack.pacing import ChannelPacer

CHANNEL = "C0APPROVALS"
RATE, BURST = 5.0, 2  # 2 posts per 0.4 s: fast enough for a test, slow enough to measure
EACH = 8


async def post_all(pacer: ChannelPacer, client: AsyncWebClient, who: str) -> None:
    """As the notifier does: wait for the pace (keyed, so long waits come back Later, as a
    deferred job would), then post."""
    for i in range(EACH):
        while True:
            try:
                await pacer.wait(CHANNEL, key=f"{who}-{i}")
                break
            except Later as later:
                await asyncio.sleep(later.seconds)
        await client.chat_postMessage(channel=CHANNEL, text=f"{who} {i}")


def tightest(times: list[float], n: int) -> float:
    """The shortest time in which ``n`` successive posts arrived."""
    return min(b - a for a, b in zip(times, times[n - 1:], strict=False))


async def run_two(database_url: str, shared: bool) -> list[float]:
    async with SlackEmulator() as emu:
        emu.add_channel(CHANNEL, name="passcode-approvals")
        stores = [await Store.open(database_url), await Store.open(database_url)]
        clients = [AsyncWebClient(token=emu.token, base_url=emu.api_url) for _ in stores]
        try:
            pacers = [ChannelPacer(RATE, BURST, budget=s if shared else None) for s in stores]
            await asyncio.gather(*(post_all(p, c, f"p{i}")
                                   for i, (p, c) in enumerate(zip(pacers, clients, strict=True))))
        finally:
            for store in stores:
                await store.close()
        posts = emu.calls_to("chat.postMessage")
        assert len(posts) == 2 * EACH and not any(c.failed for c in posts)
        return sorted(c.at for c in posts)


async def test_two_processes_posting_together_keep_to_one_pace(database_url: str) -> None:
    times = await run_two(database_url, shared=True)
    window = BURST / RATE
    # Never more than BURST posts in one window (less a margin for the HTTP hop after the slot).
    assert tightest(times, BURST + 1) >= window - 0.15, times
    assert times[-1] - times[0] >= (2 * EACH / BURST - 1) * window - 0.15


async def test_without_the_shared_budget_two_processes_go_twice_as_fast(
    database_url: str,
) -> None:
    """The test above can fail: each process alone keeps its own pace, not the app's."""
    times = await run_two(database_url, shared=False)
    assert tightest(times, BURST + 1) < (BURST / RATE) - 0.15, times
