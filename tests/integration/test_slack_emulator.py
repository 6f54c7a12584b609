"""The Slack emulator, driven by a real slack_sdk AsyncWebClient over HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from handlers.demo.slack_emulator import SlackEmulator, render_blocks

APPROVAL_BLOCKS: list[dict[str, Any]] = [
    {"type": "header", "text": {"type": "plain_text", "text": "Passcode reset"}},
    {
        "type": "section",
        "text": {"type": "mrkdwn", "text": "<@U1> asks for *Pixel 8*"},
        "fields": [{"type": "mrkdwn", "text": "*OS* Android"}],
    },
    {"type": "context", "elements": [{"type": "mrkdwn", "text": "rule: android-ok"}]},
    {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
            },
            {"type": "button", "text": {"type": "plain_text", "text": "Deny"}, "style": "danger"},
        ],
    },
]
NO_WAIT = FixedValueRetryIntervalCalculator(0.0)
REVEAL_VIEW: dict[str, Any] = {
    "type": "modal",
    "callback_id": "reveal",
    "title": {"type": "plain_text", "text": "New passcode"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "`482913`"}}],
}


class Clock:
    """A settable float clock for the emulator."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def populate(emu: SlackEmulator) -> None:
    """Two people and the approvals channel."""
    emu.add_user("U1", name="alice", email="alice@example.com", real_name="Alice A", locale="sv-SE")
    emu.add_user("U2", name="bob", email="Bob@Example.com")
    emu.add_channel("C1", name="approvals")


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emulator:
        populate(emulator)
        yield emulator


@pytest.fixture
def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token="xoxb-test", base_url=emu.api_url)


async def test_auth_test_answers_with_the_bot_identity(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    response = await client.auth_test()
    assert (response["user_id"], response["bot_id"], response["team_id"]) == (
        "UBOT",
        "B0BOT",
        "T0TEAM",
    )
    assert emu.api_url == f"http://127.0.0.1:{emu.port}/api/"
    [call] = emu.calls_to("auth.test")
    assert call.headers["Authorization"] == "Bearer xoxb-test"
    assert not call.failed


async def test_calls_without_a_token_are_not_authed(emu: SlackEmulator) -> None:
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(base_url=emu.api_url).auth_test()
    assert raised.value.response["error"] == "not_authed"


async def test_unknown_methods_are_refused(client: AsyncWebClient) -> None:
    with pytest.raises(SlackApiError) as raised:
        await client.api_call("passcodes.reveal")
    assert raised.value.response["error"] == "unknown_method"


async def test_posted_message_is_updated_in_place_and_deleted(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    first = await client.chat_postMessage(channel="C1", text="approve?", blocks=APPROVAL_BLOCKS)
    second = await client.chat_postMessage(channel="#approvals", text="second")
    assert first["channel"] == second["channel"] == "C1"
    assert first["ts"] < second["ts"]
    assert first["message"]["blocks"] == APPROVAL_BLOCKS

    done = [{"type": "section", "text": {"type": "mrkdwn", "text": "Approved by <@U2>"}}]
    await client.chat_update(channel="C1", ts=first["ts"], text="approved", blocks=done)
    assert [(m["ts"], m["text"], m.get("blocks")) for m in emu.messages("C1")] == [
        (first["ts"], "approved", done),
        (second["ts"], "second", None),
    ]

    await client.chat_delete(channel="C1", ts=second["ts"])
    assert [m["ts"] for m in emu.messages("C1")] == [first["ts"]]
    with pytest.raises(SlackApiError) as raised:
        await client.chat_update(channel="C1", ts="1.000000", text="x")
    assert raised.value.response["error"] == "message_not_found"


async def test_form_posts_with_json_encoded_blocks_are_decoded(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    await client.api_call(
        "chat.postMessage", data={"channel": "C1", "blocks": json.dumps(APPROVAL_BLOCKS)}
    )
    [call] = emu.calls_to("chat.postMessage")
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == APPROVAL_BLOCKS
    assert emu.messages("C1")[0]["blocks"] == APPROVAL_BLOCKS


async def test_ephemeral_message_returns_message_ts(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    response = await client.chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert response["message_ts"]
    assert [m["text"] for m in emu.ephemeral_messages("U1")] == ["only you"]
    assert emu.messages("C1") == []


async def test_conversations_open_gives_a_stable_dm_per_user(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    alice = (await client.conversations_open(users="U1"))["channel"]["id"]
    again = (await client.conversations_open(users=["U1"]))["channel"]["id"]
    bob = (await client.conversations_open(users="U2"))["channel"]["id"]
    assert alice == again != bob
    assert alice.startswith("D")
    # conversations.open sends its params in the query string of a POST with an empty body.
    assert emu.calls_to("conversations.open")[0].params == {"users": "U1"}

    posted = await client.chat_postMessage(channel="U1", text="hi alice")
    assert posted["channel"] == alice
    assert [m["text"] for m in emu.messages(alice)] == emu_texts(emu, "U1") == ["hi alice"]
    with pytest.raises(SlackApiError) as raised:
        await client.conversations_open(users="U404")
    assert raised.value.response["error"] == "user_not_found"


def emu_texts(emu: SlackEmulator, channel: str) -> list[str]:
    """Texts of the messages in a channel."""
    return [m["text"] for m in emu.messages(channel)]


async def test_users_info_and_lookup_by_email(emu: SlackEmulator, client: AsyncWebClient) -> None:
    user = (await client.users_info(user="U1", include_locale=True))["user"]
    assert (user["id"], user["name"], user["real_name"], user["tz"], user["locale"]) == (
        "U1",
        "alice",
        "Alice A",
        "Europe/Stockholm",
        "sv-SE",
    )
    assert user["profile"]["email"] == "alice@example.com"
    assert emu.calls_to("users.info")[0].params == {"user": "U1", "include_locale": "1"}
    assert "locale" not in (await client.users_info(user="U2"))["user"]

    found = await client.users_lookupByEmail(email="bob@example.com")
    assert found["user"]["id"] == "U2"

    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U404")
    assert raised.value.response["error"] == "user_not_found"
    with pytest.raises(SlackApiError) as raised:
        await client.users_lookupByEmail(email="nobody@example.com")
    assert raised.value.response["error"] == "users_not_found"


async def test_views_open_needs_a_fresh_unused_trigger_id() -> None:
    clock = Clock()
    async with SlackEmulator(clock=clock) as emu:
        populate(emu)
        client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
        trigger = emu.new_trigger_id("U1")
        view = (await client.views_open(trigger_id=trigger, view=REVEAL_VIEW))["view"]
        assert view["id"].startswith("V")
        assert emu.open_views[view["id"]]["callback_id"] == "reveal"

        stale = emu.new_trigger_id("U1")
        clock.now += 3.5
        for trigger_id in (trigger, "1.2.made-up", stale):
            with pytest.raises(SlackApiError) as raised:
                await client.views_open(trigger_id=trigger_id, view=REVEAL_VIEW)
            assert raised.value.response["error"] == "expired_trigger_id"

        updated = {**REVEAL_VIEW, "title": {"type": "plain_text", "text": "Done"}}
        response = await client.views_update(view_id=view["id"], view=updated)
        assert emu.open_views[view["id"]]["title"]["text"] == response["view"]["title"]["text"]
        with pytest.raises(SlackApiError) as raised:
            await client.views_update(view_id=view["id"], view=updated, hash="stale")
        assert raised.value.response["error"] == "hash_conflict"


async def test_lenient_triggers_skip_only_the_age_check() -> None:
    clock = Clock()
    async with SlackEmulator(clock=clock, strict_triggers=False) as emu:
        client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
        trigger = emu.new_trigger_id()
        clock.now += 60
        await client.views_open(trigger_id=trigger, view=REVEAL_VIEW)
        with pytest.raises(SlackApiError):
            await client.views_open(trigger_id=trigger, view=REVEAL_VIEW)


async def test_views_publish_keeps_the_latest_home_per_user(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    home: dict[str, Any] = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "1"}}],
    }
    first = await client.views_publish(user_id="U1", view=home)
    home["blocks"][0]["text"]["text"] = "2"
    second = await client.views_publish(user_id="U1", view=home)
    assert first["view"]["id"] == second["view"]["id"]
    assert render_blocks((emu.home("U1") or {})["blocks"]) == "2"
    assert emu.home("U2") is None
    assert emu.open_views == {}


async def test_response_url_posts_are_recorded_and_replace_the_original(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="approve?")
    url = emu.response_url("tok1", channel="C1", ts=posted["ts"])
    async with aiohttp.ClientSession() as session:
        body = {"replace_original": True, "text": "approved"}
        async with session.post(url, json=body) as response:
            assert response.status == 200
    [call] = emu.calls_to("response_url")
    assert call.params == {"response_token": "tok1", "replace_original": True, "text": "approved"}
    assert emu_texts(emu, "C1") == ["approved"]


async def test_rate_limited_call_succeeds_on_retry(emu: SlackEmulator) -> None:
    client = AsyncWebClient(
        token="xoxb-test",
        base_url=emu.api_url,
        retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=1)],
    )
    emu.fail_next("chat.postMessage", retry_after=0)
    response = await client.chat_postMessage(channel="C1", text="hello")
    assert response["ok"]
    first, second = emu.calls_to("chat.postMessage")
    assert (first.failed, second.failed) == (True, False)
    assert emu_texts(emu, "C1") == ["hello"]


async def test_rate_limit_without_retry_handler_surfaces_429_and_retry_after(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    emu.fail_next("users.info", retry_after=7)
    with pytest.raises(SlackApiError) as raised:
        await client.users_info(user="U1")
    assert raised.value.response.status_code == 429
    assert raised.value.response.headers["Retry-After"] == "7"
    assert raised.value.response["error"] == "ratelimited"


async def test_server_errors_are_returned_and_retryable(emu: SlackEmulator) -> None:
    emu.fail_next("views.publish", status=503, error="service_unavailable", times=2)
    plain = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
    with pytest.raises(SlackApiError) as raised:
        await plain.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert raised.value.response.status_code == 503
    retrying = AsyncWebClient(
        token="xoxb-test",
        base_url=emu.api_url,
        retry_handlers=[AsyncServerErrorRetryHandler(interval_calculator=NO_WAIT)],
    )
    await retrying.views_publish(user_id="U1", view={"type": "home", "blocks": []})
    assert [c.failed for c in emu.calls_to("views.publish")] == [True, True, False]


async def test_dropped_connection_raises_or_is_retried(emu: SlackEmulator) -> None:
    no_retries = AsyncWebClient(token="xoxb-test", base_url=emu.api_url, retry_handlers=[])
    emu.fail_next("auth.test", drop_connection=True)
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await no_retries.auth_test()

    emu.fail_next("auth.test", drop_connection=True)
    default_client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url)
    assert (await default_client.auth_test())["ok"]  # slack_sdk retries connection errors once
    assert [c.failed for c in emu.calls_to("auth.test")] == [True, True, False]


async def test_delayed_answer_times_the_client_out(emu: SlackEmulator) -> None:
    emu.fail_next("views.open", delay=30, error="never_seen")
    client = AsyncWebClient(token="xoxb-test", base_url=emu.api_url, timeout=0.2)  # type: ignore[arg-type]
    with pytest.raises(asyncio.TimeoutError):
        await client.views_open(trigger_id=emu.new_trigger_id(), view=REVEAL_VIEW)
    [call] = await emu.wait_for("views.open")
    assert call.failed


async def test_wait_for_returns_once_calls_arrive(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    async def post_later() -> None:
        await asyncio.sleep(0.05)
        await client.chat_postMessage(channel="C1", text="one")
        await client.chat_postMessage(channel="C1", text="two")

    task = asyncio.create_task(post_later())
    calls = await emu.wait_for("chat.postMessage", count=2)
    assert [c.params["text"] for c in calls] == ["one", "two"]
    assert calls[0].response is not None and calls[0].response["ok"]
    await task
    matching = await emu.wait_for(
        "chat.postMessage", predicate=lambda c: c.params.get("text") == "two"
    )
    assert len(matching) == 1


async def test_wait_for_timeout_lists_what_was_recorded(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    await client.auth_test()
    with pytest.raises(TimeoutError) as raised:
        await emu.wait_for("views.open", timeout=0.1)
    message = str(raised.value)
    assert "views.open" in message and "auth.test" in message
    emu.clear()
    assert emu.calls == [] and emu.transcript() == []


async def test_transcript_tells_what_was_posted_to_whom(
    emu: SlackEmulator, client: AsyncWebClient
) -> None:
    posted = await client.chat_postMessage(channel="C1", text="fallback", blocks=APPROVAL_BLOCKS)
    # chat.update without blocks keeps the old blocks, as Slack does.
    await client.chat_update(channel="C1", ts=posted["ts"], text="Approved by bob")
    await client.chat_postMessage(channel="U1", text="Your reset was approved")
    await client.views_open(trigger_id=emu.new_trigger_id("U1"), view=REVEAL_VIEW)
    approval = (
        "Passcode reset | <@U1> asks for *Pixel 8* | *OS* Android | rule: android-ok"
        " | [Approve] [Deny]"
    )
    assert emu.transcript() == [
        f"#approvals  {approval}",
        f"#approvals  (updated) {approval}",
        "DM @alice  Your reset was approved",
        "modal → @alice  New passcode: `482913`",
    ]
