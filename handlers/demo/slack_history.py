"""conversations.history and message metadata as Slack documents them, for the emulator
(handlers/demo/slack_emulator.py): https://docs.slack.dev/reference/methods/conversations.history
and https://docs.slack.dev/messaging/message-metadata

A message keeps the metadata it was posted with; conversations.history returns a channel's
messages newest first, between ``oldest`` and ``latest`` (exclusive unless ``inclusive``), at
most ``limit`` (default 100, at most 999) a page with a ``next_cursor``, and a message's
metadata only when asked with ``include_all_metadata``. Reading history takes the scope for
the kind of conversation: im:history (a DM), mpim:history, channels:history, groups:history."""

from __future__ import annotations

import base64
import json
from collections.abc import Collection, Sequence
from typing import Any

JSON = dict[str, Any]

SCOPES = {"D": "im:history", "G": "mpim:history", "C": "channels:history"}


def metadata_problem(metadata: Any) -> str | None:
    """chat.postMessage's error for a ``metadata`` Slack would refuse, else None."""
    if metadata is None:
        return None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
        return "invalid_metadata_format"
    if not metadata["event_type"] or not isinstance(metadata.get("event_payload"), dict):
        return "invalid_metadata_format"
    return None


def history(messages: Sequence[JSON], channel_id: str, params: JSON,
            scopes: Collection[str] | None) -> JSON:
    """conversations.history over ``messages`` (the channel's, oldest first); ``scopes``:
    the token's, or None for all."""
    scope = SCOPES.get(channel_id[:1], "channels:history")
    if scopes is not None and scope not in scopes:
        return {"ok": False, "error": "missing_scope", "needed": scope,
                "provided": ",".join(sorted(scopes))}
    try:
        oldest = float(params.get("oldest") or 0)
        latest = float(params.get("latest") or 1e12)
        limit = min(max(int(params.get("limit") or 100), 1), 999)
        start = int(_decode(str(params.get("cursor") or "")) or 0)
    except ValueError:
        return {"ok": False, "error": "invalid_arguments"}
    inclusive = str(params.get("inclusive", "")).lower() in ("1", "true")
    with_metadata = str(params.get("include_all_metadata", "")).lower() in ("1", "true")

    def within(message: JSON) -> bool:
        ts = float(message["ts"])
        if inclusive:
            return oldest <= ts <= latest
        return oldest < ts < latest

    found = [m for m in reversed(messages) if within(m)]
    page = found[start:start + limit]
    out = []
    for message in page:
        copy = json.loads(json.dumps(message))
        if not with_metadata:
            copy.pop("metadata", None)
        out.append(copy)
    more = start + limit < len(found)
    return {"ok": True, "messages": out, "has_more": more, "pin_count": 0,
            "response_metadata": {"next_cursor": _encode(str(start + limit)) if more else ""}}


def _encode(text: str) -> str:
    return base64.urlsafe_b64encode(f"next:{text}".encode()).decode()


def _decode(cursor: str) -> str:
    if not cursor:
        return ""
    try:
        text = base64.urlsafe_b64decode(cursor.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise ValueError("cursor") from None
    if not text.startswith("next:"):
        raise ValueError("cursor")
    return text.removeprefix("next:")
