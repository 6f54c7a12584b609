"""What the bot tells people in private: the requester's DMs (waiting, decided, the result)
and the device owner's, and the modals (the passcode, a notice, the device picker). Pure
functions over the primitives of handlers/views/blocks.py; every word from the catalogs."""

from __future__ import annotations

from bot.domain import ResetRequest, State
from bot.ports import Device
from bot.service import Outcome, Reply
from handlers.views import words
from handlers.views.blocks import (
    ACTION_CANCEL,
    ACTION_DEVICE_PICK,
    ACTION_REVEAL,
    BLOCK_DEVICE,
    CALLBACK_RESET_MODAL,
    Block,
    actions,
    button,
    context,
    esc,
    literal,
    mention,
    section,
    when,
)
from handlers.views.cards import device_summary
from handlers.views.i18n import t
from handlers.views.words import failure_hint, failure_text
from policy.platforms import Result

# -- direct messages to the requester ----------------------------------------------------


def waiting_dm(r: ResetRequest, locale: str = "en") -> tuple[str, list[Block]]:
    name = literal(r.device_name)
    if r.state is State.AWAITING_APPROVAL:
        text = t(locale, "dm.waiting", name=name, id=r.id)
        blocks = [section(f":hourglass: {text}"), section(device_summary(r, locale))]
    else:
        text = t(locale, "dm.title", name=name, id=r.id)
        # Not in bold: a literal inside our own *…* could be read as closing it.
        blocks = [section(f":memo: {text}"), section(device_summary(r, locale))]
    if r.state is State.AWAITING_APPROVAL:
        blocks.append(actions(
            f"cancel:{r.id}", button(t(locale, "button.cancel"), ACTION_CANCEL, r.id)
        ))
    else:
        blocks.append(section(decision_dm_line(r, locale)))
    return text, blocks


def decision_dm_line(r: ResetRequest, locale: str = "en") -> str:
    by = t(locale, "by", who=mention(r.decided_by)) if r.decided_by else ""
    if r.state is State.DENIED:
        return t(locale, "dm.denied", by=by)
    if r.state is State.CANCELLED:
        return t(locale, "dm.cancelled")
    if r.state is State.EXPIRED:
        return t(locale, "dm.expired")
    return t(locale, "dm.approved", by=by)


def result_dm(r: ResetRequest, locale: str = "en") -> tuple[str, list[Block]]:
    """The DM with the outcome. Never contains the passcode itself."""
    name = literal(r.device_name)
    if r.state is State.UNCONFIRMED:
        text = t(locale, "result.unconfirmed", name=name, id=r.id)
        return text, [section(f":grey_question: {text} {t(locale, 'result.unconfirmed.more')}")]
    if r.state is State.FAILED:
        text = t(locale, "result.failed", name=name, id=r.id)
        blocks = [section(f":x: {text}\n{failure_text(r, locale)}")]
        hint = failure_hint(r, locale)
        if hint:
            blocks.append(section(esc(hint)))
        return text, blocks
    if r.state is State.PASSCODE_EXPIRED:
        text = t(locale, "result.expired", name=name, id=r.id)
        return text, [section(f":lock: {text} {t(locale, 'result.expired.more')}")]
    if r.has_passcode:
        kind = t(locale, f"result.{(r.expected or Result.NEW_PASSCODE).value}")
        text = t(locale, "result.ready", kind=kind[:1].upper() + kind[1:], name=name, id=r.id)
        blocks = [
            section(f":key: {text} {t(locale, f'result.type.{r.scope.value}')}"),
            context(t(locale, "result.only_you", until=when(r.passcode_expires_at, locale))),
            actions(f"reveal:{r.id}",
                    button(t(locale, "button.show"), ACTION_REVEAL, r.id, "primary")),
        ]
        return text, blocks
    if r.expected is Result.PASSCODE_REMOVED:
        text = t(locale, "result.removed", name=name, id=r.id)
        return text, [section(f":unlock: {text} {t(locale, 'result.removed.more')}")]
    text = t(locale, "result.none", name=name, id=r.id)
    return text, [section(f":grey_question: {text} {t(locale, 'result.none.more')}")]


# -- direct messages to the device's owner ----------------------------------------------

OWNER_APPROVED, OWNER_RESULT = "owner_approved", "owner_result"  # which owner DM


def owner_dm(r: ResetRequest, which: str, locale: str = "en") -> tuple[str, list[Block]]:
    """The owner hears that someone else's reset of their device was approved (``which`` is
    OWNER_APPROVED) or has ended (OWNER_RESULT). Never the passcode, never a button."""
    values = {"name": literal(r.device_name), "id": r.id, "requester": mention(r.requester_id)}
    if which == OWNER_APPROVED:
        text = t(locale, "owner.approved", approver=mention(r.decided_by), **values)
    elif r.state is State.FAILED:
        text = t(locale, "owner.failed", **values)
    else:
        text = t(locale, "owner.completed", **values)
    return text, [section(text), context(t(locale, "owner.unexpected"))]


# -- modals -----------------------------------------------------------------------------


def passcode_modal(r: ResetRequest, passcode: str, locale: str = "en") -> Block:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": t(locale, "modal.passcode.title")},
        "close": {"type": "plain_text", "text": t(locale, "modal.done")},
        "blocks": [
            section(t(locale, "modal.passcode.device", name=literal(r.device_name), id=r.id)),
            {"type": "header", "text": {"type": "plain_text", "text": passcode}},
            section(t(locale, f"modal.passcode.type.{r.scope.value}")),
            context(t(locale, "modal.passcode.until", until=when(r.passcode_expires_at, locale))),
        ],
    }


def notice_modal(title: str, text: str, locale: str = "en") -> Block:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": t(locale, "modal.close")},
        "blocks": [section(esc(text, 2900))],
    }


def reset_modal(locale: str = "en") -> Block:
    return {
        "type": "modal",
        "callback_id": CALLBACK_RESET_MODAL,
        "title": {"type": "plain_text", "text": t(locale, "picker.title")},
        "submit": {"type": "plain_text", "text": t(locale, "picker.submit")},
        "close": {"type": "plain_text", "text": t(locale, "picker.cancel")},
        "blocks": [
            {
                "type": "input",
                "block_id": BLOCK_DEVICE,
                "label": {"type": "plain_text", "text": t(locale, "picker.device")},
                "element": {
                    "type": "external_select",
                    "action_id": ACTION_DEVICE_PICK,
                    "placeholder": {"type": "plain_text", "text": t(locale, "picker.placeholder")},
                    "min_query_length": 0,
                },
            },
            context(t(locale, "picker.note")),
        ],
    }


def device_options(devices: list[Device]) -> list[Block]:
    options = []
    for d in devices[:100]:
        label = f"{d.name} · {d.serial}" if d.serial else d.name
        options.append(
            {"text": {"type": "plain_text", "text": label[:75]}, "value": d.id[:150]}
        )
    return options


def reply_blocks(reply: Reply, locale: str = "en") -> list[Block]:
    """A request outcome, for the requester's eyes only."""
    icon = {
        Outcome.CREATED: ":hourglass:",
        Outcome.REFUSED: ":no_entry_sign:",
        Outcome.NOT_FOUND: ":mag:",
        Outcome.AMBIGUOUS: ":mag:",
        Outcome.ALREADY_OPEN: ":hourglass:",
    }.get(reply.outcome, ":information_source:")
    out = [section(f"{icon} {words.reply_text(reply, locale)}")]
    if reply.outcome is Outcome.REFUSED and reply.request is not None:
        out.append(context(
            f"{literal(reply.request.device_name)} · "
            f"{esc(words.platform(reply.request.row, locale))} · {reply.request.id}"
        ))
    if reply.matches:
        lines = [
            f"• {literal(d.name)} · {t(locale, 'reply.serial')} {literal(d.serial)}"
            f" · {literal(d.id)}"
            for d in reply.matches[:10]
        ]
        out.append(section("\n".join(lines)))
    return out
