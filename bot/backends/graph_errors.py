"""Reading Graph's answers: Retry-After and Date headers, error bodies (branch on status and
code, never on text), and the errors a person can read (fact sheet shared/docs/intune-graph.md
§6). Split from graph_http.py, which sends the requests."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from bot.ports import BackendError, FailureCode

Json = dict[str, Any]

TRANSIENT_STATUSES = frozenset({502, 503, 504})
# What a non-idempotent request's answer may be when it reached Intune all the same: a 500
# (Intune's own error after it queued the action), a gateway's 502/504, a 503 that names no
# Retry-After (issue 12 point 5). Only 429, and 503 with Retry-After, say "not taken".
UNKNOWN_OUTCOME_STATUSES = frozenset({500, 502, 503, 504})
_OPERATION_ID = re.compile(r"Operation ID[^:]*:\s*([0-9a-fA-F-]{36})")


class OutcomeUnknown(BackendError):
    """A non-idempotent request may have reached Graph but no answer came back (a 502/504,
    a timeout or a dropped connection); the caller must look before sending it again."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: integer seconds or an HTTP date (§6)."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


@dataclass(frozen=True, slots=True)
class GraphErrorInfo:
    """What a Graph error body says, without its free text (branch on status and code, §6)."""

    code: str = ""
    operation_id: str = ""
    request_id: str = ""

    def reference(self) -> str:
        parts = [f"error {self.code}" if self.code else ""]
        if self.operation_id:
            parts.append(f"Operation ID {self.operation_id}")
        if self.request_id:
            parts.append(f"request-id {self.request_id}")
        return ", ".join(p for p in parts if p)


def parse_error(response: httpx.Response) -> GraphErrorInfo:
    """error.code, Intune's Operation ID (inside a JSON string in error.message, §6) and the
    request-id; tolerant of bodies that are not JSON."""
    try:
        body = response.json()
    except ValueError:
        return GraphErrorInfo()
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return GraphErrorInfo()
    code = str(error.get("code") or "")
    message = error.get("message")
    operation = ""
    if isinstance(message, str):
        text = message
        if message.lstrip().startswith("{"):
            try:
                nested = json.loads(message)
            except ValueError:
                nested = None
            if isinstance(nested, dict):
                text = str(nested.get("Message") or "")
        found = _OPERATION_ID.search(text)
        operation = found.group(1) if found else ""
    inner = error.get("innerError") or error.get("innererror") or {}
    request_id = str(inner.get("request-id") or "") if isinstance(inner, dict) else ""
    return GraphErrorInfo(code, operation, request_id)


def error_for(response: httpx.Response, what: str) -> BackendError:
    """A BackendError for a final (non-retried) Graph error response."""
    status = response.status_code
    info = parse_error(response)
    ref = info.reference()
    detail = f"HTTP {status}" + (f", {ref}" if ref else "")
    if status == 400:
        return BackendError(
            f"Intune refused the request for {what} as not possible for this device ({detail}).",
            failure=FailureCode.NOT_SUPPORTED,
        )
    if status == 401:
        return BackendError(
            "Microsoft Graph rejected the bot's access token even after renewing it "
            f"({detail}). Check the app registration in Entra ID."
        )
    if status == 403:
        return BackendError(
            f"The bot's app registration is not allowed to read or act on {what} ({detail}). "
            "Check its Microsoft Graph application permissions and the tenant's Intune licence."
        )
    if status == 404:
        return BackendError(
            f"Intune does not know {what} ({detail}); it may have been removed.",
            failure=FailureCode.DEVICE_NOT_FOUND,
        )
    if status == 429:
        return BackendError(
            f"Microsoft Graph is throttling the bot ({detail}). Try again in a few minutes.",
            retryable=True,
        )
    if status in TRANSIENT_STATUSES:
        return BackendError(
            f"Microsoft Graph is unavailable right now ({detail}). Try again in a few minutes.",
            retryable=True,
        )
    return BackendError(f"Microsoft Graph could not handle the request for {what} ({detail}).")


def decode(response: httpx.Response, what: str) -> Json:
    """The response's JSON object, or a BackendError if it is not one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise BackendError(
            f"Microsoft Graph sent an answer the bot cannot read for {what} "
            f"(HTTP {response.status_code})."
        )
    return body


def parse_graph_date(value: str | None) -> datetime | None:
    """The moment an HTTP ``Date`` header names (RFC 9110: whole seconds, GMT), or None."""
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
