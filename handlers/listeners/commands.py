"""/passcode reset | status | help."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.domain import new_request_id
from handlers.slack.context import Context
from handlers.views import cards
from handlers.views.i18n import t
from handlers.work.items import LearnLocale, OpenPicker, ResetCommand, StatusCommand

MAX_COMMAND = 1000


def parse(text: str) -> tuple[str, str]:
    """'reset  Pixel 8 ' -> ('reset', 'Pixel 8'); unknown or empty -> ('help', '')."""
    words = text.strip().split(maxsplit=1)
    verb = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if verb not in {"reset", "status", "help"}:
        return "help", ""
    return verb, rest


def register(app: AsyncApp, ctx: Context) -> None:
    @app.command("/passcode")
    async def handle_passcode(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Commit the work to the inbox, then acknowledge; everything slow happens after the
        ack (handlers.work.worker)."""
        text = str(body.get("text") or "")
        user_id = str(body.get("user_id") or "")
        if not ctx.admit(user_id):
            await ack(response_type="ephemeral", text=t(ctx.identity.locale(user_id), "slow_down"))
            return
        if len(text) > MAX_COMMAND:
            await ack(
                response_type="ephemeral",
                text=t(ctx.identity.locale(user_id), "too_long", n=len(text)),
            )
            return
        verb, rest = parse(text)
        if verb == "help":
            # Answered at once, so in the locale already known; the first time, in English
            # while the locale is looked up for next time.
            locale = ctx.identity.locale(user_id)
            if not locale and user_id:
                await ctx.later(LearnLocale(user_id))
            await ack(response_type="ephemeral", text=cards.help_text(locale),
                      blocks=cards.help_blocks(locale))
            return
        response_url = str(body.get("response_url") or "")
        if verb == "reset" and not rest:
            trigger_id = str(body.get("trigger_id") or "")
            await ctx.later(OpenPicker(user_id, trigger_id=trigger_id, response_url=response_url))
        elif verb == "reset":
            # The request's id is chosen now and committed with the item: the item run again
            # (its worker killed while running it) finds its request, not a second one.
            await ctx.later(ResetCommand(user_id, query=rest, response_url=response_url,
                                         request_id=new_request_id()))
        else:
            await ctx.later(StatusCommand(user_id, query=rest, response_url=response_url))
        await ack()  # only now: the work is committed (an ack means it is safe)
