"""Block Kit primitives (pure functions) and the action / callback ids they use. The
surfaces built from them: handlers/views/cards.py (the approvals card, status, App Home),
handlers/views/dms.py (the DMs and modals); their words: handlers/views/words.py and the catalogs.

Two ways text enters mrkdwn here. Our own words go through ``esc`` (&, <, > escaped).
Every string a person or Intune controls — device names, serial numbers, device ids, owner
emails, a typed query echoed back, failure details from the backend — goes through
``literal``: shown inside a code span, so it can make no bold, italic, strike, link,
mention, emoji or code break, and no ``<!channel>`` or ``<@U…>`` in it ever pings anyone.
Plain-text objects (modal titles, headers, option text) show text as is."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from handlers.views.i18n import when as moment_text

ACTION_APPROVE = "approve"
ACTION_DENY = "deny"
ACTION_CANCEL = "cancel"
ACTION_REVEAL = "reveal"
ACTION_DEVICE_PICK = "device_pick"
ACTION_TRY_AGAIN = "try_again"  # on an unconfirmed reset's approvals post (issue 12)
BLOCK_DEVICE = "device"
CALLBACK_RESET_MODAL = "reset_modal"

Block = dict[str, Any]

def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc(text: object, limit: int = 500) -> str:
    """Our own words in mrkdwn: escape &, <, > and bound the length. Not for text a person
    or Intune controls (``literal``): it would still format (*bold*, _italic_, links)."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return _escape(s)


# A backtick would end the code span ``literal`` puts text in: it becomes U+02CB MODIFIER
# LETTER GRAVE ACCENT, which looks the same and formats nothing.
BACKTICK_STAND_IN = "\u02cb"
EMPTY = "—"
_LINE_BREAKS = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
# Bidirectional embeddings, overrides and isolates would reorder what follows the code span
# on screen; each shows as U+FFFD (the replacement character) instead.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def literal(text: object, limit: int = 200) -> str:
    """A string a person or Intune controls, shown in mrkdwn exactly as it is and unable to
    format: inside an inline code span, with each backtick shown as U+02CB (see
    ``BACKTICK_STAND_IN``), &, < and > escaped, line breaks folded to spaces, bidirectional
    controls shown as U+FFFD, at most ``limit`` characters (then "…"). Empty (or only
    spaces): "—"."""
    s = _LINE_BREAKS.sub(" ", "" if text is None else str(text)).strip()
    if not s:
        return EMPTY
    if len(s) > limit:
        s = s[: max(limit - 1, 0)].rstrip() + "…"
    s = _BIDI_CONTROLS.sub("\ufffd", s.replace("`", BACKTICK_STAND_IN))
    return f"`{_escape(s)}`"


def mention(user_id: str) -> str:
    """A user mention, only for ids we got from Slack itself (never for typed text)."""
    return f"<@{user_id}>" if user_id.isalnum() else literal(user_id, 40)


def when(moment: datetime | None, locale: str | None = "en") -> str:
    """A moment as the reader's language writes it (``i18n.when``, Babel)."""
    return moment_text(locale, moment)


def fit(text: str, limit: int = 3000) -> str:
    """mrkdwn cut to Slack's ``limit`` without cutting a literal's code span in half: the rest
    of a half span would be read as markup (``literal`` spans hold no backtick inside)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.count("`") % 2:
        cut = cut[: cut.rindex("`")]
    return cut + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(text)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(text)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    b: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def actions(block_id: str, *elements: Block) -> Block:
    return {"type": "actions", "block_id": block_id[:255], "elements": list(elements)}
