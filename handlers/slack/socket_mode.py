"""Socket Mode with the guarantees of the HTTP door (handlers/slack/app.py): an envelope delivered
twice (the same envelope again, or the same payload again on a new connection after Slack's
``refresh_requested`` disconnect, on this connection or another replica's) changes nothing once
its work is committed (the inbox, by the payload's ``delivery_key``), and one never committed
is processed; an envelope is acknowledged only once its work is committed; and one of the wrong
shape is acknowledged and refused in one log line, without a traceback and without reaching Bolt.

Socket Mode needs no signature: the bot opens the WebSocket itself, over TLS to the URL that
``apps.connections.open`` gave it with the app-level token.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from handlers.slack.app import DELIVERY, Delivered, delivery_key, well_formed

log = logging.getLogger(__name__)

ENVELOPE_TYPES = frozenset({"slash_commands", "interactive", "events_api"})


def well_formed_envelope(message: dict[str, Any]) -> bool:
    """An envelope Slack would send: a known type, an envelope id, an object payload of the
    shapes Bolt reads, and a retry count that is a number when present."""
    kind, envelope_id = message.get("type"), message.get("envelope_id")
    retry = message.get("retry_attempt")
    return (
        isinstance(kind, str) and kind in ENVELOPE_TYPES
        and isinstance(envelope_id, str) and 0 < len(envelope_id) <= 200
        and (retry is None or (isinstance(retry, int) and not isinstance(retry, bool)))
        and well_formed(message.get("payload"))
    )


class GuardedSocketModeHandler(AsyncSocketModeHandler):
    """Bolt's Socket Mode handler, with every envelope checked and recognised first.

    slack_sdk hands envelopes to ``socket_mode_request_listeners`` only after building a
    SocketModeRequest, which raises (and logs a traceback) on a payload that is not an
    object; so this handler listens to the raw messages instead, and builds the request
    itself once the envelope is known to be sound."""

    def __init__(self, app: AsyncApp, app_token: str, delivered: Delivered,
                 **kwargs: Any) -> None:
        super().__init__(app, app_token, **kwargs)
        self.delivered = delivered
        self.client.socket_mode_request_listeners.remove(self.handle)  # type: ignore[arg-type]
        self.client.message_listeners.append(self.on_message)

    async def on_message(self, client: AsyncBaseSocketModeClient, message: dict[str, Any],
                         raw_message: str | None) -> None:
        """Every message on the socket; ``hello`` and ``disconnect`` are slack_sdk's own."""
        if "envelope_id" not in message:
            return
        envelope_id = message.get("envelope_id")
        if not well_formed_envelope(message):
            log.warning("refused a Socket Mode envelope of the wrong shape (type %.40r)",
                        message.get("type"))
            if isinstance(envelope_id, str) and envelope_id:
                await _ack(client, envelope_id)
            return
        assert isinstance(envelope_id, str)
        key = delivery_key(message["payload"])
        try:
            again = key is not None and await self.delivered(key)
        except Exception:  # noqa: BLE001 - not acknowledged: Slack delivers it again
            log.warning("the database did not answer; the envelope is not acknowledged")
            return
        if again:
            log.info("a Socket Mode envelope came again; acknowledged, nothing done")
            await _ack(client, envelope_id)
            return
        request = SocketModeRequest.from_dict(message)
        assert request is not None  # well_formed_envelope checked type, id and payload
        token = DELIVERY.set(key)
        try:
            # Bolt acknowledges once the listener has returned, and only a 200: a listener
            # whose work could not be committed leaves the envelope unacknowledged.
            await self.handle(client, request)  # type: ignore[arg-type]
        finally:
            DELIVERY.reset(token)


async def _ack(client: AsyncBaseSocketModeClient, envelope_id: str) -> None:
    await client.send_socket_mode_response(SocketModeResponse(envelope_id=envelope_id))
