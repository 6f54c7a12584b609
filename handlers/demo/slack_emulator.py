"""A local Slack Web API emulator for tests and `passcode-bot demo` (aiohttp + stdlib only).

slack_sdk reaches it through `AsyncWebClient(base_url=emulator.api_url)`. It keeps a small model of
Slack (users, DM channels, messages, modals, App Home tabs), records every call, and can be told to
fail the next calls of a method (429 + Retry-After, 5xx, slow answers, dropped connections).
Method reference: https://docs.slack.dev/reference/methods
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import WSMsgType, web

JSON = dict[str, Any]
BOT_TOKEN = "xoxb-emulator"
APP_TOKEN = "xapp-1-emulator"  # Socket Mode: apps.connections.open takes it
# slack_sdk sends these as JSON values, but form posts carry them as JSON-encoded strings.
_JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
_HEADERS_KEPT = ("Authorization", "Content-Type", "User-Agent")
# trigger_id: valid for 3 seconds and once (https://api.slack.com/interactivity/handling).
TRIGGER_TTL = 3.0


@dataclass(frozen=True)
class Call:
    """One request the emulator received, as the client sent it."""

    method: str
    params: JSON
    headers: dict[str, str]
    at: float
    failed: bool = False
    response: JSON | None = None


@dataclass
class _Fault:
    """A scripted failure for the next `remaining` calls of one method."""

    status: int
    error: str | None
    retry_after: int | None
    remaining: int
    delay: float
    drop_connection: bool

    @property
    def fails(self) -> bool:
        """Whether the call gets no successful answer."""
        return self.drop_connection or self.error is not None


@dataclass
class _Trigger:
    """An issued trigger_id."""

    issued_at: float
    user_id: str | None
    used: bool = False


def _text_of(obj: Any) -> str:
    """The text of a text object, or of a plain string."""
    if isinstance(obj, Mapping):
        return str(obj.get("text", ""))
    return "" if obj is None else str(obj)


def _element_text(element: Mapping[str, Any]) -> str:
    """A block element as plain text; buttons as [label]."""
    if element.get("type") == "button":
        return f"[{_text_of(element.get('text'))}]"
    if element.get("type") == "image":
        return str(element.get("alt_text", ""))
    if "placeholder" in element:
        return f"[{_text_of(element.get('placeholder'))}]"
    return _text_of(element)


def render_blocks(blocks: list[Any] | None) -> str:
    """Block Kit blocks as one line of plain text: texts, fields, context, header, [buttons]."""
    parts: list[str] = []
    for block in blocks or []:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind in ("section", "header") and block.get("text"):
            parts.append(_text_of(block["text"]))
        if kind == "section":
            parts.extend(_text_of(f) for f in block.get("fields", []))
            if isinstance(block.get("accessory"), Mapping):
                parts.append(_element_text(block["accessory"]))
        elif kind in ("context", "actions"):
            parts.append(" ".join(_element_text(e) for e in block.get("elements", [])))
        elif kind == "input":
            parts.append(
                f"{_text_of(block.get('label'))}: {_element_text(block.get('element', {}))}"
            )
    return " | ".join(p.replace("\n", " / ") for p in parts if p)


def _truthy(value: Any) -> bool:
    """Slack's booleans: true, 1, "1", "true"."""
    return value is True or str(value).lower() in ("1", "true")


class SlackEmulator:
    """An aiohttp server on 127.0.0.1 that answers a subset of the Slack Web API."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        strict_triggers: bool = True,
        clock: Callable[[], float] = time.monotonic,
        bot_user_id: str = "UBOT",
        bot_id: str = "B0BOT",
        bot_name: str = "passcode-bot",
        team_id: str = "T0TEAM",
    ) -> None:
        self.host, self.port = host, port
        self.strict_triggers = strict_triggers
        self.clock = clock
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.bot_name = bot_name
        self.team_id = team_id
        self.enterprise_id = ""  # set to play an Enterprise Grid install
        self.token = BOT_TOKEN
        self.calls: list[Call] = []
        self._log: list[str] = []
        self._users: dict[str, JSON] = {}  # user id -> users.info "user" object
        self._channels: dict[str, str] = {}  # channel id -> name
        self._dms: dict[str, str] = {}  # user id or sorted ids -> D.../G... channel id
        self._messages: dict[str, list[JSON]] = {}
        self._ephemeral: list[JSON] = []
        self._views: dict[str, JSON] = {}
        self._homes: dict[str, str] = {}  # user id -> view id
        self._view_users: dict[str, str | None] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._responses: dict[str, tuple[str, str]] = {}  # token -> (channel, ts) it answers
        self._faults: dict[str, deque[_Fault]] = {}
        self._ids = itertools.count(1)
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []  # Socket Mode connections, oldest first
        self.socket_acks: dict[str, Any] = {}  # envelope id -> the ack's payload (or None)
        self.add_user(bot_user_id, name=bot_name, email=f"{bot_name}@bots.invalid", is_bot=True)

    # lifecycle

    async def start(self) -> None:
        """Bind and serve; `port=0` picks a free port."""
        app = web.Application()
        app.router.add_route("*", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{token}", self._handle_response_url)
        app.router.add_get("/socket/{n}", self._handle_socket)
        self._stopping.clear()
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        """Stop serving; delayed answers are cut short."""
        self._stopping.set()
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:<port>/"""
        return f"http://{self.host}:{self.port}/"

    @property
    def api_url(self) -> str:
        """The Web API base URL, as slack_sdk takes it in `base_url`."""
        return f"{self.base_url}api/"

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
        self._triggers[trigger_id] = _Trigger(self.clock(), user_id)
        return trigger_id

    def response_url(self, token: str, *, channel: str | None = None, ts: str | None = None) -> str:
        """A response_url; with channel and ts, replace_original/delete_original act on
        that message."""
        if channel and ts:
            self._responses[token] = (channel, ts)
        return f"{self.base_url}response/{token}"

    def fail_next(
        self,
        method: str,
        *,
        status: int = 200,
        error: str | None = "ratelimited",
        retry_after: int | None = None,
        times: int = 1,
        delay: float = 0.0,
        drop_connection: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` fail (queued after earlier faults).

        `retry_after` adds a Retry-After header and turns a 200 into a 429. `delay` sleeps first;
        with `error=None` the call then succeeds (a slow answer). `drop_connection` closes the
        socket without answering.
        """
        if retry_after is not None and status == 200:
            status = 429
        fault = _Fault(status, error, retry_after, times, delay, drop_connection)
        self._faults.setdefault(method, deque()).append(fault)

    # inspection

    def calls_to(self, method: str) -> list[Call]:
        """Recorded calls of one method, oldest first."""
        return [c for c in self.calls if c.method == method]

    def clear(self) -> None:
        """Forget recorded calls and the transcript (state such as messages stays)."""
        self.calls.clear()
        self._log.clear()

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        timeout: float = 5.0,
        predicate: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until `count` calls of `method` (matching `predicate`) are recorded; return them."""

        def matching() -> list[Call]:
            return [c for c in self.calls_to(method) if predicate is None or predicate(c)]

        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while len(found := matching()) < count:
            changed = self._changed
            remaining = deadline - loop.time()
            try:
                if remaining <= 0:
                    raise TimeoutError
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                seen = ", ".join(c.method + (" (failed)" if c.failed else "") for c in self.calls)
                where = " matching the predicate" if predicate else ""
                raise TimeoutError(
                    f"waited {timeout}s for {count} {method} call(s){where}, got {len(found)}; "
                    f"recorded: [{seen or 'nothing'}]"
                ) from None
        return found

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

    # Socket Mode (https://docs.slack.dev/apis/events-api/using-socket-mode)

    @property
    def socket_connections(self) -> int:
        return len(self._sockets)

    async def wait_connected(self, count: int = 1, timeout: float = 5.0) -> None:
        """Until ``count`` Socket Mode connections are open."""
        deadline = time.monotonic() + timeout
        while len(self._sockets) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self._sockets)} Socket Mode connections, not {count}")
            await asyncio.sleep(0.01)

    async def deliver(self, kind: str, payload: Any, *, envelope_id: str | None = None,
                      retry_attempt: int | None = None, raw: str | None = None) -> str:
        """Send an envelope (``slash_commands``, ``interactive``, ``events_api``) on the newest
        connection, as Slack spreads them; ``raw`` sends that text instead. Returns its id."""
        if not self._sockets:
            raise RuntimeError("no Socket Mode connection")
        envelope_id = envelope_id or f"env-{next(self._ids)}-{secrets.token_hex(4)}"
        envelope: JSON = {"envelope_id": envelope_id, "type": kind, "payload": payload,
                          "accepts_response_payload": kind != "events_api"}
        if retry_attempt is not None:
            envelope.update(retry_attempt=retry_attempt, retry_reason="timeout")
        await self._sockets[-1].send_str(raw if raw is not None else json.dumps(envelope))
        return envelope_id

    async def acked(self, envelope_id: str, timeout: float = 3.0) -> Any:
        """The ack of an envelope (its payload, or None); TimeoutError if none came in time."""
        deadline = time.monotonic() + timeout
        while envelope_id not in self.socket_acks:
            if time.monotonic() > deadline:
                raise TimeoutError(f"no ack for {envelope_id}")
            await asyncio.sleep(0.005)
        return self.socket_acks[envelope_id]

    async def refresh_sockets(self) -> None:
        """Ask every connection to reconnect, as Slack does every few hours: a
        ``refresh_requested`` disconnect; the client opens a new connection first."""
        old = list(self._sockets)
        for ws in old:
            await ws.send_str(json.dumps({"type": "disconnect", "reason": "refresh_requested",
                                          "debug_info": {"host": "emulator"}}))
        deadline = time.monotonic() + 5.0
        while any(ws in self._sockets for ws in old) or not self._sockets:
            if time.monotonic() > deadline:
                raise TimeoutError("the client did not reconnect")
            await asyncio.sleep(0.01)

    def _apps_connections_open(self, params: JSON) -> JSON:
        """apps.connections.open: a WebSocket URL for this app."""
        return {"ok": True, "url": f"ws://{self.host}:{self.port}/socket/{next(self._ids)}"}

    async def _handle_socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(json.dumps({"type": "hello", "num_connections": len(self._sockets),
                                      "debug_info": {"host": "emulator"},
                                      "connection_info": {"app_id": "A0PASSCODE"}}))
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    continue
                with contextlib.suppress(ValueError):
                    data = json.loads(message.data)
                    if isinstance(data, dict) and "envelope_id" in data:
                        self.socket_acks[str(data["envelope_id"])] = data.get("payload")
                        self._record(Call("socket_mode.ack", data, {}, self.clock()))
        finally:
            self._sockets.remove(ws)
        return ws

    # HTTP

    async def _handle_api(self, request: web.Request) -> web.StreamResponse:
        """Every /api/<method> request: record, maybe fail, else answer like Slack."""
        method = request.match_info["method"]
        return await self._serve(request, method, await self._read_params(request))

    async def _handle_response_url(self, request: web.Request) -> web.StreamResponse:
        """POSTs to a response_url (JSON, as Bolt's respond() sends them)."""
        body = await request.json() if request.can_read_body else {}
        params = {"response_token": request.match_info["token"], **body}
        return await self._serve(request, "response_url", params)

    async def _serve(self, request: web.Request, method: str, params: JSON) -> web.StreamResponse:
        """Apply a scripted fault if any, else dispatch and record."""
        headers = {k: request.headers[k] for k in _HEADERS_KEPT if k in request.headers}
        at = self.clock()
        fault = self._take_fault(method)
        if fault is not None:
            if fault.fails:
                self._record(Call(method, params, headers, at, failed=True))
            if fault.delay:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), fault.delay)
            if fault.drop_connection:
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError  # the socket is gone; aiohttp writes nothing
            if fault.error is not None:
                extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
                body = {"ok": False, "error": fault.error}
                return web.json_response(body, status=fault.status, headers=extra)
        response = self._dispatch(method, params, headers)
        self._record(Call(method, params, headers, at, response=response))
        return web.json_response(response)

    @staticmethod
    async def _read_params(request: web.Request) -> JSON:
        """Query string + form or JSON body, with JSON-encoded string fields decoded."""
        params: JSON = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                body = await request.json()
                params.update(body if isinstance(body, dict) else {})
            else:
                form = await request.post()
                params.update({k: v for k, v in form.items() if isinstance(v, str)})
        for key in _JSON_FIELDS:
            if isinstance(params.get(key), str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(params[key])
        return params

    def _take_fault(self, method: str) -> _Fault | None:
        """The fault that applies to this call of `method`, if any."""
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining <= 0:
            queue.popleft()
        return fault

    def _record(self, call: Call) -> None:
        """Append a call and wake wait_for()."""
        self.calls.append(call)
        self._changed.set()
        self._changed = asyncio.Event()

    def _dispatch(self, method: str, params: JSON, headers: Mapping[str, str]) -> JSON:
        """Run one Web API method against the model."""
        if method == "response_url":
            return self._response_url_post(params)
        handler = self._methods().get(method)
        if handler is None:
            return {"ok": False, "error": "unknown_method"}
        auth = headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else ""
        if not (token or params.get("token")):
            return {"ok": False, "error": "not_authed"}
        return handler(params)

    def _methods(self) -> dict[str, Callable[[JSON], JSON]]:
        """Web API method name -> implementation."""
        return {
            "apps.connections.open": self._apps_connections_open,
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.delete": self._chat_delete,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "users.lookupByEmail": self._users_lookup_by_email,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

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

    def _users_lookup_by_email(self, params: JSON) -> JSON:
        """users.lookupByEmail: case-insensitive match on profile email."""
        email = str(params.get("email", "")).lower()
        for user_id, user in self._users.items():
            if user["profile"]["email"].lower() == email:
                return {"ok": True, "user": self._user_json(user_id, False)}
        return {"ok": False, "error": "users_not_found"}

    def _check_trigger(self, trigger_id: str) -> _Trigger | None:
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
        title = _text_of(view.get("title"))
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
