"""/passcode reset | status | help."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncRespond

from bot.service import Outcome, Reply
from handlers import blocks
from handlers.context import Context, PooledRespond
from policy.platforms import MATRIX

MAX_COMMAND = 1000


def parse(text: str) -> tuple[str, str]:
    """'reset  Pixel 8 ' -> ('reset', 'Pixel 8'); unknown or empty -> ('help', '')."""
    words = text.strip().split(maxsplit=1)
    verb = words[0].lower() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if verb not in {"reset", "status", "help"}:
        return "help", ""
    return verb, rest


def reply_blocks(reply: Reply) -> list[blocks.Block]:
    """A request outcome, for the requester's eyes only."""
    icon = {
        Outcome.CREATED: ":hourglass:",
        Outcome.REFUSED: ":no_entry_sign:",
        Outcome.NOT_FOUND: ":mag:",
        Outcome.AMBIGUOUS: ":mag:",
        Outcome.ALREADY_OPEN: ":hourglass:",
    }.get(reply.outcome, ":information_source:")
    out = [blocks.section(f"{icon} {blocks.esc(reply.message, 2500)}")]
    if reply.outcome is Outcome.REFUSED and reply.request is not None:
        out.append(blocks.context(
            f"{blocks.esc(reply.request.device_name)} · "
            f"{blocks.esc(MATRIX[reply.request.row].label)} · {reply.request.id}"
        ))
    if reply.matches:
        lines = [
            f"• {blocks.esc(d.name)} · serial {blocks.esc(d.serial or '—')} · `{blocks.esc(d.id)}`"
            for d in reply.matches[:10]
        ]
        out.append(blocks.section("\n".join(lines)))
    return out


def register(app: AsyncApp, ctx: Context) -> None:
    @app.command("/passcode")
    async def handle_passcode(ack: AsyncAck, body: dict[str, Any], respond: AsyncRespond) -> None:
        """Acknowledge at once; everything slow happens after the ack."""
        text = str(body.get("text") or "")
        user_id = str(body.get("user_id") or "")
        if len(text) > MAX_COMMAND:
            await ack(
                response_type="ephemeral",
                text=f"That is too long ({len(text)} characters). Try `/passcode reset <device name>`.",
            )
            return
        verb, rest = parse(text)
        if verb == "help":
            await ack(response_type="ephemeral", text=blocks.HELP_TEXT, blocks=blocks.help_blocks())
            return
        await ack()
        respond = PooledRespond(respond.response_url, ctx.client.session)

        async def say(message: str) -> None:
            await respond(response_type="ephemeral", text=message, replace_original=False)

        if verb == "reset" and not rest:
            trigger_id = str(body.get("trigger_id") or "")
            ctx.spawn(_open_picker(ctx, trigger_id), say, "open device picker")
        elif verb == "reset":
            ctx.spawn(_reset(ctx, user_id, rest, respond), say, "reset command")
        else:
            ctx.spawn(_status(ctx, user_id, rest, respond), say, "status command")


async def _open_picker(ctx: Context, trigger_id: str) -> None:
    await ctx.client.views_open(trigger_id=trigger_id, view=blocks.reset_modal())


async def _reset(ctx: Context, user_id: str, query: str, respond: AsyncRespond) -> None:
    person = await ctx.person(user_id)
    reply = await ctx.service.request_reset(person, query)
    await respond(response_type="ephemeral", text=blocks.esc(reply.message, 2900),
                  blocks=reply_blocks(reply))


async def _status(ctx: Context, user_id: str, request_id: str, respond: AsyncRespond) -> None:
    person = await ctx.person(user_id)
    found = await ctx.service.status(person, request_id or None)
    empty = (
        f"No request {blocks.esc(request_id[:20])} that you can see."
        if request_id
        else "You have no passcode reset requests yet."
    )
    text = "\n".join(blocks.status_line(r) for r in found) or empty
    await respond(response_type="ephemeral", text=text[:2900],
                  blocks=blocks.status_blocks(found, empty))
