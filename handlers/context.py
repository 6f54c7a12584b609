"""What every listener shares: the person's locale, and the background that does the work
after an ack (on this event loop, or in a worker process)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from handlers.identity import Identity


class Background(Protocol):
    """Where the work after an ack runs: handlers.work.Worker or handlers.worker.WorkerProcess."""

    def later(self, name: str, args: dict[str, str]) -> None:
        """Start the work item ``name`` (see handlers.work.WORK); never blocks, never raises."""

    async def options(self, user_id: str, query: str) -> list[dict[str, Any]]:
        """The device picker's options for ``query`` (an options load answers with them)."""

    async def settle(self) -> None:
        """Wait until the work started so far, and every job it made due, has finished."""

    async def aclose(self) -> None: ...


@dataclass
class Context:
    identity: Identity  # the locale of the answers given with the ack
    background: Background

    def later(self, name: str, **args: str) -> None:
        self.background.later(name, args)


class PooledRespond(AsyncRespond):
    """respond() over the bot's pooled HTTP session. Bolt's own opens a new session, hence a
    new connection (against Slack, a TLS handshake), per call: measured with `python -m bench`,
    about a third of the CPU a reset costs after its ack."""

    def __init__(self, response_url: str | None, session: aiohttp.ClientSession | None) -> None:
        super().__init__(response_url=response_url)
        self._session = session

    async def __call__(self, *args: Any, **message: Any) -> WebhookResponse:
        if args or self.response_url is None or self._session is None or self._session.closed:
            return await super().__call__(*args, **message)
        return await AsyncWebhookClient(self.response_url, session=self._session).send(**message)
