"""/passcode reset | status | help."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.service import Outcome, Reply
from handlers import blocks
from handlers.i18n import t
from handlers.slack.context import Context
from handlers.work.items import LearnLocale, OpenPicker, ResetCommand, StatusCommand
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


_KEYS = {  # the service's message keys -> catalog keys (refusals: blocks.refusal_text)
    "limited.user": "reply.limited.user",
    "limited.device": "reply.limited.device",
    "invalid.long": "reply.invalid.long",
    "invalid.empty": "reply.invalid.empty",
    "not_found.own": "reply.not_found.own",
}


def reply_text(reply: Reply, locale: str = "en", query: str = "") -> str:
    """The reply's message as mrkdwn in the person's language. A reply that names a device or
    echoes what the person typed is worded here in every language, English too, with those
    values as literals (``blocks.literal``); any other is the service's own message (escaped:
    our own words), or its translation."""
    r, o, literal = reply.request, reply.outcome, blocks.literal
    query = " ".join(query.split())
    if o is Outcome.CREATED and r is not None:
        return t(locale, "reply.created", id=r.id, name=literal(r.device_name))
    if o is Outcome.REFUSED and r is not None:
        refusal = blocks.refusal_text(r, locale, reply.key, reply.params, recognise=False)
        if refusal is not None:
            return refusal
    if o is Outcome.NOT_FOUND:
        if not query:  # the picker's choice: its id is not worth repeating
            own = reply.key == "not_found.own"  # and whether it is gone or not theirs, untold
            return t(locale, "reply.not_found.own.picked" if own else "reply.not_found.picked")
        return t(locale, _KEYS.get(reply.key, "reply.not_found"), query=literal(query, 200))
    if o is Outcome.AMBIGUOUS:
        return t(locale, "reply.ambiguous", n=len(reply.matches), query=literal(query, 200))
    if o is Outcome.ALREADY_OPEN and r is not None:
        return t(locale, "reply.already_open", name=literal(r.device_name), id=r.id)
    if o in {Outcome.LIMITED, Outcome.INVALID} and reply.key in _KEYS:
        params = {k: literal(v) if isinstance(v, str) else v for k, v in reply.params.items()}
        return t(locale, _KEYS[reply.key], **params)
    if o is Outcome.TRY_LATER and reply.key == "try_later":
        return t(locale, "reply.try_later", detail=literal(reply.params.get("detail", ""), 300))
    return blocks.esc(reply.message, 2500)


def reply_blocks(reply: Reply, locale: str = "en", query: str = "") -> list[blocks.Block]:
    """A request outcome, for the requester's eyes only."""
    icon = {
        Outcome.CREATED: ":hourglass:",
        Outcome.REFUSED: ":no_entry_sign:",
        Outcome.NOT_FOUND: ":mag:",
        Outcome.AMBIGUOUS: ":mag:",
        Outcome.ALREADY_OPEN: ":hourglass:",
    }.get(reply.outcome, ":information_source:")
    out = [blocks.section(f"{icon} {reply_text(reply, locale, query)}")]
    if reply.outcome is Outcome.REFUSED and reply.request is not None:
        out.append(blocks.context(
            f"{blocks.literal(reply.request.device_name)} · "
            f"{blocks.esc(MATRIX[reply.request.row].label)} · {reply.request.id}"
        ))
    if reply.matches:
        lines = [
            f"• {blocks.literal(d.name)} · {t(locale, 'reply.serial')} {blocks.literal(d.serial)}"
            f" · {blocks.literal(d.id)}"
            for d in reply.matches[:10]
        ]
        out.append(blocks.section("\n".join(lines)))
    return out


def register(app: AsyncApp, ctx: Context) -> None:
    @app.command("/passcode")
    async def handle_passcode(ack: AsyncAck, body: dict[str, Any]) -> None:
        """Acknowledge at once; everything slow happens after the ack (handlers.work.worker)."""
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
            await ack(response_type="ephemeral", text=blocks.help_text(locale),
                      blocks=blocks.help_blocks(locale))
            if not locale and user_id:
                ctx.later(LearnLocale(user_id))
            return
        await ack()
        response_url = str(body.get("response_url") or "")
        if verb == "reset" and not rest:
            trigger_id = str(body.get("trigger_id") or "")
            ctx.later(OpenPicker(user_id, trigger_id=trigger_id, response_url=response_url))
        elif verb == "reset":
            ctx.later(ResetCommand(user_id, query=rest, response_url=response_url))
        else:
            ctx.later(StatusCommand(user_id, query=rest, response_url=response_url))
