"""The core's command-line tasks (no Slack): check-config."""

from __future__ import annotations

import sys

from bot.config import ConfigError, Settings, load_settings, require
from bot.bootstrap import build_backend, build_roles, build_vault
from bot.clock import SystemClock


def check_config(settings: Settings | None = None) -> int:
    """Validate every setting the configured mode needs; print a summary without secrets."""
    try:
        settings = settings or load_settings()
        require(settings, "slack_signing_secret", "approvals_channel")
        if settings.slack_app_token is None:
            require(settings, "slack_bot_token")
        build_vault(settings)
        build_roles(settings)
        if settings.backend == "simulated":
            build_backend(settings, SystemClock())
        else:
            require(settings, "azure_tenant_id", "azure_client_id", "azure_client_secret")
    except ConfigError as exc:
        print(f"passcode-bot: {exc}", file=sys.stderr)
        return 2
    mode = "Socket Mode" if settings.slack_app_token else f"HTTP on port {settings.port}"
    print("Configuration is valid.")
    print(f"  Slack:     {mode}, Web API at {settings.slack_api_url}")
    print(f"  Approvals: {settings.approvals_channel}")
    print(f"  Database:  {settings.database_path}")
    print(f"  Backend:   {settings.backend}"
          + (f" (fleet {settings.fleet_file})" if settings.fleet_file else ""))
    print(f"  Roles:     {settings.roles_source}"
          + (f" ({settings.roles_file})" if settings.roles_file else ""))
    print(f"  Approval timeout: {settings.approval_timeout}")
    return 0
