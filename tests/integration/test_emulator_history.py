"""The Slack emulator's message metadata and conversations.history, through slack_sdk, as
Slack documents them: metadata kept with a post and shown only with include_all_metadata,
newest first, oldest/latest bounds, pages with a cursor, malformed metadata refused, the
history scope checked, and a post Slack takes whose answer is lost."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from handlers.demo.slack_emulator import SlackEmulator

META = {"event_type": "passcode_bot_message", "event_payload": {"request_id": "r1", "message": "x"}}


@pytest.fixture
async def emu() -> AsyncIterator[SlackEmulator]:
    async with SlackEmulator() as emu:
        emu.add_user("UALICE", name="alice", email="alice@example.com")
        emu.add_channel("C0APPROVALS", name="passcode-approvals")
        yield emu


def client(emu: SlackEmulator) -> AsyncWebClient:
    return AsyncWebClient(token=emu.token, base_url=emu.api_url, retry_handlers=[])


async def test_metadata_is_kept_and_shown_only_when_asked(emu: SlackEmulator) -> None:
    slack = client(emu)
    dm = (await slack.conversations_open(users="UALICE"))["channel"]["id"]
    first = await slack.chat_postMessage(channel=dm, text="one", metadata=META)
    second = await slack.chat_postMessage(channel=dm, text="two")
    plain = await slack.conversations_history(channel=dm)
    assert [m["text"] for m in plain["messages"]] == ["two", "one"]  # newest first
    assert not any("metadata" in m for m in plain["messages"])
    full = await slack.conversations_history(channel=dm, include_all_metadata=True)
    assert full["messages"][1]["metadata"] == META and "metadata" not in full["messages"][0]
    bounded = await slack.conversations_history(channel=dm, oldest=first["ts"])
    assert [m["ts"] for m in bounded["messages"]] == [second["ts"]]  # exclusive
    both = await slack.conversations_history(channel=dm, oldest=first["ts"], inclusive=True)
    assert len(both["messages"]) == 2


async def test_history_comes_in_pages(emu: SlackEmulator) -> None:
    slack = client(emu)
    for i in range(5):
        await slack.chat_postMessage(channel="C0APPROVALS", text=f"m{i}")
    seen, cursor = [], None
    while True:
        page = await slack.conversations_history(channel="C0APPROVALS", limit=2,
                                                 **({"cursor": cursor} if cursor else {}))
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            assert cursor == ""
            break
    assert seen == ["m4", "m3", "m2", "m1", "m0"]
    with pytest.raises(SlackApiError, match="invalid_arguments"):
        await slack.conversations_history(channel="C0APPROVALS", cursor="not-a-cursor")


@pytest.mark.parametrize("metadata", [
    {"event_payload": {}}, {"event_type": "", "event_payload": {}},
    {"event_type": "x", "event_payload": "text"}, {"event_type": 3, "event_payload": {}}, "x",
])
async def test_malformed_metadata_is_refused(emu: SlackEmulator, metadata: object) -> None:
    with pytest.raises(SlackApiError, match="invalid_metadata_format"):
        await client(emu).chat_postMessage(channel="C0APPROVALS", text="t",
                                           metadata=metadata)  # type: ignore[arg-type]
    assert emu.messages("C0APPROVALS") == []


async def test_history_needs_the_scope_for_the_kind_of_conversation(emu: SlackEmulator) -> None:
    slack = client(emu)
    dm = (await slack.conversations_open(users="UALICE"))["channel"]["id"]
    emu.scopes = {"channels:history"}
    await slack.conversations_history(channel="C0APPROVALS")
    with pytest.raises(SlackApiError, match="missing_scope"):
        await slack.conversations_history(channel=dm)
    with pytest.raises(SlackApiError, match="channel_not_found"):
        await slack.conversations_history(channel="C0NOWHERE")


async def test_a_post_slack_took_whose_answer_was_lost(emu: SlackEmulator) -> None:
    emu.fail_next("chat.postMessage", accepted=True, drop_connection=True)
    with pytest.raises(aiohttp.ClientError):
        await client(emu).chat_postMessage(channel="C0APPROVALS", text="taken")
    assert [m["text"] for m in emu.messages("C0APPROVALS")] == ["taken"]
    [call] = emu.calls_to("chat.postMessage")
    assert not call.failed and call.response is not None and call.response["ok"]
