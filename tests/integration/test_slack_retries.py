"""The Slack Web API layer's retries (handlers/slack/client.py build_client, bot/retry.py):
how often slack_sdk's handlers try again, and that tests wait no real time for them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import pytest
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from bot import retry
from bot.config import Settings
from handlers.demo.slack_emulator import BOT_TOKEN, SlackEmulator
from handlers.slack.client import build_client


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        emulator.add_user("U1", name="alice", email="alice@example.com")
        emulator.add_channel("C1", name="approvals")
        yield emulator


def slack_settings(settings: Settings, emu: SlackEmulator) -> Settings:
    return settings.model_copy(
        update={"slack_api_url": emu.api_url, "slack_bot_token": SecretStr(BOT_TOKEN)}
    )


@pytest.fixture
def real_waits() -> Iterator[None]:
    retry.set_testing(False)
    yield
    retry.set_testing(True)


async def test_rate_limits_server_errors_and_drops_are_retried_without_waiting_in_tests(
    settings: Settings, emu: SlackEmulator
) -> None:
    """Three 429s asking for 2 s each, two 503s and a dropped connection: no real wait."""
    client = build_client(slack_settings(settings, emu))
    emu.fail_next("chat.postMessage", retry_after=2, times=3)
    emu.fail_next("views.publish", status=503, error="service_unavailable", times=2)
    emu.fail_next("auth.test", drop_connection=True)
    started = time.monotonic()
    assert (await client.chat_postMessage(channel="C1", text="hello"))["ok"]
    assert (await client.views_publish(user_id="U1", view={"type": "home", "blocks": []}))["ok"]
    assert (await client.auth_test())["ok"]
    assert time.monotonic() - started < 3.0  # the waits Slack asked for add up to 6 s
    assert [c.failed for c in emu.calls_to("chat.postMessage")] == [True, True, True, False]
    assert [c.failed for c in emu.calls_to("views.publish")] == [True, True, False]


async def test_a_fourth_rate_limit_in_a_row_reaches_the_caller(
    settings: Settings, emu: SlackEmulator
) -> None:
    client = build_client(slack_settings(settings, emu))
    emu.fail_next("chat.postMessage", retry_after=2, times=4)
    with pytest.raises(SlackApiError) as raised:
        await client.chat_postMessage(channel="C1", text="hello")
    assert raised.value.response.status_code == 429
    assert len(emu.calls_to("chat.postMessage")) == 1 + retry.SLACK_RATE_LIMIT_RETRIES


async def test_outside_tests_slack_retry_after_is_waited_out(
    settings: Settings, emu: SlackEmulator, real_waits: None
) -> None:
    client = build_client(slack_settings(settings, emu))
    emu.fail_next("chat.postMessage", retry_after=1)
    started = time.monotonic()
    assert (await client.chat_postMessage(channel="C1", text="hello"))["ok"]
    assert time.monotonic() - started >= 1.0
