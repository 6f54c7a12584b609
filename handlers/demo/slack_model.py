"""The Slack the emulator (handlers/demo/slack_emulator.py) keeps: users, channels, DMs,
messages, modals, App Home tabs and trigger ids, the Web API methods over them, and the
transcript the demo prints. Method reference: https://docs.slack.dev/reference/methods"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from handlers.demo.render import render_blocks, text_of
from handlers.demo.slack_history import metadata_problem

JSON = dict[str, Any]
# trigger_id: valid for 3 seconds and once (https://api.slack.com/interactivity/handling).
TRIGGER_TTL = 3.0


@dataclass
class Trigger:
    """An issued trigger_id."""

    issued_at: float
    user_id: str | None
    used: bool = False


def _truthy(value: Any) -> bool:
    """Slack's booleans: true, 1, "1", "true"."""
    return value is True or str(value).lower() in ("1", "true")


class SlackModel:
    """Slack's side of the conversation, and the Web API methods that read and change it."""

    def __init__(self, *, strict_triggers: bool, clock: Callable[[], float], bot_user_id: str,
                 bot_id: str, bot_name: str, team_id: str) -> None:
        self.strict_triggers = strict_triggers
        self.clock = clock
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.team_id = team_id
        self.enterprise_id = ""  # set to play an Enterprise Grid install
        self._log: list[str] = []
        self._users: dict[str, JSON] = {}  # user id -> users.info "user" object
        self._channels: dict[str, str] = {}  # channel id -> name
        self._dms: dict[str, str] = {}  # user id or sorted ids -> D.../G... channel id
        self._messages: dict[str, list[JSON]] = {}
        self._ephemeral: list[JSON] = []
        self._views: dict[str, JSON] = {}
        self._homes: dict[str, str] = {}  # user id -> view id
        self._view_users: dict[str, str | None] = {}
        self._triggers: dict[str, Trigger] = {}
        self._responses: dict[str, tuple[str, str]] = {}  # token -> (channel, ts) it answers
        self._ids = itertools.count(1)

    # setup

    def add_user(
        self,
        user_id: str,
        *,
        name: str,
        email: str,
        real_name: str | None = None,
        locale: str = "en-US",
        tz: str = "Europe/Stockholm",
        is_bot: bool = False,
        team_id: str | None = None,
        **flags: Any,
    ) -> None:
        """Add (or replace) a user: a confirmed member of this workspace unless ``team_id``
        (another workspace) or ``flags`` say otherwise: any users.info field, e.g.
        ``is_restricted=True`` (a guest), ``is_stranger=True``, ``deleted=True``,
        ``is_email_confirmed=False`` or ``enterprise_user={"enterprise_id": "E1"}``."""
        real_name = real_name or name.capitalize()
        profile = {"email": email, "real_name": real_name, "display_name": name}
        self._users[user_id] = {
            "id": user_id,
            "team_id": self.team_id if team_id is None else team_id,
            "name": name,
            "real_name": real_name,
            "deleted": False,
            "is_bot": is_bot,
            "is_restricted": False,
            "is_ultra_restricted": False,
            "is_email_confirmed": True,
            "tz": tz,
            "locale": locale,
            "profile": profile,
            **flags,
        }

    def add_channel(self, channel_id: str, *, name: str) -> None:
        """Name a public channel, so the transcript shows #name."""
        self._channels[channel_id] = name

    def new_trigger_id(self, user_id: str | None = None) -> str:
        """A fresh trigger_id, as Slack puts in an interaction payload; `user_id` is who clicked."""
        trigger_id = f"{next(self._ids)}.{int(time.time())}.{secrets.token_hex(8)}"
        self._triggers[trigger_id] = Trigger(self.clock(), user_id)
        return trigger_id


    # inspection

    def messages(self, channel: str) -> list[JSON]:
        """Current messages in a channel (a user id means the DM with them), oldest first."""
        channel_id = self._dms.get(channel, channel)
        return [json.loads(json.dumps(m)) for m in self._messages.get(channel_id, [])]

    def ephemeral_messages(self, user_id: str) -> list[JSON]:
        """Ephemeral messages shown to one user."""
        return [dict(m) for m in self._ephemeral if m["user"] == user_id]

    def home(self, user_id: str) -> JSON | None:
        """The App Home view last published for a user."""
        view_id = self._homes.get(user_id)
        return None if view_id is None else dict(self._views[view_id])

    @property
    def open_views(self) -> dict[str, JSON]:
        """Modals opened or pushed, by view id, in their latest state."""
        return {k: dict(v) for k, v in self._views.items() if v.get("type") != "home"}

    def transcript(self) -> list[str]:
        """Human-readable lines: what was posted to whom."""
        return list(self._log)


    # helpers for the methods

    def _next_ts(self) -> str:
        """A unique, increasing message timestamp like 1700000000.000100."""
        micros = 1_700_000_000_000_000 + next(self._ids) * 100
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _dm_channel(self, user_ids: list[str]) -> str:
        """The stable D... (one user) or G... (several) channel for these users."""
        key = ",".join(sorted(user_ids))
        if key not in self._dms:
            prefix = "D" if len(user_ids) == 1 else "G"
            self._dms[key] = f"{prefix}0EMU{next(self._ids):05d}"
        return self._dms[key]

    def _resolve_channel(self, channel: str) -> str | None:
        """A channel id for a channel id, #name or user id (that user's DM); None if the
        user is unknown."""
        if channel[:1] in ("U", "W"):
            return self._dm_channel([channel]) if channel in self._users else None
        name = channel.lstrip("#")
        for channel_id, known in self._channels.items():
            if known == name:
                return channel_id
        return channel

    def _where(self, channel_id: str) -> str:
        """How the transcript names a channel: #name or DM @user."""
        for key, dm in self._dms.items():
            if dm == channel_id:
                return "DM " + ", ".join(self._at(u) for u in key.split(","))
        return "#" + self._channels.get(channel_id, channel_id)

    def _at(self, user_id: str | None) -> str:
        """@name for a user id."""
        user = self._users.get(user_id or "")
        return "@" + (user["name"] if user else user_id or "?")

    @staticmethod
    def _message_text(message: Mapping[str, Any]) -> str:
        """A message as plain text: its blocks, else its text."""
        return render_blocks(message.get("blocks")) or str(message.get("text", "")).replace(
            "\n", " / "
        )

    def _user_json(self, user_id: str, include_locale: bool) -> JSON | None:
        """A copy of a user object as users.info returns it (locale only when asked)."""
        user = self._users.get(user_id)
        if user is None:
            return None
        return {
            k: v for k, v in json.loads(json.dumps(user)).items() if k != "locale" or include_locale
        }

    # methods

    def _auth_test(self, params: JSON) -> JSON:
        """auth.test: who the token belongs to (Bolt calls it first)."""
        return {
            "ok": True,
            "url": "https://emulator.slack.invalid/",
            "team": "Emulator",
            "user": self.bot_name,
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
            **({"enterprise_id": self.enterprise_id} if self.enterprise_id else {}),
        }

    def _chat_post_message(self, params: JSON) -> JSON:
        """chat.postMessage to a channel id, #name or user id."""
        channel = self._resolve_channel(str(params.get("channel", "")))
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if not (params.get("text") or params.get("blocks") or params.get("attachments")):
            return {"ok": False, "error": "no_text"}
        if problem := metadata_problem(params.get("metadata")):
            return {"ok": False, "error": problem}
        message: JSON = {
            "type": "message",
            "ts": self._next_ts(),
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "text": params.get("text", ""),
        }
        for key in ("blocks", "attachments", "thread_ts", "metadata"):
            if key in params:
                message[key] = params[key]
        self._messages.setdefault(channel, []).append(message)
        self._log.append(f"{self._where(channel)}  {self._message_text(message)}")
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": dict(message)}

    def _find_message(self, params: JSON) -> tuple[str, JSON] | None:
        """The stored message that params' channel and ts point at."""
        channel = self._resolve_channel(str(params.get("channel", ""))) or ""
        for message in self._messages.get(channel, []):
            if message["ts"] == params.get("ts"):
                return channel, message
        return None

    def _chat_update(self, params: JSON) -> JSON:
        """chat.update: replace the given fields of a message in place."""
        found = self._find_message(params)
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        channel, message = found
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": self.bot_user_id, "ts": self._next_ts()}
        self._log.append(f"{self._where(channel)}  (updated) {self._message_text(message)}")
        return {
            "ok": True,
            "channel": channel,
            "ts": message["ts"],
            "text": message.get("text", ""),
            "message": dict(message),
        }

    def _chat_delete(self, params: JSON) -> JSON:
        """chat.delete: remove a message."""
        found = self._find_message(params)
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        channel, message = found
        self._messages[channel].remove(message)
        self._log.append(f"{self._where(channel)}  (deleted {message['ts']})")
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _chat_post_ephemeral(self, params: JSON) -> JSON:
        """chat.postEphemeral: a message only `user` sees."""
        user = str(params.get("user", ""))
        channel = self._resolve_channel(str(params.get("channel", "")))
        if user not in self._users:
            return {"ok": False, "error": "user_not_found"}
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        message = {
            "ts": self._next_ts(),
            "channel": channel,
            "user": user,
            "text": params.get("text", ""),
            "blocks": params.get("blocks", []),
        }
        self._ephemeral.append(message)
        self._log.append(
            f"{self._where(channel)}  (only {self._at(user)}) {self._message_text(message)}"
        )
        return {"ok": True, "message_ts": message["ts"]}

    def _conversations_open(self, params: JSON) -> JSON:
        """conversations.open: a stable DM (or group DM) channel for `users`."""
        if params.get("channel"):
            return {"ok": True, "channel": {"id": params["channel"]}}
        users = [u for u in str(params.get("users", "")).split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        if any(u not in self._users for u in users):
            return {"ok": False, "error": "user_not_found"}
        channel_id = self._dm_channel(users)
        channel: JSON = {"id": channel_id, "is_im": len(users) == 1, "is_mpim": len(users) > 1}
        if len(users) == 1:
            channel["user"] = users[0]
        return {"ok": True, "channel": channel}

    def _users_info(self, params: JSON) -> JSON:
        """users.info: the directory entry (with locale when include_locale)."""
        user = self._user_json(str(params.get("user", "")), _truthy(params.get("include_locale")))
        return {"ok": True, "user": user} if user else {"ok": False, "error": "user_not_found"}

    def _users_list(self, params: JSON) -> JSON:
        """users.list: every user, a page of ``limit`` at a time (the cursor is an offset, as
        opaque to the caller as Slack's), locales only when include_locale."""
        try:
            limit = int(params.get("limit") or 0)
            start = int(str(params.get("cursor") or "0").removeprefix("offset:"))
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        ids = list(self._users)
        end = len(ids) if limit <= 0 else min(len(ids), start + limit)
        locale = _truthy(params.get("include_locale"))
        members = [self._user_json(user_id, locale) for user_id in ids[start:end]]
        return {"ok": True, "members": members,
                "response_metadata": {"next_cursor": f"offset:{end}" if end < len(ids) else ""}}

    def _users_lookup_by_email(self, params: JSON) -> JSON:
        """users.lookupByEmail: case-insensitive match on profile email."""
        email = str(params.get("email", "")).lower()
        for user_id, user in self._users.items():
            if user["profile"]["email"].lower() == email:
                return {"ok": True, "user": self._user_json(user_id, False)}
        return {"ok": False, "error": "users_not_found"}

    def _check_trigger(self, trigger_id: str) -> Trigger | None:
        """The trigger if it was issued, unused and (when strict) under 3 s old; marks it used."""
        trigger = self._triggers.get(trigger_id)
        if trigger is None or trigger.used:
            return None
        trigger.used = True
        if self.strict_triggers and self.clock() - trigger.issued_at > TRIGGER_TTL:
            return None
        return trigger

    def _store_view(self, view: JSON, view_id: str | None = None) -> JSON:
        """Give a view Slack's server-side fields and keep it."""
        view_id = view_id or f"V0EMU{next(self._ids):05d}"
        stored: JSON = {
            "state": {"values": {}},
            "private_metadata": "",
            "callback_id": "",
            "external_id": "",
            **view,
            "id": view_id,
            "team_id": self.team_id,
            "bot_id": self.bot_id,
            "hash": secrets.token_hex(6),
        }
        self._views[view_id] = stored
        return stored

    def _views_open(self, params: JSON) -> JSON:
        """views.open and views.push: need a fresh trigger_id."""
        trigger_id = str(params.get("trigger_id") or params.get("interactivity_pointer") or "")
        view = params.get("view")
        if not trigger_id or not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        trigger = self._check_trigger(trigger_id)
        if trigger is None:
            return {"ok": False, "error": "expired_trigger_id"}
        stored = self._store_view(view)
        self._view_users[stored["id"]] = trigger.user_id
        self._log_view(stored, "modal")
        return {"ok": True, "view": stored}

    def _views_update(self, params: JSON) -> JSON:
        """views.update by view_id or external_id, honouring hash."""
        view = params.get("view")
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        view_id = params.get("view_id")
        if not view_id and params.get("external_id"):
            ext = params["external_id"]
            view_id = next((k for k, v in self._views.items() if v.get("external_id") == ext), None)
        old = self._views.get(str(view_id))
        if old is None:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != old["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        stored = self._store_view(view, old["id"])
        self._log_view(stored, "home" if stored.get("type") == "home" else "modal", "(updated) ")
        return {"ok": True, "view": stored}

    def _views_publish(self, params: JSON) -> JSON:
        """views.publish: a user's App Home tab (the latest one wins)."""
        user_id = str(params.get("user_id", ""))
        view = params.get("view")
        if user_id not in self._users:
            return {"ok": False, "error": "user_not_found"}
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        stored = self._store_view(view, self._homes.get(user_id))
        self._homes[user_id] = stored["id"]
        self._view_users[stored["id"]] = user_id
        self._log_view(stored, "home")
        return {"ok": True, "view": stored}

    def _log_view(self, view: JSON, surface: str, note: str = "") -> None:
        """A transcript line for a modal or Home tab."""
        who = self._at(self._view_users.get(view["id"]))
        title = text_of(view.get("title"))
        head = f"{title}: " if title else ""
        self._log.append(f"{surface} → {who}  {note}{head}{render_blocks(view.get('blocks'))}")

    def _response_url_post(self, params: JSON) -> JSON:
        """A response_url POST: replace or delete the original message when we know it."""
        channel, ts = self._responses.get(str(params["response_token"]), ("", ""))
        original = self._find_message({"channel": channel, "ts": ts}) if channel else None
        if original and _truthy(params.get("delete_original")):
            self._chat_delete({"channel": channel, "ts": ts})
        elif original and _truthy(params.get("replace_original")):
            self._chat_update({**params, "channel": channel, "ts": ts})
        elif channel and params.get("response_type") == "in_channel":
            self._chat_post_message({**params, "channel": channel})
        else:
            where = self._where(channel) if channel else "response_url"
            self._log.append(f"{where}  {self._message_text(params)}")
        return {"ok": True}
