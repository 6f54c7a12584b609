"""Approve / Deny / Cancel / Show passcode clicks, the device picker's options and its modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.domain import OPEN_STATES, State
from bot.service import Outcome, Reply
from handlers import blocks
from handlers.commands import reply_blocks
from handlers.i18n import language, t
from handlers.context import Context, log
from handlers.home import publish_home


def _obj(value: Any) -> dict[str, Any]:
    """A payload field Slack sends as an object; anything else (forged) reads as empty."""
    return value if isinstance(value, dict) else {}


def _user_id(body: dict[str, Any]) -> str:
    return str(_obj(body.get("user")).get("id") or "")


def _clicked(body: dict[str, Any]) -> tuple[str, str]:
    """(user id, request id) of a button click; the request id is the button's value."""
    action = _obj((body.get("actions") or [{}])[0])
    return _user_id(body), str(action.get("value") or "")[:64]


def unavailable_text(reply: Reply, locale: str) -> str:
    """Why the passcode cannot be shown (plain text), in the person's language."""
    r = reply.request
    if language(locale) == "en":
        return reply.message
    if reply.outcome is Outcome.UNKNOWN_REQUEST or (reply.outcome is Outcome.UNAVAILABLE
                                                    and r is None):
        return t(locale, "unavailable.unknown_request")
    if reply.outcome is Outcome.NOT_ALLOWED:
        return t(locale, "unavailable.not_requester")
    if reply.outcome is Outcome.UNAVAILABLE and r is not None:
        if r.state is State.PASSCODE_EXPIRED:
            return t(locale, "unavailable.expired")
        if r.state in OPEN_STATES:
            return t(locale, "unavailable.open")
        if r.state in {State.COMPLETED, State.REVEALED} and not r.has_passcode:
            return t(locale, "unavailable.none")
    return reply.message


def register(app: AsyncApp, ctx: Context) -> None:
    @app.action(blocks.ACTION_APPROVE)
    async def handle_approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Approve: checked at click time (role, four eyes), decided exactly once."""
        await ack()
        _decide(ctx, body, approve=True)

    @app.action(blocks.ACTION_DENY)
    async def handle_deny(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Deny: the same checks as Approve."""
        await ack()
        _decide(ctx, body, approve=False)

    @app.action(blocks.ACTION_CANCEL)
    async def handle_cancel(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The requester withdraws a pending request from their DM."""
        await ack()
        user_id, request_id = _clicked(body)
        tell = _teller(ctx, body)

        async def work() -> None:
            person = await ctx.person(user_id)
            reply = await ctx.service.cancel(request_id, person)
            if not reply.ok:
                await tell(reply.message)

        ctx.spawn(work(), tell, "cancel click")

    @app.action(blocks.ACTION_REVEAL)
    async def handle_reveal(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Show passcode: a modal for the requester only; trigger_id is good for 3 s."""
        await ack()
        user_id, request_id = _clicked(body)
        trigger_id = str(body.get("trigger_id") or "")

        async def work() -> None:
            person = await ctx.person(user_id)
            reply = await ctx.service.reveal(request_id, person)
            locale = ctx.identity.locale(user_id)
            if reply.outcome is Outcome.SHOWN and reply.passcode and reply.request:
                view = blocks.passcode_modal(reply.request, reply.passcode, locale)
            else:
                view = blocks.notice_modal(t(locale, "modal.unavailable.title"),
                                           unavailable_text(reply, locale), locale)
            await ctx.client.views_open(trigger_id=trigger_id, view=view)

        ctx.spawn(work(), _teller(ctx, body), "reveal click")

    @app.options(blocks.ACTION_DEVICE_PICK)
    async def handle_device_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The picker's options: the person's own devices, or the fleet for approvers."""
        user_id = _user_id(body)
        query = str(body.get("value") or "")[:100]
        try:
            person = await ctx.person(user_id)
            devices = await ctx.service.find_devices(person, query, limit=100)
        except Exception:  # noqa: BLE001 - an options load can only answer with options
            log.exception("device options failed")
            devices = []
        await ack(options=blocks.device_options(devices))

    @app.view(blocks.CALLBACK_RESET_MODAL)
    async def handle_reset_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The picker's modal was submitted: close it, then answer in a DM."""
        values = _obj(_obj(_obj(body.get("view")).get("state")).get("values"))
        picked = _obj(_obj(values.get(blocks.BLOCK_DEVICE)).get(blocks.ACTION_DEVICE_PICK))
        device_id = str(_obj(picked.get("selected_option")).get("value") or "")[:150]
        if not device_id:
            locale = ctx.identity.locale(_user_id(body))
            await ack(response_action="errors",
                      errors={blocks.BLOCK_DEVICE: t(locale, "picker.pick")})
            return
        await ack()
        user_id = _user_id(body)

        async def dm(message: str, body_blocks: list[blocks.Block] | None = None) -> None:
            opened = await ctx.client.conversations_open(users=user_id)
            await ctx.client.chat_postMessage(
                channel=opened["channel"]["id"], text=blocks.esc(message, 2900),
                blocks=body_blocks or [blocks.section(blocks.esc(message, 2900))],
            )

        async def work() -> None:
            person = await ctx.person(user_id)
            reply = await ctx.service.request_reset(person, device_id=device_id)
            locale = ctx.identity.locale(user_id)
            await dm(reply.message, reply_blocks(reply, locale))

        ctx.spawn(work(), dm, "reset modal")


def _teller(ctx: Context, body: dict[str, Any]) -> Any:
    """Tell the clicker privately: ephemeral in a channel, a DM line elsewhere (App Home)."""
    user_id = _user_id(body)
    channel = str(_obj(body.get("channel")).get("id") or "")

    async def tell(message: str) -> None:
        text = blocks.esc(message, 2900)
        if channel:
            await ctx.client.chat_postEphemeral(channel=channel, user=user_id, text=text)
        else:
            opened = await ctx.client.conversations_open(users=user_id)
            await ctx.client.chat_postMessage(channel=opened["channel"]["id"], text=text)

    return tell


def _decide(ctx: Context, body: dict[str, Any], *, approve: bool) -> None:
    user_id, request_id = _clicked(body)
    tell = _teller(ctx, body)
    from_home = _obj(body.get("container")).get("type") == "view"

    async def work() -> None:
        person = await ctx.person(user_id)
        reply = await ctx.service.decide(request_id, person, approve=approve)
        if not reply.ok:
            await tell(reply.message)
        if from_home:
            await publish_home(ctx, user_id)

    ctx.spawn(work(), tell, "approve click" if approve else "deny click")
