"""A local Slack Web API emulator for tests and `passcode-bot demo` (aiohttp + stdlib only).

slack_sdk reaches it through `AsyncWebClient(base_url=emulator.api_url)`. It keeps a small model of
Slack (users, DM channels, messages, modals, App Home tabs), records every call, and can be told to
fail the next calls of a method (429 + Retry-After, 5xx, slow answers, dropped connections).
Method reference: https://docs.slack.dev/reference/methods
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Self

from aiohttp import WSMsgType, web

from handlers.demo.render import render_blocks
from handlers.demo.slack_history import history
from handlers.demo.slack_model import JSON, SlackModel

__all__ = ["APP_TOKEN", "BOT_TOKEN", "Call", "SlackEmulator", "render_blocks"]
BOT_TOKEN = "xoxb-emulator"
APP_TOKEN = "xapp-1-emulator"  # Socket Mode: apps.connections.open takes it
# slack_sdk sends these as JSON values, but form posts carry them as JSON-encoded strings.
_JSON_FIELDS = ("blocks", "view", "attachments", "metadata")
_HEADERS_KEPT = ("Authorization", "Content-Type", "User-Agent")


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
    accepted: bool = False  # Slack takes the call first; then the delay, the drop

    @property
    def fails(self) -> bool:
        """Whether the call gets no successful answer."""
        return self.drop_connection or self.error is not None


class SlackEmulator(SlackModel):
    """An aiohttp server on 127.0.0.1 that answers a subset of the Slack Web API (the model of
    Slack and its methods: handlers/demo/slack_model.py)."""

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
        super().__init__(strict_triggers=strict_triggers, clock=clock, bot_user_id=bot_user_id,
                         bot_id=bot_id, bot_name=bot_name, team_id=team_id)
        self.token = BOT_TOKEN
        self.calls: list[Call] = []
        self._faults: dict[str, deque[_Fault]] = {}
        self._changed = asyncio.Event()
        self._stopping = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []  # Socket Mode connections, oldest first
        self.socket_acks: dict[str, Any] = {}  # envelope id -> the ack's payload (or None)
        self.scopes: set[str] | None = None  # the bot token's scopes, where checked (None: all)
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

    # setup (the model's own: handlers/demo/slack_model.py)

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
        accepted: bool = False,
    ) -> None:
        """Make the next `times` calls of `method` fail (queued after earlier faults).

        `retry_after` adds a Retry-After header and turns a 200 into a 429. `delay` sleeps first;
        with `error=None` the call then succeeds (a slow answer). `drop_connection` closes the
        socket without answering. `accepted`: Slack takes the call first (a message is posted)
        and only its answer is late (`delay`) or lost (`drop_connection`).
        """
        if retry_after is not None and status == 200:
            status = 429
        fault = _Fault(status, None if accepted else error, retry_after, times, delay,
                       drop_connection, accepted)
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

    def _conversations_history(self, params: JSON) -> JSON:
        """conversations.history (handlers/demo/slack_history.py)."""
        channel = self._resolve_channel(str(params.get("channel", "")))
        if not channel or (channel not in self._messages and channel not in self._channels
                           and channel not in self._dms.values()):
            return {"ok": False, "error": "channel_not_found"}
        return history(self._messages.get(channel, []), channel, params, self.scopes)

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
        if fault is not None and fault.accepted:
            response = self._dispatch(method, params, headers)
            self._record(Call(method, params, headers, at, response=response))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), fault.delay)
            if fault.drop_connection and request.transport is not None:
                request.transport.abort()
                raise asyncio.CancelledError
            return web.json_response(response)
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
            "conversations.history": self._conversations_history,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "users.list": self._users_list,
            "users.lookupByEmail": self._users_lookup_by_email,
            "views.open": self._views_open,
            "views.push": self._views_open,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
        }

