"""What every listener shares: the service, identity lookups, and safe background work."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.service import Person, ResetService
from handlers.identity import Identity, NoEmail

log = logging.getLogger("handlers")

Say = Callable[[str], Awaitable[None]]

APOLOGY = "Sorry, something went wrong on my side. The helpdesk can look it up with reference {ref}."


@dataclass
class Context:
    service: ResetService
    identity: Identity
    client: AsyncWebClient
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def spawn(self, work: Coroutine[Any, Any, None], tell: Say, what: str) -> None:
        """Run slow work after the ack. Any failure is logged with a reference id and the
        person gets a short apology with that id: never a stack trace."""

        async def guarded() -> None:
            try:
                await work
            except NoEmail as exc:
                await _quietly(tell(str(exc)))
            except Exception:
                ref = secrets.token_hex(4)
                log.exception("%s failed (ref %s)", what, ref)
                await _quietly(tell(APOLOGY.format(ref=ref)))

        task = asyncio.create_task(guarded(), name=what)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def person(self, user_id: str) -> Person:
        return await self.identity.person(user_id)


class PooledRespond(AsyncRespond):
    """respond() over the bot's pooled HTTP session. Bolt's own opens a new session, hence a
    new connection (against Slack, a TLS handshake), per call: measured with `python -m bench`,
    about a third of the CPU a reset costs after its ack, on the loop that answers the acks."""

    def __init__(self, response_url: str | None, session: aiohttp.ClientSession | None) -> None:
        super().__init__(response_url=response_url)
        self._session = session

    async def __call__(self, *args: Any, **message: Any) -> WebhookResponse:
        if args or self.response_url is None or self._session is None or self._session.closed:
            return await super().__call__(*args, **message)
        return await AsyncWebhookClient(self.response_url, session=self._session).send(**message)


async def _quietly(sending: Awaitable[None]) -> None:
    try:
        await sending
    except Exception:
        log.exception("could not tell the person about a failure")
