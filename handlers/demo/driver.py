"""Plays Slack's side toward the running app: slash commands, button clicks, options loads and
view submissions as Slack-signed HTTP requests to POST /slack/events.

Used by the tests, `passcode-bot demo` and the benchmark. Signing follows
api.slack.com/authentication/verifying-requests-from-slack: ``v0=`` + hex HMAC-SHA256 of
``v0:{timestamp}:{body}`` with the signing secret.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlencode

import aiohttp

from handlers.demo.slack_emulator import SlackEmulator

_counter = itertools.count(1)


def sign(secret: str, body: str, timestamp: int) -> str:
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: str
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


class SlackDriver:
    """Sends what Slack would send, signed, and returns the app's HTTP answer."""

    def __init__(self, app_url: str, signing_secret: str, emulator: SlackEmulator,
                 team_id: str = "T0TEAM") -> None:
        self.url = app_url.rstrip("/") + "/slack/events"
        self.secret = signing_secret
        self.emulator = emulator
        self.team_id = team_id
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def post(self, body: str, *, content_type: str = "application/x-www-form-urlencoded",
                   timestamp: int | None = None, signature: str | None = None,
                   headers: dict[str, str] | None = None) -> Answer:
        """POST a raw body, signed unless ``signature`` is given."""
        assert self._session is not None, "use `async with SlackDriver(...)`"
        ts = int(time.time()) if timestamp is None else timestamp
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": (
                signature if signature is not None else sign(self.secret, body, ts)
            ),
            **(headers or {}),
        }
        async with self._session.post(self.url, data=body.encode(), headers=sent) as resp:
            return Answer(resp.status, await resp.text(), dict(resp.headers))

    def command_body(self, user_id: str, text: str, command: str = "/passcode",
                     channel_id: str = "C0GENERAL") -> str:
        n = next(_counter)
        return urlencode({
            "token": "legacy-unused",
            "team_id": self.team_id,
            "channel_id": channel_id,
            "user_id": user_id,
            "command": command,
            "text": text,
            "response_url": self.emulator.response_url(f"cmd{n}"),
            "trigger_id": self.emulator.new_trigger_id(user_id),
            "api_app_id": "A0PASSCODE",
        })

    async def command(self, user_id: str, text: str, **kw: Any) -> Answer:
        return await self.post(self.command_body(user_id, text), **kw)

    def _payload(self, payload: dict[str, Any]) -> str:
        return urlencode({"payload": json.dumps(payload)})

    async def click(self, user_id: str, action_id: str, value: str, *,
                    channel_id: str | None = None, message_ts: str | None = None,
                    in_home: bool = False, block_id: str = "b") -> Answer:
        """A button click in a message (channel or DM) or in the App Home."""
        container: dict[str, Any]
        if in_home:
            container = {"type": "view", "view_id": "VHOME"}
        else:
            container = {"type": "message", "message_ts": message_ts or "0",
                         "channel_id": channel_id or ""}
        payload: dict[str, Any] = {
            "type": "block_actions",
            "team": {"id": self.team_id},
            "user": {"id": user_id, "team_id": self.team_id},
            "api_app_id": "A0PASSCODE",
            "trigger_id": self.emulator.new_trigger_id(user_id),
            "container": container,
            "actions": [{
                "type": "button", "action_id": action_id, "block_id": block_id,
                "value": value, "action_ts": f"{time.time():.6f}{next(_counter)}",
            }],
        }
        if channel_id and not in_home:
            payload["channel"] = {"id": channel_id}
            payload["message"] = {"ts": message_ts or "0", "text": ""}
        return await self.post(self._payload(payload))

    async def options(self, user_id: str, action_id: str, value: str,
                      block_id: str = "device") -> Answer:
        payload = {
            "type": "block_suggestion",
            "team": {"id": self.team_id},
            "user": {"id": user_id, "team_id": self.team_id},
            "api_app_id": "A0PASSCODE",
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "view": {"id": "VPICK", "type": "modal", "callback_id": "reset_modal"},
        }
        return await self.post(self._payload(payload))

    async def submit_view(self, user_id: str, callback_id: str,
                          values: dict[str, dict[str, Any]]) -> Answer:
        payload = {
            "type": "view_submission",
            "team": {"id": self.team_id},
            "user": {"id": user_id, "team_id": self.team_id},
            "api_app_id": "A0PASSCODE",
            "trigger_id": self.emulator.new_trigger_id(user_id),
            "view": {"id": "VPICK", "type": "modal", "callback_id": callback_id,
                     "state": {"values": values}, "private_metadata": ""},
        }
        return await self.post(self._payload(payload))

    async def event(self, event: dict[str, Any], *, retry_num: int | None = None,
                    event_id: str | None = None) -> Answer:
        """An Events API delivery; the same ``event_id`` again with ``retry_num`` is Slack's
        retry of it."""
        body = json.dumps({
            "type": "event_callback", "team_id": self.team_id, "api_app_id": "A0PASSCODE",
            "event": event, "event_id": event_id or f"Ev{next(_counter)}",
            "event_time": int(time.time()),
        })
        headers = {"X-Slack-Retry-Num": str(retry_num)} if retry_num else None
        return await self.post(body, content_type="application/json", headers=headers)
