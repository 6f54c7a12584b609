"""Structured logging with a redaction filter: tokens and passcodes never reach a log line,
even if a future change tries to log them.

Two nets: patterns for every token format the bot handles (Slack, bearer, JWT, client
secrets in URLs or forms), and the exact values of live secrets (passcodes the bot has seen,
configured secrets), which the core registers with ``remember`` as soon as it holds them."""

from __future__ import annotations

import json
import logging
import re
import threading
from collections import OrderedDict

MASK = "[redacted]"

_PATTERNS = [
    re.compile(r"xox[abposr]-[A-Za-z0-9-]+"),  # Slack bot/user/app tokens
    re.compile(r"xapp-[A-Za-z0-9-]+"),
    re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"(?i)(client_secret|access_token|passcode|password|secret)([\"']?\s*[=:]\s*[\"']?)[^\s\"'&,}]+"),
]


class SecretRegistry:
    """Exact secret values to scrub, most recent first, bounded."""

    def __init__(self, size: int = 10_000) -> None:
        self._values: OrderedDict[str, None] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def remember(self, value: str | None) -> None:
        if not value or len(value) < 4:
            return
        with self._lock:
            self._values[value] = None
            self._values.move_to_end(value)
            while len(self._values) > self._size:
                self._values.popitem(last=False)

    def scrub(self, text: str) -> str:
        with self._lock:
            values = list(self._values)
        for value in values:
            if value in text:
                text = text.replace(value, MASK)
        for pattern in _PATTERNS:
            text = pattern.sub(_mask_match, text)
        return text


def _mask_match(match: re.Match[str]) -> str:
    if match.lastindex and match.lastindex >= 2:
        return f"{match.group(1)}{match.group(2)}{MASK}"
    return MASK


SECRETS = SecretRegistry()


def remember(value: str | None) -> None:
    SECRETS.remember(value)


class RedactingFilter(logging.Filter):
    """Renders the message (and any exception text) once, scrubbed, so no secret escapes
    through an argument, a repr or a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = SECRETS.scrub(message)
        record.args = None
        if record.exc_text:
            record.exc_text = SECRETS.scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_text:
            entry["exception"] = record.exc_text
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(level: int = logging.INFO, *, json_lines: bool = False) -> None:
    """Root logging with the redaction filter on every handler."""
    handler = logging.StreamHandler()
    handler.addFilter(RedactingFilter())
    handler.setFormatter(JsonFormatter() if json_lines else logging.Formatter(
        "%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
