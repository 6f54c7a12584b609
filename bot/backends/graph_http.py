"""Microsoft Graph plumbing shared by the device backend and the role directory: a
client-credentials token from MSAL, one long-lived httpx client, bounded retries, and errors
a person can read (fact sheet shared/docs/intune-graph.md §5, §6)."""

from __future__ import annotations

import asyncio
import logging
import os
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import msal  # type: ignore[import-untyped]
import requests

from bot.backends.graph_auth import (
    WELL_KNOWN_AUTHORITY_HOSTS,
    PinnedVerifySession,
    resolve_ca_bundle,
    token_error,
)
from bot.backends.graph_errors import (
    TRANSIENT_STATUSES,
    UNKNOWN_OUTCOME_STATUSES,
    GraphErrorInfo,
    OutcomeUnknown,
    decode,
    error_for,
    parse_error,
    parse_graph_date,
    parse_retry_after,
)
from bot.clock import SystemClock
from bot.config import Settings
from bot.ports import BackendError, Clock
from bot.retry import GRAPH, Backoff
from bot.retry import wait as retry_wait

__all__ = [
    "GraphClient", "GraphErrorInfo", "OutcomeUnknown", "decode", "error_for", "origin",
    "parse_error", "parse_retry_after", "resolve_ca_bundle",
]

logger = logging.getLogger(__name__)

Json = dict[str, Any]
Sleep = Callable[[float], Awaitable[None]]

# MSAL treats a token with under five minutes left as expired; so do we.
TOKEN_RENEW_MARGIN = 300.0
# How far Graph's clock, read from Date headers, may be off: whole seconds (1 s), the time an
# answer spends on the wire, and Intune stamping an action a moment before or after it
# answers [I]. Replaces the minute of skew allowed before the clock was read (issue 12).
GRAPH_CLOCK_MARGIN = timedelta(seconds=3)


def origin(url: str) -> str:
    """scheme://host[:port] of a URL, lower-cased, no trailing slash."""
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class GraphClient:
    """Authenticated, retrying access to one tenant's Microsoft Graph."""

    def __init__(
        self,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        *,
        authority_host: str = "https://login.microsoftonline.com",
        graph_api_url: str = "https://graph.microsoft.com",
        ca_bundle: str | os.PathLike[str] | None = None,
        clock: Clock | None = None,
        sleep: Sleep | None = None,
        retry: Backoff = GRAPH,
        timeout: float = 30.0,
    ) -> None:
        authority_host = authority_host.strip().rstrip("/")
        if "://" not in authority_host:
            authority_host = "https://" + authority_host
        self.authority = f"{authority_host}/{tenant_id}"
        self.graph_url = origin(graph_api_url)
        # Client credentials take "<resource>/.default" (fact sheet §5).
        self.scope = f"{self.graph_url}/.default"
        self._client_id = client_id
        self.tenant_id = tenant_id
        self.client_id = client_id
        # Awaited before every write (POST/PUT/PATCH/DELETE) is sent, resends included: the
        # device backend's share of Intune's write budget (issue 12 point 6).
        self.before_write: Callable[[str], Awaitable[None]] | None = None
        self._client_secret = client_secret
        self._ca_bundle = resolve_ca_bundle(ca_bundle)
        self._timeout = timeout
        self.clock: Clock = clock or SystemClock()
        self.sleep: Sleep = sleep or retry_wait
        self.retry = retry  # bot/retry.py: what Graph calls retry, and why
        host = (urlsplit(authority_host).hostname or "").lower()
        self._instance_discovery = host in WELL_KNOWN_AUTHORITY_HOSTS
        verify: ssl.SSLContext | bool = True
        if self._ca_bundle:
            verify = ssl.create_default_context(cafile=self._ca_bundle)
        self._http = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=verify,
            headers={"Accept": "application/json"},
        )
        self._app: Any = None  # msal.ConfidentialClientApplication, built lazily in a thread
        self._session: requests.Session | None = None  # MSAL's HTTP client
        self._token_lock = asyncio.Lock()
        self._token: str | None = None
        self._token_valid_until = 0.0
        # Graph's clock minus ours, from the Date header of the latest answer (None until one
        # came): how the reset's checks compare our moments with Intune's stamps.
        self._graph_offset: timedelta | None = None

    @classmethod
    def from_settings(cls, settings: Settings, **kwargs: Any) -> GraphClient:
        """A client for the tenant and app registration named in ``settings``."""
        secret = settings.azure_client_secret
        kwargs["ca_bundle"] = kwargs.get("ca_bundle") or settings.ca_bundle
        return cls(
            settings.azure_tenant_id,
            settings.azure_client_id,
            secret.get_secret_value() if secret is not None else "",
            authority_host=settings.azure_authority_host,
            graph_api_url=settings.graph_api_url,
            **kwargs,
        )

    async def aclose(self) -> None:
        """Close the Graph connections and MSAL's."""
        await self._http.aclose()
        if self._session is not None:
            self._session.close()

    def url(self, path: str) -> str:
        """Absolute Graph URL for ``path`` ("beta/deviceManagement/...")."""
        return f"{self.graph_url}/{path.lstrip('/')}"

    # ------------------------------------------------------------------ token

    def _build_app(self) -> Any:
        # Runs in a worker thread: the constructor fetches the OpenID configuration (§5).
        session = PinnedVerifySession(self._ca_bundle or True)
        self._session = session
        return msal.ConfidentialClientApplication(
            self._client_id,
            client_credential=self._client_secret,
            authority=self.authority,
            instance_discovery=self._instance_discovery,
            http_client=session,
            timeout=self._timeout,
        )

    def _acquire_sync(self) -> Json:
        if self._app is None:
            self._app = self._build_app()
        result: Json = self._app.acquire_token_for_client(scopes=[self.scope])
        return result

    async def token(self) -> str:
        """A valid access token; MSAL's cache answers until shortly before expiry."""
        if self._token is not None and time.monotonic() < self._token_valid_until:
            return self._token
        async with self._token_lock:
            if self._token is not None and time.monotonic() < self._token_valid_until:
                return self._token
            try:
                # MSAL is synchronous and does network I/O: never on the event loop.
                result = await asyncio.to_thread(self._acquire_sync)
            except requests.RequestException as exc:
                raise BackendError(
                    f"Could not reach Microsoft Entra ID at {self.authority} "
                    f"({type(exc).__name__}). Try again in a few minutes.",
                    retryable=True,
                ) from None
            except ValueError as exc:
                # MSAL raises ValueError for an authority it cannot use (bad tenant or host,
                # or discovery answered with an error).
                raise BackendError(
                    f"Microsoft Entra ID authority {self.authority} is not usable: {exc}. "
                    "Check AZURE_TENANT_ID and AZURE_AUTHORITY_HOST."
                ) from None
            access = result.get("access_token")
            if not isinstance(access, str) or not access:
                raise token_error(result)
            expires_in = float(result.get("expires_in") or 0)
            self._token = access
            self._token_valid_until = time.monotonic() + expires_in - TOKEN_RENEW_MARGIN
            return access

    async def invalidate(self, token: str) -> None:
        """Forget ``token`` here and in MSAL's cache, which would otherwise hand it back."""
        async with self._token_lock:
            if self._token == token:
                self._token = None
                self._token_valid_until = 0.0
            app = self._app
            if app is not None:
                cache = app.token_cache
                for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
                    if item.get("secret") == token:
                        cache.remove_at(item)

    # ------------------------------------------------------------------ requests

    async def request(
        self,
        method: str,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool = True,
        accept: Collection[int] = (),
        what: str = "this request",
    ) -> httpx.Response:
        """Send one Graph request with retries; returns a 2xx response or one whose status is
        in ``accept``, raises BackendError otherwise (OutcomeUnknown when a non-idempotent
        request may have gone through)."""
        url = path_or_url if "://" in path_or_url else self.url(path_or_url)
        if origin(url) != self.graph_url:
            # Never send the token anywhere else (a nextLink is followed verbatim, §4).
            raise BackendError(f"Microsoft Graph pointed the bot at an unexpected host ({url}).")
        retries = 0
        waited = 0.0
        renewed = False
        while True:
            token = await self.token()
            if method.upper() != "GET" and self.before_write is not None:
                await self.before_write(url)
            sent_headers = {"Authorization": f"Bearer {token}", **(headers or {})}
            try:
                response = await self._http.request(
                    method, url, params=params, json=json_body, headers=sent_headers
                )
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # Nothing was sent: safe to retry even a POST.
                delay = self.retry.delay(retries + 1)
                problem = f"could not connect ({type(exc).__name__})"
                final = BackendError(
                    f"Could not reach Microsoft Graph for {what} ({type(exc).__name__}). "
                    "Try again in a few minutes.",
                    retryable=True,
                )
            except httpx.TransportError as exc:
                problem = f"no answer ({type(exc).__name__})"
                if not idempotent:
                    raise OutcomeUnknown(
                        f"Microsoft Graph gave no answer for {what} ({type(exc).__name__})."
                    ) from None
                delay = self.retry.delay(retries + 1)
                final = BackendError(
                    f"Microsoft Graph did not answer for {what} ({type(exc).__name__}). "
                    "Try again in a few minutes.",
                    retryable=True,
                )
            else:
                status = response.status_code
                self._learn_clock(response)
                logger.debug("graph %s %s -> %s", method, urlsplit(url).path, status)
                if status < 400 or status in accept:
                    return response
                if status == 401 and not renewed:
                    # An expired or revoked token: renew once and resend (§5).
                    renewed = True
                    await self.invalidate(token)
                    continue
                retry_after = parse_retry_after(
                    response.headers.get("Retry-After"), self.clock.now()
                )
                if status == 429:
                    delay = self.retry.delay(retries + 1, retry_after, throttled=True)
                elif not idempotent and status in UNKNOWN_OUTCOME_STATUSES and not (
                    status == 503 and retry_after is not None
                ):
                    # A POST is resent only on 429 or 503 with Retry-After: a 500, 502, 504
                    # or a bare 503 may mean it went through (§6; resetPasscode is not
                    # idempotent, issue 12 point 5).
                    raise OutcomeUnknown(f"Microsoft Graph answered HTTP {status} for {what}.")
                elif status in TRANSIENT_STATUSES:
                    delay = self.retry.delay(retries + 1, retry_after)
                else:
                    raise error_for(response, what)
                problem = f"HTTP {status}"
                final = error_for(response, what)
            retries += 1
            if not self.retry.may_retry(retries, waited, delay):
                logger.warning("graph %s %s: giving up after %s", method, what, problem)
                raise final
            logger.info("graph %s %s: %s; retrying in %.1fs", method, what, problem, delay)
            await self.sleep(delay)
            waited += delay

    def _learn_clock(self, response: httpx.Response) -> None:
        """Graph's clock from the answer's Date header. Date has whole seconds and is written
        while answering, so the offset is known to within a second plus the request's time
        on the wire; ``GRAPH_CLOCK_MARGIN`` allows for both."""
        moment = parse_graph_date(response.headers.get("Date"))
        if moment is not None:
            self._graph_offset = moment - self.clock.now()

    def graph_time(self, ours: datetime) -> datetime | None:
        """``ours`` (our clock) on Graph's clock, or None before any answer told us its time."""
        return None if self._graph_offset is None else ours + self._graph_offset

    async def get_json(
        self,
        path_or_url: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Collection[int] = (),
        what: str = "this request",
    ) -> tuple[int, Json]:
        """GET and decode a JSON object; returns (status, body)."""
        response = await self.request(
            "GET", path_or_url, params=params, headers=headers, accept=accept, what=what
        )
        return response.status_code, decode(response, what)

    async def pages(
        self,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        what: str = "this list",
    ) -> AsyncIterator[list[Json]]:
        """Each page's ``value``, following @odata.nextLink verbatim until absent (§4). Headers
        such as ConsistencyLevel are resent on every page: Graph does not carry them over."""
        url: str = path
        query: Mapping[str, str] | None = params
        seen: set[str] = set()
        while True:
            _, body = await self.get_json(url, params=query, headers=headers, what=what)
            rows = body.get("value")
            yield [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
            next_link = body.get("@odata.nextLink")
            if not isinstance(next_link, str) or not next_link or next_link in seen:
                return
            seen.add(next_link)
            url, query = next_link, None
