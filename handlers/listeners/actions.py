"""Approve / Deny / Cancel / Show passcode clicks, the device picker's options and its modal."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.domain import new_request_id
from handlers.slack.context import Context
from handlers.views import blocks
from handlers.views.i18n import t
from handlers.work.items import Cancel, Decide, PickerSubmitted, ReplyTo, Reveal, TryAgain


def _obj(value: Any) -> dict[str, Any]:
    """A payload field Slack sends as an object; anything else (forged) reads as empty."""
    return value if isinstance(value, dict) else {}


def _user_id(body: dict[str, Any]) -> str:
    return str(_obj(body.get("user")).get("id") or "")


def _clicked(body: dict[str, Any]) -> tuple[str, str, ReplyTo]:
    """Who clicked which request's button (its value), and where to tell them privately:
    ephemeral in the channel, or in a DM when the click came from App Home or a DM."""
    action = _obj((body.get("actions") or [{}])[0])
    reply_to = ReplyTo(channel=str(_obj(body.get("channel")).get("id") or ""),
                       from_home=_obj(body.get("container")).get("type") == "view")
    return _user_id(body), str(action.get("value") or "")[:64], reply_to


def register(app: AsyncApp, ctx: Context) -> None:
    @app.action(blocks.ACTION_APPROVE)
    async def handle_approve(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Approve: checked at click time (role, four eyes), decided exactly once."""
        if ctx.admit(_user_id(body)):
            user_id, request_id, reply_to = _clicked(body)
            await ctx.later(Decide(user_id, request_id, approve=True, reply_to=reply_to))
        await ack()

    @app.action(blocks.ACTION_DENY)
    async def handle_deny(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Deny: the same checks as Approve."""
        if ctx.admit(_user_id(body)):
            user_id, request_id, reply_to = _clicked(body)
            await ctx.later(Decide(user_id, request_id, approve=False, reply_to=reply_to))
        await ack()

    @app.action(blocks.ACTION_CANCEL)
    async def handle_cancel(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The requester withdraws a pending request from their DM."""
        if ctx.admit(_user_id(body)):
            user_id, request_id, reply_to = _clicked(body)
            await ctx.later(Cancel(user_id, request_id, reply_to=reply_to))
        await ack()

    @app.action(blocks.ACTION_REVEAL)
    async def handle_reveal(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Show passcode: a modal for the requester only; trigger_id is good for 3 s."""
        if ctx.admit(_user_id(body)):
            user_id, request_id, reply_to = _clicked(body)
            trigger_id = str(body.get("trigger_id") or "")
            await ctx.later(Reveal(user_id, request_id, trigger_id=trigger_id, reply_to=reply_to))
        await ack()

    register_try_again(app, ctx)

    @app.options(blocks.ACTION_DEVICE_PICK)
    async def handle_device_options(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The picker's options: the person's own devices, or the fleet for approvers."""
        query = str(body.get("value") or "")[:100]
        user_id = _user_id(body)
        if not ctx.admit(user_id, options=True):
            await ack(options=[])
            return
        await ack(options=await ctx.background.options(user_id, query))

    @app.view(blocks.CALLBACK_RESET_MODAL)
    async def handle_reset_submission(ack: AsyncAck, body: dict[str, Any]) -> None:
        """The picker's modal was submitted: close it, then answer in a DM."""
        values = _obj(_obj(_obj(body.get("view")).get("state")).get("values"))
        picked = _obj(_obj(values.get(blocks.BLOCK_DEVICE)).get(blocks.ACTION_DEVICE_PICK))
        device_id = str(_obj(picked.get("selected_option")).get("value") or "")[:150]
        user_id = _user_id(body)
        if not device_id or not ctx.admit(user_id):
            key = "picker.pick" if not device_id else "slow_down"
            await ack(response_action="errors",
                      errors={blocks.BLOCK_DEVICE: t(ctx.identity.locale(user_id), key)})
            return
        await ctx.later(PickerSubmitted(user_id, device=device_id,
                                        request_id=new_request_id()))  # as a command's
        await ack()


def register_try_again(app: AsyncApp, ctx: Context) -> None:
    """Try again on an unconfirmed reset (issue 12): checked at click time like Approve."""

    @app.action(blocks.ACTION_TRY_AGAIN)
    async def handle_try_again(ack: AsyncAck, body: dict[str, Any]) -> None:
        if ctx.admit(_user_id(body)):
            user_id, request_id, reply_to = _clicked(body)
            await ctx.later(TryAgain(user_id, request_id, reply_to=reply_to))
        await ack()
