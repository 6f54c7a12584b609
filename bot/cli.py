"""The core's command-line tasks (no Slack): check-config."""

from __future__ import annotations

import sys

from bot.bootstrap import build_backend, build_roles, build_vault, open_store
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, load_settings, require
from bot.storage.dialect import redacted


def check_config(settings: Settings | None = None) -> int:
    """Validate every setting the configured mode needs; print a summary without secrets."""
    try:
        settings = settings or load_settings()
        require(settings, "slack_signing_secret", "approvals_channel")
        if settings.slack_app_token is None:
            require(settings, "slack_bot_token")
        build_vault(settings)
        if settings.roles_source == "file":
            build_roles(settings)
        else:
            require(settings, "azure_tenant_id", "azure_client_id", "azure_client_secret")
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
    print(f"  Database:  {redacted(settings.database_path)}")
    print(f"  Backend:   {settings.backend}"
          + (f" (fleet {settings.fleet_file})" if settings.fleet_file else ""))
    print(f"  Roles:     {settings.roles_source}"
          + (f" ({settings.roles_file})" if settings.roles_file else ""))
    print(f"  Approval timeout: {settings.approval_timeout}")
    return 0


async def rotate_key(settings: Settings) -> int:
    """Re-seal every stored passcode under PASSCODE_BOT_SECRET (the new key), opening them with
    PASSCODE_BOT_OLD_SECRETS; all or nothing. Every value sealed with the vault: the requests'
    passcodes, and the simulated Intune's (its table, bot/storage/simulation.py)."""
    # The simulated backend's binding of a sealed value to its reset (one definition).
    from bot.backends.simulated import _bound as simulated_binding
    from bot.storage.simulation import SqlSimulatedResets
    from bot.vault import VaultError

    vault = build_vault(settings)
    store = await open_store(settings)
    try:
        sealed = [("request", rid, rid, blob) for rid, blob in await store.sealed_all()]
        sealed += [("simulated reset", ref, simulated_binding(ref), blob)
                   for ref, blob in await SqlSimulatedResets(store.database).sealed_all()]
        resealed: dict[str, list[tuple[str, bytes, bytes]]] = {"request": [],
                                                                "simulated reset": []}
        for what, key, bound_to, blob in sealed:
            if vault.is_current(blob):
                continue
            try:
                passcode = vault.unseal(bound_to, blob)
            except VaultError as exc:
                print(f"passcode-bot: {what} {key}: {exc}; nothing was changed. "
                      "Add the key it was sealed with to PASSCODE_BOT_OLD_SECRETS.",
                      file=sys.stderr)
                return 1
            resealed[what].append((key, blob, vault.seal(bound_to, passcode)))
        await store.reseal(resealed["request"], simulated=resealed["simulated reset"])
    finally:
        await store.close()
    print(f"Re-sealed {len(resealed['request'])} passcode(s) under the new key"
          + (f" (and {len(resealed['simulated reset'])} of the simulated backend's resets)"
             if resealed["simulated reset"] else "")
          + ". PASSCODE_BOT_OLD_SECRETS can now be removed.")
    return 0


async def audit_verify(settings: Settings) -> int:
    from bot.audit import verify

    store = await open_store(settings)
    try:
        result = await verify(store)
    finally:
        await store.close()
    if not result.ok:
        print(f"Audit trail is NOT intact: {result.problem}.", file=sys.stderr)
        return 1
    print(f"Audit trail intact: {result.events} events, head {result.head}.")
    return 0


async def audit_export(settings: Settings, since: str | None, fmt: str) -> int:
    from datetime import UTC, datetime

    from bot.audit import export

    moment = None
    if since:
        try:
            moment = datetime.fromisoformat(since)
        except ValueError:
            print(f"passcode-bot: --since {since!r} is not a date like 2026-11-01 or "
                  "2026-11-01T08:00", file=sys.stderr)
            return 2
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    store = await open_store(settings)
    try:
        sys.stdout.write(await export(store, moment, fmt))
    finally:
        await store.close()
    return 0


async def migrate_store(source_url: str, target_url: str) -> int:
    """Copy requests, the audit chain, jobs, the inbox and the simulated resets from one
    database into another, empty one (SQLite to PostgreSQL or back; bot/storage/copy.py says
    what is left and why), then verify the copy's audit chain against the source's."""
    from pathlib import Path

    from bot.audit import verify
    from bot.storage import Store, StoreError
    from bot.storage.copy import copy_store
    from bot.storage.dialect import is_postgres_url

    for flag, url in (("--from", source_url), ("--to", target_url)):
        if not (is_postgres_url(url) or url.startswith("sqlite:///")):
            print(f"passcode-bot: {flag} {redacted(url)!r} is not a database URL like "
                  "sqlite:///path/to/file.db or postgresql://user:password@host:5432/db",
                  file=sys.stderr)
            return 2
    source_file = source_url.removeprefix("sqlite:///")
    if not is_postgres_url(source_url) and not Path(source_file).is_file():
        print(f"passcode-bot: --from: no database at {source_file}", file=sys.stderr)
        return 2
    if redacted(source_url) == redacted(target_url):
        print("passcode-bot: --from and --to name the same database", file=sys.stderr)
        return 2
    source = await Store.open(source_url)
    try:
        target = await Store.open(target_url)
        try:
            try:
                copied = await copy_store(source, target)
            except StoreError as exc:
                print(f"passcode-bot: {exc}", file=sys.stderr)
                return 1
            before, after = await verify(source), await verify(target)
        finally:
            await target.close()
    finally:
        await source.close()
    print(f"Copied {copied.requests} request(s), {copied.audit} audit event(s), "
          f"{copied.jobs} job(s), {copied.inbox} inbox item(s), {copied.simulated_resets} "
          f"simulated reset(s) and {copied.locales} locale(s) from {redacted(source_url)} to "
          f"{redacted(target_url)}.")
    if not after.ok or after.head != before.head or after.events != before.events:
        print(f"Audit trail of the copy is NOT intact: {after.problem or 'it differs'}.",
              file=sys.stderr)
        return 1
    print(f"Audit trail of the copy intact: {after.events} events, head {after.head}.")
    return 0
