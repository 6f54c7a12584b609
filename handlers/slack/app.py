"""The HTTP door of the Slack app (``web_app``): the one signature check, the shape check,
Slack's retries and redeliveries recognised (in the database), /healthz and /readyz
(handlers/slack/health.py). What Slack's Socket Mode delivers gets the same guarantees in
handlers/slack/socket_mode.py."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.signature import SignatureVerifier

from bot.config import ConfigError, Settings
from handlers.slack import health as health_routes

log = logging.getLogger(__name__)

# The delivery the listeners are answering, as the door recognises it (``delivery_key``): the
# runtime commits each work item under it (handlers/runtime/inbox.py), so that a Slack retry or
# redelivery finds it in the database on any replica, and two replicas given the same delivery
# at once commit it once. Bolt runs the listeners inside the door's call
# (process_before_response), so they see the value the door set.
DELIVERY: ContextVar[str | None] = ContextVar("passcode_bot_delivery", default=None)

Delivered = Callable[[str], Awaitable[bool]]  # whether a delivery's work is committed already


def delivery_key(body: dict[str, Any], text: str | None = None) -> str | None:
    """How a delivery is recognised again, in the database (the inbox's unique key): an Events
    API delivery by its ``event_id``, which Slack keeps across retries; anything else by a
    digest of its body, the signed text without the headers (so without X-Slack-Retry-Num),
    since a fresh command or click always differs (trigger_id, action_ts). None for an
    options load, which carries no unique id: typing the same text twice is a real request."""
    if body.get("type") == "block_suggestion":
        return None
    event_id = body.get("event_id")
    if body.get("type") == "event_callback" and isinstance(event_id, str) and event_id:
        return "event:" + event_id[:200]
    if text is None:  # Socket Mode: the payload as an object
        text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "body:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


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


def _bolt_reads_json(text: str, headers: Mapping[str, str]) -> bool:
    """Whether Bolt parses the body as JSON: its rule, exactly (the Content-Type up to any
    ";", compared as is, or a body that starts with "{"). ``headers`` as ``_headers`` gives
    them, which are the values Bolt reads."""
    return headers.get("content-type", "").split(";")[0] == "application/json" or (
        text.startswith("{"))


def _headers(request: web.Request) -> dict[str, str]:
    """The request's headers with lower-case names, a repeated one by its last value: what
    Bolt reads of them (and the signature check too)."""
    return {name.lower(): value for name, value in request.headers.items()}


def bare_ssl_check(text: str, headers: Mapping[str, str]) -> bool:
    """Slack's SSL check of the request URL: an unsigned form of ``ssl_check=1`` (and a
    ``token``), nothing that Bolt would route. Any other field makes it an ordinary request,
    which must be signed."""
    if "ssl_check" not in text or len(text) > 1000 or _bolt_reads_json(text, headers):
        return False  # (without parsing a body that cannot be one)
    form = parse_qsl(text, keep_blank_values=True)
    return dict(form).get("ssl_check") == "1" and {k for k, _ in form} <= {"ssl_check", "token"}


def for_bolt(text: str, headers: Mapping[str, str]) -> str:
    """The body as Bolt must read it. Bolt takes any form in which the text "payload" occurs
    for an interactivity payload and reads one without a ``payload`` field as {}: a slash
    command whose text, user, channel or workspace name said "payload" reached no listener
    (a 404, and an error in Slack). In such a form the word is sent with its "a"
    percent-encoded, which parsing decodes back: Bolt then reads exactly the fields Slack
    signed."""
    if "payload" not in text or _bolt_reads_json(text, headers):
        return text
    if text.startswith("payload=") or "&payload=" in text:  # a payload field, as Slack sends it
        return text
    return text.replace("payload", "p%61yload")


# What Bolt raises building its request from a body it cannot read (malformed or absurdly
# nested JSON; a field of another type than Slack's where it looks): answered 400.
_UNREADABLE = (ValueError, RecursionError, TypeError, AttributeError, KeyError, IndexError)


def _refuse(status: int, error: str) -> web.Response:
    return web.json_response({"error": error}, status=status, headers={"X-Slack-No-Retry": "1"})


def web_app(app: AsyncApp, settings: Settings, health: Callable[[], dict[str, Any]],
            delivered: Delivered,
            readiness: health_routes.Readiness | None = None) -> web.Application:
    """POST /slack/events for everything Slack sends; GET /healthz once ready (200 when
    ``health()`` says ``ok``, else 503); GET /readyz (``readiness``, by default over
    DATABASE_URL: handlers/slack/health.py).

    The door, in this order: a body that is not UTF-8 is a 400; Slack's bare SSL check a 200
    that reaches nothing; every other body must carry a good signature and a timestamp
    within five minutes (slack_sdk's SignatureVerifier, constant time), whatever fields it
    has and however it is encoded, or it is a 401 before anything reads it. Then a body that
    does not parse, or has another shape than Slack's where Bolt or our listeners read, is a
    400; a Slack retry or redelivery of a request whose work is committed (``delivered``,
    the inbox on any replica) a 200 that changes nothing, and of one never committed is
    processed. A database that cannot answer is a 503: no ack, so Slack tries again. Only
    signed, well-formed, new requests reach Bolt, as Bolt's own request (its public
    constructor, in its HTTP mode, with the raw text).

    This is the one signature check: Bolt's own is off, because the door must refuse an
    unsigned body before its parse, shape check and the database see it, and because
    Bolt would then check a body that ``for_bolt`` may have re-encoded."""
    secret = settings.slack_signing_secret
    if secret is None or not secret.get_secret_value():
        raise ConfigError("SLACK_SIGNING_SECRET is required to serve HTTP")
    verifier = SignatureVerifier(secret.get_secret_value())

    async def slack_events(request: web.Request) -> web.StreamResponse:
        try:
            text = (await request.read()).decode("utf-8")
        except UnicodeDecodeError:
            return _refuse(400, "the body is not UTF-8")
        headers = _headers(request)
        if bare_ssl_check(text, headers):
            return web.Response(status=200)
        try:
            signed = verifier.is_valid_request(text, headers)
        except ValueError:  # a timestamp that is not a number
            signed = False
        if not signed:
            return _refuse(401, "invalid request")
        try:
            # Bolt parses the text, and reads team, user and channel out of the body while
            # it builds its request: a body that does not parse, or has a field of another
            # type there, raises.
            bolt_request = AsyncBoltRequest(body=for_bolt(text, headers),
                                            query=request.query_string, headers={**headers})
        except _UNREADABLE:
            return _refuse(400, "malformed body")
        body = bolt_request.body
        if not well_formed(body):
            return _refuse(400, "malformed body")
        key = delivery_key(body, text)
        try:
            # Only a retry is looked up first (one read less on every first delivery's ack):
            # a replay or a concurrent duplicate without the header still commits nothing
            # twice, since the inbox refuses a delivery key it holds (the listener then acks
            # and does nothing; a request that makes no work item is answered again).
            if key is not None and "x-slack-retry-num" in headers and await delivered(key):
                return web.Response(status=200, headers={"X-Slack-No-Retry": "1"})
        except Exception:  # noqa: BLE001 - no ack without the database: Slack tries again
            log.warning("the database did not answer; no ack, so Slack tries again")
            return web.json_response({"error": "try again"}, status=503)
        token = DELIVERY.set(key)
        try:
            answer = await app.async_dispatch(bolt_request)
        finally:
            DELIVERY.reset(token)
        return await to_aiohttp_response(answer)

    web_application = web.Application()
    web_application.router.add_post("/slack/events", slack_events)
    # GET /healthz and /readyz: unsigned, read nothing of the request (handlers/slack/health.py)
    health_routes.mount(web_application, health, readiness or health_routes.Readiness.of(settings))
    return web_application
