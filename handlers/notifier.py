"""The Slack side of bot.ports.Notifier: the approvals-channel message and the requester's DMs.

Runs from the durable job queue, so each step first checks what it already did (message
timestamps saved on the request) and a retry after a partial failure posts nothing twice."""

from __future__ import annotations

from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import ResetRequest, State
from bot.ports import NotifyEvent
from bot.storage import Store
from handlers import blocks
from handlers.identity import Identity
from handlers.pacing import ChannelPacer


class SlackNotifier:
    def __init__(self, client: AsyncWebClient, store: Store, approvals_channel: str,
                 pacer: ChannelPacer | None = None, identity: Identity | None = None) -> None:
        self.client = client
        self.identity = identity or Identity(client)  # the requester's locale for their DMs
        self.store = store
        self.approvals_channel = approvals_channel
        self.pacer = pacer or ChannelPacer()  # Slack: ~1 chat.postMessage/s per channel

    async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
        if event is NotifyEvent.APPROVAL_REQUESTED:
            # The DM first: the approvals post may have to wait its turn (raising Later),
            # and when this job comes back the DM is not sent or updated again.
            if not request.surface.get("waiting_ts"):
                locale = await self.identity.locale_of(request.requester_id)
                await self._dm(request, "waiting", blocks.waiting_dm(request, locale))
            await self._approval_message(request)  # a shared channel: stays English
        elif event in {NotifyEvent.DECIDED, NotifyEvent.CANCELLED, NotifyEvent.APPROVAL_EXPIRED}:
            await self._approval_message(request)
            locale = await self.identity.locale_of(request.requester_id)
            await self._dm(request, "waiting", blocks.waiting_dm(request, locale))
        elif event is NotifyEvent.RESULT:
            await self._approval_message(request)
            locale = await self.identity.locale_of(request.requester_id)
            await self._dm(request, "result", blocks.result_dm(request, locale))
        elif event is NotifyEvent.PASSCODE_EXPIRED:
            locale = await self.identity.locale_of(request.requester_id)
            await self._dm(request, "result", blocks.result_dm(request, locale))

    async def delivery_failed(self, event: NotifyEvent, request: ResetRequest, error: str) -> None:
        """A DM to the requester keeps failing: ask the approvers to reach them another way."""
        text = (
            f":warning: I have not been able to message {blocks.mention(request.requester_id)} "
            f"about request {request.id} ({blocks.literal(request.device_name)}, "
            f"{request.state.label}) for a few minutes: {blocks.literal(error)}. I keep trying; "
            "please reach them another way."
        )
        await self.pacer.wait(self.approvals_channel)
        await self.client.chat_postMessage(channel=self.approvals_channel, text=text)

    async def _approval_message(self, r: ResetRequest) -> None:
        text, body = blocks.approval_message(r)
        ts = r.surface.get("approval_ts")
        if ts:
            await self.client.chat_update(
                channel=r.surface["approval_channel"], ts=ts, text=text, blocks=body
            )
        elif r.state is State.AWAITING_APPROVAL:  # (decided before its turn came: no post)
            await self.pacer.wait(self.approvals_channel, key=f"{r.id}:approval")
            sent = await self.client.chat_postMessage(
                channel=self.approvals_channel, text=text, blocks=body
            )
            values = {"approval_channel": sent["channel"], "approval_ts": sent["ts"]}
            await self.store.save_surface(r.id, values)
            r.surface.update(values)

    async def _dm(self, r: ResetRequest, key: str, message: tuple[str, list[blocks.Block]]) -> None:
        text, body = message
        channel = r.surface.get("dm_channel")
        if not channel:
            opened = await self.client.conversations_open(users=r.requester_id)
            channel = opened["channel"]["id"]
            await self.store.save_surface(r.id, {"dm_channel": channel})
            r.surface["dm_channel"] = channel
        ts = r.surface.get(f"{key}_ts")
        if ts:
            await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=body)
            return
        await self.pacer.wait(channel)
        sent = await self.client.chat_postMessage(channel=channel, text=text, blocks=body)
        await self.store.save_surface(r.id, {f"{key}_ts": sent["ts"]})
        r.surface[f"{key}_ts"] = sent["ts"]
