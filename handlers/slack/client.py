"""The Slack Web API client: SLACK_API_URL, slack_sdk's retries, one pooled HTTP session."""

from __future__ import annotations

import aiohttp
from slack_sdk.http_retry.async_handler import RetryState
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot import retry
from bot.config import Settings


class _SlackBackoff(BackoffRetryIntervalCalculator):
    """slack_sdk's own backoff (0.5 s doubling, plus up to 1 s); no wait under
    bot.retry.set_testing."""

    def calculate_sleep_duration(self, current_attempt: int) -> float:
        return 0.0 if retry.is_testing() else super().calculate_sleep_duration(current_attempt)


class _SlackRateLimit(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler (Retry-After, plus up to 1 s); no wait under
    bot.retry.set_testing."""

    async def prepare_for_next_attempt_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> None:
        if not retry.is_testing() or response is None:
            await super().prepare_for_next_attempt_async(
                state=state, request=request, response=response, error=error
            )
            return
        state.next_attempt_requested = True
        state.increment_current_attempt()


class _ConnectionErrors(AsyncConnectionErrorRetryHandler):
    """slack_sdk's handler for dropped connections, except that a chat.postMessage whose
    connection dropped after it was sent is not sent again here: Slack may have taken it.
    The job that sent it tries again, and looks for it first (handlers/slack/notifier.py)."""

    async def _can_retry_async(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        if request.url.endswith("/chat.postMessage") and not isinstance(
            error, aiohttp.ClientConnectorError  # (could not connect: nothing was sent)
        ):
            return False
        return await super()._can_retry_async(state=state, request=request,
                                              response=response, error=error)


def build_client(settings: Settings) -> AsyncWebClient:
    """Every Web API call goes to SLACK_API_URL (GovSlack, or a local emulator), with
    slack_sdk's retries for 429 (honouring Retry-After), 5xx and dropped connections (how
    often, and why this layer retries them: bot/retry.py)."""
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    backoff = _SlackBackoff()
    return AsyncWebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=10,
        retry_handlers=[
            _SlackRateLimit(max_retry_count=retry.SLACK_RATE_LIMIT_RETRIES),
            AsyncServerErrorRetryHandler(retry.SLACK_SERVER_ERROR_RETRIES, backoff),
            _ConnectionErrors(retry.SLACK_CONNECTION_ERROR_RETRIES, backoff),
        ],
    )


def pooled(client: AsyncWebClient) -> AsyncWebClient:
    """Give the Web API client one aiohttp session for all its calls. Without one, slack_sdk
    opens a session, hence a new TCP (and, against Slack, TLS) connection, for every call:
    measured with `python -m bench`, about a third of the CPU a click or a reset costs after
    its ack. Call inside the event loop; a client pooled already keeps its session."""
    if client.session is not None and not client.session.closed:
        return client
    client.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=client.timeout))
    return client


async def close_pool(client: AsyncWebClient) -> None:
    if client.session is not None:
        await client.session.close()


