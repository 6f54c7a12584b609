"""The Slack side of bot.ports.Notifier: the approvals-channel message, the requester's DMs,
and the device owner's DMs when someone else asked for a reset of their device.

Runs from the durable job queue, so each step first checks what it already did (message
timestamps saved on the request) and a retry after a partial failure posts nothing twice.
Nor after a crash between Slack taking a post and the bot saving its timestamp: every post
carries message metadata naming its request and which message it is (``posted_as``), a
marker is saved just before it goes, and a post tried again after that marker looks for it in
the conversation's history first (conversations.history, include_all_metadata; the
im:history and channels:history / groups:history scopes)."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import ResetRequest, State
from bot.ports import NotifyEvent
from bot.storage import Store
from handlers.slack.identity import Identity, NotAMember
from handlers.slack.pacing import ChannelPacer
from handlers.views import blocks, cards, dms
from handlers.views.i18n import t
from policy.approval import same_email
from policy.membership import NotMember

log = logging.getLogger(__name__)

# An owner DM that Slack refuses for good (the owner cannot get DMs from the bot): not retried.
_OWNER_UNREACHABLE = frozenset({"user_not_found", "users_not_found", "user_disabled",
                                "cannot_dm_bot", "channel_not_found", "is_archived",
                                "not_in_channel", "restricted_action", "user_not_visible",
                                "messages_tab_disabled", "account_inactive"})
# The owner's DM states, saved with the request: sent (its timestamp), or skipped for good.
_SKIPPED = "skipped"
_ENDED = frozenset({State.COMPLETED, State.REVEALED, State.PASSCODE_EXPIRED, State.FAILED})
_NOT_APPROVED = frozenset({State.REQUESTED, State.REFUSED, State.AWAITING_APPROVAL,
                           State.DENIED, State.CANCELLED, State.EXPIRED})
# Message metadata on every post (https://docs.slack.dev/messaging/message-metadata).
EVENT_TYPE = "passcode_bot_message"
# How far back a post tried again looks for itself: pages of the conversation, newest first.
_HISTORY_PAGES, _HISTORY_PAGE = 3, 200
# History Slack will not show us (a scope not granted yet: the app was not reinstalled with
# this release's manifest): the post goes, as before this release.
_NO_HISTORY = frozenset({"missing_scope", "not_in_channel", "channel_not_found",
                         "not_allowed_token_type", "no_permission"})


class SlackNotifier:
    def __init__(self, client: AsyncWebClient, store: Store, approvals_channel: str,
                 pacer: ChannelPacer | None = None, identity: Identity | None = None) -> None:
        self.client = client
        self.identity = identity or Identity(client)  # the requester's locale for their DMs
        self.store = store
        self.approvals_channel = approvals_channel
        # Slack: ~1 chat.postMessage/s per channel and app, so the pace is the database's
        self.pacer = pacer or ChannelPacer(budget=store)

    async def notify(self, event: NotifyEvent, request: ResetRequest) -> None:
        if event is NotifyEvent.APPROVAL_REQUESTED:
            # The DM first: the approvals post may have to wait its turn (raising Later),
            # and when this job comes back the DM is not sent or updated again.
            if not request.surface.get("waiting_ts"):
                locale = await self.identity.locale_of(request.requester_id)
                await self._dm(request, "waiting", dms.waiting_dm(request, locale))
            await self._approval_message(request)  # a shared channel: stays English
        elif event in {NotifyEvent.DECIDED, NotifyEvent.CANCELLED, NotifyEvent.APPROVAL_EXPIRED}:
            await self._approval_message(request)
            locale = await self.identity.locale_of(request.requester_id)
            await self._dm(request, "waiting", dms.waiting_dm(request, locale))
            if event is NotifyEvent.DECIDED and request.state not in _NOT_APPROVED:
                await self._owner_dm(request, dms.OWNER_APPROVED)
        elif event is NotifyEvent.RESULT:
            await self._approval_message(request)
            locale = await self.identity.locale_of(request.requester_id)
            await self._dm(request, "result", dms.result_dm(request, locale))
            if request.state in _ENDED:
                await self._owner_dm(request, dms.OWNER_RESULT)
        elif event is NotifyEvent.PASSCODE_EXPIRED:
            locale = await self.identity.locale_of(request.requester_id)
            await self._dm(request, "result", dms.result_dm(request, locale))

    async def delivery_failed(self, event: NotifyEvent, request: ResetRequest, error: str) -> None:
        """A DM to the requester keeps failing: ask the approvers to reach them another way."""
        # The approvals channel is shared: worded in English, as its card is.
        text = t("en", "notify.unreachable", requester=blocks.mention(request.requester_id),
                 id=request.id, name=blocks.literal(request.device_name),
                 state=t("en", f"state.{request.state.value}"), error=blocks.literal(error))
        await self.pacer.wait(self.approvals_channel)
        await self.client.chat_postMessage(channel=self.approvals_channel, text=text)

    async def _approval_message(self, r: ResetRequest) -> None:
        await self._find_owner(r)  # the post names the owner: a mention when found
        text, body = cards.approval_message(r)
        ts = r.surface.get("approval_ts")
        if ts:
            await self.client.chat_update(
                channel=r.surface["approval_channel"], ts=ts, text=text, blocks=body
            )
        elif r.state is State.AWAITING_APPROVAL:  # (decided before its turn came: no post)
            channel, ts = await self._post(r, "approval", self.approvals_channel, text, body,
                                           pace_key=f"{r.id}:approval")
            values = {"approval_channel": channel, "approval_ts": ts}
            await self.store.save_surface(r.id, values)
            r.surface.update(values)

    async def _dm(self, r: ResetRequest, key: str, message: tuple[str, list[blocks.Block]]) -> None:
        text, body = message
        channel, opened = await self._dm_channel(r, "dm_channel", r.requester_id)
        ts = r.surface.get(f"{key}_ts")
        if ts:
            await self.client.chat_update(channel=channel, ts=ts, text=text, blocks=body)
            return
        _, ts = await self._post(r, key, channel, text, body, also=opened)
        await self.store.save_surface(r.id, {f"{key}_ts": ts})
        r.surface[f"{key}_ts"] = ts

    # -- posting once ----------------------------------------------------------------------

    async def _dm_channel(self, r: ResetRequest, name: str, user: str
                          ) -> tuple[str, dict[str, str]]:
        """The DM channel with ``user`` saved in the request's ``name``, or opened now: then
        also what to save with the post's marker (a write of its own would be one more
        commit; lost before the marker, it is only opened again: Slack answers the same)."""
        channel = r.surface.get(name)
        if channel:
            return str(channel), {}
        opened = await self.client.conversations_open(users=user)
        channel = str(opened["channel"]["id"])
        return channel, {name: channel}

    async def _post(self, r: ResetRequest, key: str, channel: str, text: str,
                    body: list[blocks.Block], pace_key: str | None = None,
                    also: dict[str, str] | None = None) -> tuple[str, str]:
        """chat.postMessage of the request's message ``key`` (its channel and ts), once: a
        post tried before (its marker saved) is looked for first, and when Slack has it,
        updated to ``text`` and ``body`` instead of posted again. ``also``: references saved
        with the marker, before the post."""
        marker = f"{key}_posting"
        if r.surface.get(marker):
            found = await self._posted_before(r, key, channel)
            if found is not None:
                log.info("request %s: its %s message was posted before; not again", r.id, key)
                await self.client.chat_update(channel=found[0], ts=found[1], text=text,
                                              blocks=body)
                return found
        await self.pacer.wait(channel, key=pace_key)
        saved = {**(also or {}), **({} if r.surface.get(marker) else {marker: True})}
        if saved:
            await self.store.save_surface(r.id, saved)
            r.surface.update(saved)
        sent = await self.client.chat_postMessage(
            channel=channel, text=text, blocks=body,
            metadata={"event_type": EVENT_TYPE, "event_payload": posted_as(r, key)})
        return str(sent["channel"]), str(sent["ts"])

    async def _posted_before(self, r: ResetRequest, key: str,
                             channel: str) -> tuple[str, str] | None:
        """The message ``key`` of ``r`` in ``channel``'s recent history, if Slack has it."""
        want, cursor = posted_as(r, key), None
        for _ in range(_HISTORY_PAGES):
            try:
                page = await self.client.conversations_history(
                    channel=channel, limit=_HISTORY_PAGE, include_all_metadata=True,
                    **({"cursor": cursor} if cursor else {}))
            except SlackApiError as exc:
                if exc.response.get("error") not in _NO_HISTORY:
                    raise  # (the job tries again later)
                log.warning("request %s: cannot read the history of %s to look for its %s "
                            "message (%s); posting it", r.id, channel, key,
                            exc.response.get("error"))
                return None
            for message in page.get("messages") or []:
                metadata = message.get("metadata") or {}
                if (metadata.get("event_type") == EVENT_TYPE
                        and metadata.get("event_payload") == want):
                    return str(page.get("channel") or channel), str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None
        return None

    # -- the device's owner ----------------------------------------------------------------

    async def _find_owner(self, r: ResetRequest, *, must: bool = False) -> str | None:
        """The Slack user id of the device's owner when the requester acts on their behalf:
        looked up by email once per request and saved with it ("" when the owner is not a
        member of this workspace). When Slack cannot answer just now: None, or with ``must``
        the error (the job is tried again). Nobody to look up (the requester's own device, or
        no primary user): ""."""
        if not cards.on_behalf(r):
            return ""
        if cards.OWNER_USER in r.surface:
            return cards.owner_user(r)
        email = cards.owner_email(r)
        try:
            answer = (await self.client.users_lookupByEmail(email=email)).get("user")
            user_id = answer.get("id") if isinstance(answer, dict) else None
            # The account is the owner's only if it meets the rule a requester meets, asked
            # the same way (users.info, policy.membership): of this workspace (or
            # organisation), no guest, bot or stranger, and a confirmed email (an
            # unconfirmed one could be anyone's).
            person = await self.identity.person(user_id) if isinstance(user_id, str) and (
                user_id) else None
        except (SlackApiError, NotAMember) as exc:
            if not _no_such_member(exc):  # Slack did not say just now: not a "no"
                if must:
                    raise
                log.warning("request %s: could not look the device's owner up in Slack (%s)",
                            r.id, exc.why.value if isinstance(exc, NotAMember)
                            else exc.response.get("error"))
                return None
            person = None
        found = ""
        if person is not None and same_email(person.email, email):
            found = person.user_id
        else:
            log.info("request %s: the device's owner is not a member of this Slack workspace; "
                     "they get no message", r.id)
        await self.store.save_surface(r.id, {cards.OWNER_USER: found})
        r.surface[cards.OWNER_USER] = found
        return found

    async def _owner_dm(self, r: ResetRequest, which: str) -> None:
        """Tell the owner of the device about someone else's request, once per ``which``
        (OWNER_APPROVED, OWNER_RESULT); never the passcode."""
        key = f"{which}_ts"
        if r.surface.get(key) or not cards.on_behalf(r):
            return
        owner = await self._find_owner(r, must=True)
        if not owner or owner == r.requester_id:
            return
        locale = await self.identity.locale_of(owner)
        text, body = dms.owner_dm(r, which, locale)
        try:
            channel, opened = await self._dm_channel(r, "owner_channel", owner)
            _, done = await self._post(r, which, channel, text, body, also=opened)
        except SlackApiError as exc:
            if exc.response.get("error") not in _OWNER_UNREACHABLE:
                raise
            log.info("request %s: Slack will not take a message to the device's owner (%s)",
                     r.id, exc.response.get("error"))
            done = _SKIPPED
        await self.store.save_surface(r.id, {key: done})
        r.surface[key] = done


def _no_such_member(exc: SlackApiError | NotAMember) -> bool:
    """Whether a failed owner lookup says there is no such member (an answer), rather than
    that Slack could not say just now (then it is asked again)."""
    if isinstance(exc, NotAMember):
        return exc.why is not NotMember.UNKNOWN
    return exc.response.get("error") in _OWNER_UNREACHABLE


def posted_as(r: ResetRequest, key: str) -> dict[str, str]:
    """A post's metadata payload: its request and which of the request's messages it is."""
    return {"request_id": r.id, "message": key}
