"""Settings from the environment and an optional ``.env`` file (pydantic-settings)."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from policy.approval import DEFAULT_PERMITTED_ROLES

_DURATION = re.compile(r"(-?\d+(?:\.\d+)?)\s*([smhd]?)")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    # Slack
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None  # set: Socket Mode instead of HTTP
    slack_api_url: str = "https://slack.com/api/"
    port: int = Field(3000, ge=0, le=65535)
    host: str = "0.0.0.0"  # e.g. 127.0.0.1 behind a reverse proxy on the same machine
    approvals_channel: str = ""
    # Where `serve` runs the work after an ack: "process", a worker process of its own, so
    # that no request's work delays another's ack (see handlers/runtime/process.py); "inline",
    # on the event loop that acks (one process).
    background_work: Literal["process", "inline"] = "process"
    # The worker process's CPU priority: "idle" (Linux SCHED_IDLE: it runs whenever the acks
    # leave the CPU free), "low" (nice 19) or "normal" (a host with other busy programs).
    worker_priority: Literal["idle", "low", "normal"] = "idle"

    # How long a job runner holds a job it claimed (renewed every third of it while the job
    # runs): a runner killed meanwhile leaves its jobs to the others once this has run out.
    # At least 10 s: a renewal (every third) must reach the database before the lease lapses,
    # through a stall of the loop (an index rebuild takes ~1.5 s at 100,000 devices), or a second
    # runner would start a job the first is still running.
    job_lease_seconds: float = Field(120.0, ge=10)
    # GET /readyz: 503 when the oldest job waiting for a runner has waited longer than this.
    ready_max_job_delay_seconds: float = Field(300.0, gt=0)
    # Where `passcode-bot status` reads /readyz ("": http://127.0.0.1:PORT/readyz).
    status_url: str = ""

    # "json" for one JSON object per log line; tokens and passcodes are redacted either way.
    log_format: Literal["text", "json"] = "text"

    # Storage and secrets
    database_url: str = "sqlite:///passcode-bot.db"
    passcode_bot_secret: SecretStr | None = None
    # Previous keys, comma-separated, still accepted for unsealing (see `rotate-key`).
    passcode_bot_old_secrets: SecretStr | None = None

    # Policy
    roles_source: Literal["file", "graph"] = "file"
    roles_file: Path | None = None
    permitted_roles: list[str] = Field(default_factory=lambda: sorted(DEFAULT_PERMITTED_ROLES))
    approval_timeout: timedelta = timedelta(hours=24)
    passcode_ttl: timedelta = timedelta(days=7)
    max_requests_per_user_hour: int = Field(5, ge=1)
    max_requests_per_device_day: int = Field(3, ge=1)
    # Commands, clicks and submissions one person may send a minute (in bursts of up to this
    # many), before the bot does anything for them: nobody can make it call Slack or Graph
    # without bound. Options loads, a keystroke each, may come four times as often. 0: no limit.
    person_actions_per_minute: int = Field(30, ge=0)

    # Backend
    backend: Literal["simulated", "intune"] = "simulated"
    fleet_file: Path | None = None
    azure_tenant_id: str = ""
    azure_client_id: str = ""
    azure_client_secret: SecretStr | None = None
    azure_authority_host: str = "https://login.microsoftonline.com"
    graph_api_url: str = "https://graph.microsoft.com"
    # How long execution waits for the backend's result before the request fails.
    execution_timeout: timedelta = timedelta(minutes=15)
    # Issue 12. After a reset POST whose answer was lost, how long Intune gets to list the
    # action before the bot reads deviceActionResults and remoteActionAudits (seconds).
    reset_grace_seconds: float = Field(30.0, ge=0)
    # What Intune writes as initiatedByUserPrincipalName in remoteActionAudits for this app's
    # own (client-credentials) actions, once a pilot has seen it; empty: rows naming no user.
    intune_audit_initiator: str = ""
    # The approvals post warns when the device last checked in more than this many days ago
    # (the reset runs when it next connects). 0: never warn.
    stale_checkin_days: int = Field(7, ge=0)
    # The CA bundle Graph's TLS is checked against (a corporate proxy's CA, a test CA): the
    # standard variables OpenSSL and requests read, SSL_CERT_FILE first; unset, the system's.
    ssl_cert_file: str = ""
    requests_ca_bundle: str = ""

    @field_validator("database_url")
    @classmethod
    def _sqlite_or_postgres(cls, value: str) -> str:
        value = value.strip()
        if value.startswith(("postgresql://", "postgres://")):
            if len(value.split("://", 1)[1]) == 0:
                raise ValueError("must look like postgresql://user:password@host:5432/database")
            return value
        if not value.startswith("sqlite:///") or len(value) <= len("sqlite:///"):
            raise ValueError("must look like sqlite:///path/to/file.db or "
                             "postgresql://user:password@host:5432/database")
        return value

    @field_validator("passcode_bot_secret")
    @classmethod
    def _fernet_format(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            decode_key(value.get_secret_value())
        return value

    @field_validator("azure_authority_host")
    @classmethod
    def _https_authority(cls, value: str) -> str:
        # azure-identity's convention: a bare host gets https://; any other scheme is an error.
        value = value.strip().rstrip("/")
        if "://" not in value:
            value = "https://" + value
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL (MSAL accepts no other)")
        return value

    @field_validator("log_format", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("graph_api_url")
    @classmethod
    def _https_graph(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if not value.startswith("https://"):
            raise ValueError("must be an https:// URL (the Graph token must never travel in clear)")
        return value

    @field_validator("approval_timeout", "passcode_ttl", "execution_timeout", mode="before")
    @classmethod
    def _human_duration(cls, value: object) -> object:
        # "24h", "90m", "7d", "3600" (seconds) as well as ISO 8601 ("PT24H").
        if isinstance(value, str):
            match = _DURATION.fullmatch(value.strip().lower())
            if match:
                number, unit = float(match.group(1)), match.group(2) or "s"
                return timedelta(seconds=number * _UNITS[unit])
        return value

    @field_validator("approval_timeout", "passcode_ttl", "execution_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value <= timedelta(0):
            raise ValueError("must be a positive duration such as 24h, 90m, 7d or 3600 (seconds)")
        return value

    @property
    def ca_bundle(self) -> str | None:
        return self.ssl_cert_file.strip() or self.requests_ca_bundle.strip() or None

    @property
    def database_path(self) -> str:
        """The SQLite file (a PostgreSQL URL is returned as it is: Store.open takes both)."""
        return self.database_url.removeprefix("sqlite:///")

    @property
    def database_is_postgres(self) -> bool:
        return self.database_url.startswith(("postgresql://", "postgres://"))


def decode_key(text: str) -> bytes:
    """A 32-byte key in URL-safe base64 (the Fernet key format)."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError("must be 32 random bytes in URL-safe base64") from None
    if len(raw) != 32:
        raise ValueError(f"must be 32 random bytes in URL-safe base64 (got {len(raw)} bytes)")
    return raw


def load_settings(**overrides: object) -> Settings:
    """Settings from env + .env, or ConfigError with one line naming the bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "settings"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name}: {message}") from None


def require(settings: Settings, *names: str) -> None:
    """ConfigError naming the first of ``names`` that is unset."""
    for name in names:
        value = getattr(settings, name)
        if value is None or value == "" or (
            isinstance(value, SecretStr) and not value.get_secret_value()
        ):
            raise ConfigError(f"{name.upper()}: is required but not set")
