"""The composition root of the Slack app: AsyncApp, listeners, retry guard, /healthz."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from handlers import actions, commands, home
from handlers.context import Context

log = logging.getLogger(__name__)

REPEAT_WINDOW_S = 300.0


def build_client(settings: Settings) -> AsyncWebClient:
    """Every Web API call goes to SLACK_API_URL (GovSlack, or a local emulator), with
    slack_sdk's retries for 429 (honouring Retry-After), 5xx and dropped connections."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=3),
            AsyncServerErrorRetryHandler(max_retry_count=2),
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def pooled(client: AsyncWebClient) -> AsyncWebClient:
    """Give the Web API client one aiohttp session for all its calls. Without one, slack_sdk
    opens a session, hence a new TCP (and, against Slack, TLS) connection, for every call:
    measured with `python -m bench`, about a third of the CPU a click or a reset costs after
    its ack. Call inside the event loop."""
    client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    return client


async def close_pool(client: AsyncWebClient) -> None:
    if client.session is not None:
        await client.session.close()


class RepeatGuard:
    """Slack retries (X-Slack-Retry-Num) and byte-identical redeliveries get a 200 and change
    nothing. A fresh command or click always differs (trigger_id, action_ts)."""

    def __init__(self, window_s: float = REPEAT_WINDOW_S, size: int = 10_000) -> None:
        self._seen: OrderedDict[bytes, float] = OrderedDict()
        self._window = window_s
        self._size = size

    def is_repeat(self, text: str, body: dict[str, Any], retry: bool = False) -> bool:
        if retry:
            return True
        if body.get("type") == "block_suggestion":
            # Options loads carry no unique id: typing the same text twice is a real request.
            return False
        key = hashlib.sha256(text.encode("utf-8")).digest()
        now = time.monotonic()
        while self._seen and next(iter(self._seen.values())) < now - self._window:
            self._seen.popitem(last=False)
        if key in self._seen:
            return True
        self._seen[key] = now
        if len(self._seen) > self._size:
            self._seen.popitem(last=False)
        return False


def build_app(settings: Settings, client: AsyncWebClient, ctx: Context) -> AsyncApp:
    signing = settings.slack_signing_secret
    app = AsyncApp(
        client=client,
        signing_secret=signing.get_secret_value() if signing else None,
        # Listeners ack and name the work to do later (handlers/work.py), so answering after
        # the listener returns costs nothing and avoids Bolt's 10 ms ack polling.
        process_before_response=True,
        raise_error_for_unhandled_request=False,
        # The door in web_app() verifies every request's signature and timestamp before Bolt
        # sees it (and Socket Mode needs none), so Bolt need not do it a second time.
        request_verification_enabled=False,
    )
    @app.error
    async def handle_error(error: Exception, body: dict[str, Any]) -> None:
        log.error("unhandled error in a listener: %s", type(error).__name__, exc_info=error)

    commands.register(app, ctx)
    actions.register(app, ctx)
    home.register(app, ctx)
    app.ctx = ctx  # type: ignore[attr-defined]
    return app


# Where Slack sends an object (or a list of objects), Bolt's parsers, extractors and matchers
# index into the value without checking its type: a body of another shape, even a correctly
# signed one, would crash Bolt with a 500 and a logged traceback. The door below refuses those.
_IDS = frozenset({"team", "user", "channel", "enterprise"})  # an object, a string id, or null
_OBJECTS = frozenset({"event", "view", "message", "previous_message", "item", "assistant_thread",
                      "function_data", "container", "workflow_step", "state"})
_LISTS = frozenset({"actions", "authorizations", "response_urls"})


def well_formed(body: Any, depth: int = 0) -> bool:
    """Whether a parsed body has Slack's documented shapes wherever Bolt or our listeners read."""
    if not isinstance(body, dict) or depth > 4:
        return False
    for key, value in body.items():
        if key in _IDS and not (value is None or isinstance(value, (str, dict))):
            return False
        if key in _OBJECTS and not well_formed(value, depth + 1):
            return False
        if key in _LISTS and not (isinstance(value, list)
                                  and all(well_formed(v, depth + 1) for v in value)):
            return False
    if body.get("type") == "block_actions":  # Bolt reads actions[0]["action_id"]
        clicked = body.get("actions") or [{}]
        return "action_id" in clicked[0]
    return True


def is_json(text: str, content_type: str) -> bool:
    return content_type == "application/json" or text.startswith("{")


def parse_body(text: str, content_type: str) -> Any:
    """A request body as Bolt parses it, except that a form is an interactivity payload only
    when it has a ``payload`` field. Bolt takes any form in which the text "payload" occurs
    for one and reads it as {}: a slash command whose text, user, channel or workspace name
    said "payload" reached no listener (404, and an error in Slack)."""
    if is_json(text, content_type):
        return json.loads(text)
    form = dict(parse_qsl(text, keep_blank_values=True))
    return json.loads(form["payload"]) if "payload" in form else form


class ParsedRequest(AsyncBoltRequest):
    """A request whose body the door has parsed and checked already: Bolt would parse it a
    second time (its HTTP mode takes only the raw text), and its middleware and listeners
    must never see a body of another shape."""

    def __init__(self, text: str, body: dict[str, Any], request: web.Request) -> None:
        super().__init__(body=body, query=request.query_string,
                         headers=request.headers, mode="socket_mode")  # type: ignore[arg-type]
        self.raw_body = text
        self.mode = "http"


def _signed(verifier: SignatureVerifier, text: str, request: web.Request) -> bool:
    """The signature and timestamp are good, or the body is Slack's unsigned SSL check (as
    Bolt: answered 200, reaching no listener)."""
    try:
        if verifier.is_valid_request(text, dict(request.headers)):
            return True
    except ValueError:  # a timestamp that is not a number
        pass
    if "ssl_check" not in text or is_json(text, request.content_type):
        return False
    return dict(parse_qsl(text, keep_blank_values=True)).get("ssl_check") == "1"


def _refuse(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status, headers={"X-Slack-No-Retry": "1"})


def web_app(app: AsyncApp, settings: Settings,
            health: Callable[[], dict[str, Any]]) -> web.Application:
    """POST /slack/events for everything Slack sends; GET /healthz once ready (200 when
    ``health()`` says ``ok``, else 503).

    In front of Bolt: a body that is not UTF-8 is a 400; a bad signature or timestamp a 401
    (checked before anything is parsed, and the only check: Bolt's is off); a body that does
    not parse, or has another shape than Slack's, a 400; a Slack retry or a byte-identical
    redelivery a 200 that changes nothing. Only well-formed, signed, new requests reach Bolt,
    which gets the body parsed once, here."""
    secret = settings.slack_signing_secret
    verifier = SignatureVerifier(secret.get_secret_value()) if secret else None
    guard = RepeatGuard()

    async def slack_events(request: web.Request) -> web.StreamResponse:
        try:
            text = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "the body is not UTF-8")
        if verifier is not None and not _signed(verifier, text, request):
            return _refuse(401, "invalid request")
        try:
            body = parse_body(text, request.content_type)
            if not well_formed(body):
                return _refuse(400, "malformed body")
        except (ValueError, RecursionError):  # malformed or absurdly nested JSON
            return _refuse(400, "malformed body")
        if guard.is_repeat(text, body, "x-slack-retry-num" in request.headers):
            return web.Response(status=200, headers={"X-Slack-No-Retry": "1"})
        bolt_request = ParsedRequest(text, body, request)
        return await to_aiohttp_response(await app.async_dispatch(bolt_request))

    async def healthz(_: web.Request) -> web.Response:
        state = health()
        return web.json_response(state, status=200 if state.get("ok") else 503)

    web_application = web.Application()
    web_application.router.add_post("/slack/events", slack_events)
    web_application.router.add_get("/healthz", healthz)
    return web_application
