"""What every listener shares: the person's locale and limits, the background that does the
work after an ack, and answers to Slack's hosts only (``PooledRespond``)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_sdk.webhook import WebhookResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.config import Settings
from handlers.slack.identity import Identity
from handlers.work.items import WorkItem

log = logging.getLogger(__name__)


class Background(Protocol):
    """Where listeners hand the work after an ack (a Runtime, handlers/runtime/base.py). They
    never learn where it runs: in this process or in a worker."""

    async def later(self, item: WorkItem) -> None:
        """Commit the work ``item`` (see handlers.work.worker.HANDLERS) to the durable inbox;
        it runs after the ack. Listeners await it before they ack: an ack means the work is
        safe. Raises when it could not be committed (then there is no ack)."""

    async def options(self, user_id: str, query: str) -> list[dict[str, Any]]:
        """The device picker's options for ``query`` (an options load answers with them)."""


class PersonLimiter:
    """A token bucket per Slack user, checked before anything is done for them, so that
    nobody can make the bot call Slack or Graph without bound: ``burst`` at once, then
    ``per_minute``. A refused try is refused before any outbound call."""

    def __init__(self, burst: int, per_minute: float, size: int = 50_000) -> None:
        self._burst = float(burst)
        self._rate = per_minute / 60.0
        self._size = size
        self._buckets: dict[str, tuple[float, float]] = {}  # user -> (tokens, at)

    @classmethod
    def per_minute_of(cls, per_minute: int, times: int = 1) -> PersonLimiter | None:
        """A limiter of ``per_minute`` x ``times`` (in bursts as large), None for 0: no limit."""
        return cls(per_minute * times, per_minute * times) if per_minute else None

    def allow(self, user_id: str) -> bool:
        now = time.monotonic()
        tokens, at = self._buckets.pop(user_id, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        allowed = tokens >= 1.0
        self._buckets[user_id] = (tokens - 1.0 if allowed else tokens, now)  # now the newest
        if len(self._buckets) > self._size:
            self._buckets.pop(next(iter(self._buckets)))  # the one idle longest
        return allowed


@dataclass
class Context:
    identity: Identity  # the locale of the answers given with the ack
    background: Background
    # Commands, clicks, submissions and Home visits; and, typed a keystroke at a time, the
    # picker's options loads (None: no limit; see ``of``).
    limiter: PersonLimiter | None = None
    options_limiter: PersonLimiter | None = None

    @classmethod
    def of(cls, identity: Identity, background: Background, settings: Settings) -> Context:
        """With the limits of PERSON_ACTIONS_PER_MINUTE (options loads: four times as many)."""
        per_minute = settings.person_actions_per_minute
        return cls(identity, background, PersonLimiter.per_minute_of(per_minute),
                   PersonLimiter.per_minute_of(per_minute, 4))

    async def later(self, item: WorkItem) -> None:
        await self.background.later(item)

    def admit(self, user_id: str, *, options: bool = False) -> bool:
        """Whether to act for this person now (PersonLimiter); logged when not."""
        limiter = self.options_limiter if options else self.limiter
        if limiter is None or limiter.allow(user_id):
            return True
        log.info("limited: %.20s is sending requests too fast", user_id)
        return False


# Where Slack's response_urls point (docs.slack.dev/interactivity/handling-user-interaction);
# GovSlack's too. An emulator's are on the host of SLACK_API_URL.
SLACK_HOOK_HOSTS = frozenset({"hooks.slack.com", "hooks.slack-gov.com"})


def slack_hosted(url: str, api_url: str) -> bool:
    """Whether ``url`` may receive a reply: https on one of Slack's hook hosts, or on the very
    scheme, host and port of SLACK_API_URL (an emulator), with no credentials in it. Anything
    else is refused, so that no request can make the bot post what it knows to another host."""
    try:
        target, api = urlsplit(url), urlsplit(api_url)
        port, api_port = target.port, api.port
    except ValueError:  # a port that is not a number
        return False
    if target.username is not None or target.password is not None or not target.hostname:
        return False
    host = target.hostname.lower()
    if target.scheme == "https" and host in SLACK_HOOK_HOSTS and port in {None, 443}:
        return True
    return (target.scheme, host, port) == (api.scheme, (api.hostname or "").lower(), api_port)


class PooledRespond(AsyncRespond):
    """respond() over the bot's pooled HTTP session, to Slack's hosts only (``slack_hosted``).
    Bolt's own opens a new session, hence a new connection (against Slack, a TLS handshake),
    per call: measured with `python -m bench`, about a third of the CPU a reset costs after
    its ack."""

    def __init__(self, response_url: str | None, session: aiohttp.ClientSession | None,
                 api_url: str) -> None:
        super().__init__(response_url=response_url)
        self._session = session
        self._api_url = api_url

    async def __call__(self, *args: Any, **message: Any) -> WebhookResponse:
        url = self.response_url or ""
        if not slack_hosted(url, self._api_url):
            log.warning("not answering to a response_url outside Slack: %.80r", url)
            return WebhookResponse(url=url, status_code=0, body="not a Slack host", headers={})
        if args or self._session is None or self._session.closed:
            return await super().__call__(*args, **message)
        return await AsyncWebhookClient(url, session=self._session).send(**message)
