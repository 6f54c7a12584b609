"""The token side of Graph: MSAL's authority hosts, the CA bundle every HTTPS client trusts,
MSAL's requests session pinned to it, and MSAL's error dict as an error a person reads (fact
sheet shared/docs/intune-graph.md §5). Split from graph_http.py."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import requests

from bot.ports import BackendError

# MSAL 1.39's well-known authority hosts (fact sheet §5). For any other host MSAL would first
# ask login.microsoftonline.com for instance discovery, so it is switched off for those.
WELL_KNOWN_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.microsoftonline.de",
        "login-us.microsoftonline.com",
        "login.microsoftonline.us",
        "login.usgovcloudapi.net",
        "login.sovcloud-identity.fr",
        "login.sovcloud-identity.de",
        "login.sovcloud-identity.sg",
    }
)
def resolve_ca_bundle(explicit: str | os.PathLike[str] | None = None) -> str | None:
    """The CA bundle to trust: ``explicit`` (``from_settings``: SSL_CERT_FILE, else
    REQUESTS_CA_BUNDLE; product.md: corporate proxies and test CAs), else None for the
    default store."""
    return os.fspath(explicit) if explicit else None


class PinnedVerifySession(requests.Session):  # type: ignore[misc,unused-ignore]
    """requests lets REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE override ``Session.verify`` (fact sheet
    §5); this session keeps the bundle we chose while still honouring proxy variables."""

    def __init__(self, verify: str | bool) -> None:
        super().__init__()
        self.verify = verify
        self._pinned = verify

    def merge_environment_settings(
        self, url: Any, proxies: Any, stream: Any, verify: Any, cert: Any
    ) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(
            url, proxies, stream, verify, cert
        )
        settings["verify"] = self._pinned
        return settings


def token_error(result: Mapping[str, Any]) -> BackendError:
    """A BackendError for MSAL's error dict; never includes the secret or a token."""
    error = str(result.get("error") or "unknown_error")
    codes = result.get("error_codes") or []
    aadsts = ", ".join(f"AADSTS{c}" for c in codes if isinstance(c, int))
    detail = error + (f", {aadsts}" if aadsts else "")
    if error in {"temporarily_unavailable", "server_error"}:
        return BackendError(
            f"Microsoft Entra ID could not issue a token right now ({detail}). "
            "Try again in a few minutes.",
            retryable=True,
        )
    return BackendError(
        f"Microsoft Entra ID refused the bot's token request ({detail}). Check AZURE_TENANT_ID, "
        "AZURE_CLIENT_ID and AZURE_CLIENT_SECRET."
    )
