"""Slack-signed request bodies, built ahead of a timed run so the load generator only sends.
Same shapes and signing as handlers/demo/driver.py (which posts as it builds)."""

from __future__ import annotations

import itertools
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from bench import APPROVALS, SIGNING_SECRET
from handlers.demo.driver import sign

_FORM = "application/x-www-form-urlencoded"
_counter = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Prepared:
    kind: str
    body: bytes
    headers: dict[str, str]


class Signer:
    def __init__(self, slack_base_url: str, secret: str = SIGNING_SECRET,
                 team_id: str = "T0TEAM") -> None:
        self.slack = slack_base_url.rstrip("/") + "/"
        self.secret = secret
        self.team_id = team_id

    def _signed(self, kind: str, body: str) -> Prepared:
        ts = int(time.time())
        return Prepared(kind, body.encode(), {
            "Content-Type": _FORM,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": sign(self.secret, body, ts),
        })

    def _trigger(self) -> str:
        return f"{next(_counter)}.{int(time.time())}.{secrets.token_hex(8)}"

    def command(self, user_id: str, text: str, kind: str = "command") -> Prepared:
        n = next(_counter)
        return self._signed(kind, urlencode({
            "token": "legacy-unused", "team_id": self.team_id, "channel_id": "C0GENERAL",
            "user_id": user_id, "command": "/passcode", "text": text,
            "response_url": f"{self.slack}response/bench{n}", "trigger_id": self._trigger(),
            "api_app_id": "A0PASSCODE",
        }))

    def _payload(self, kind: str, payload: dict[str, Any]) -> Prepared:
        return self._signed(kind, urlencode({"payload": json.dumps(payload)}))

    def approve(self, user_id: str, request_id: str, message_ts: str = "0") -> Prepared:
        """A click on Approve in the approvals channel."""
        return self._payload("approve", {
            "type": "block_actions", "team": {"id": self.team_id},
            "user": {"id": user_id, "team_id": self.team_id}, "api_app_id": "A0PASSCODE",
            "trigger_id": self._trigger(),
            "container": {"type": "message", "message_ts": message_ts, "channel_id": APPROVALS},
            "channel": {"id": APPROVALS}, "message": {"ts": message_ts, "text": ""},
            "actions": [{"type": "button", "action_id": "approve", "block_id": "b",
                         "value": request_id, "action_ts": f"{time.time():.6f}{next(_counter)}"}],
        })

    def options(self, user_id: str, query: str) -> Prepared:
        """The device picker's options load for ``query``."""
        return self._payload("options", {
            "type": "block_suggestion", "team": {"id": self.team_id},
            "user": {"id": user_id, "team_id": self.team_id}, "api_app_id": "A0PASSCODE",
            "action_id": "device_pick", "block_id": "device", "value": query,
            "view": {"id": "VPICK", "type": "modal", "callback_id": "reset_modal"},
        })
