"""The composition root of the core: from Settings to the store, backend, roles, vault,
service and job runner (``build_services``). Everything that builds the core comes through
here: the Slack app's root (handlers/bootstrap.py), the operator tools (bot/cli.py) and the
tests. Nothing here knows about Slack; the notifier comes from the caller."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from bot import logs
from bot.clock import SystemClock
from bot.config import ConfigError, Settings, decode_key, require
from bot.jobs import JobRunner
from bot.ports import Clock, DeviceBackend, Notifier, RoleDirectory
from bot.roles import FileRoleDirectory, RolesFileError
from bot.service import ResetService, ServiceConfig, Sleep
from bot.storage import Store
from bot.vault import Vault
from policy.approval import GRAPH_PERMITTED_ROLES

if TYPE_CHECKING:
    from bot.backends.graph_http import GraphClient
    from bot.people import GraphPeople


@dataclass
class Services:
    settings: Settings
    store: Store
    backend: DeviceBackend
    roles: RoleDirectory
    service: ResetService
    runner: JobRunner
    graph: GraphClient | None = None  # shared by the Intune backend and the Graph roles
    _warm_up: asyncio.Task[None] | None = None

    async def start(self, *, jobs: bool = True, picker: bool = True) -> None:
        """Start the job runner (unless ``jobs`` is False: a process that only acks) and,
        when this process answers the device picker (``picker``), the device index's
        warm-up."""
        if jobs:
            await self.runner.start()
        # The Intune backend answers the device picker from a cached index of the fleet: fill
        # it now, in the background, rather than on the first person's keystroke. A process
        # that answers no picker (a worker) loads it only if it ever searches (a scoped
        # approver's queue, bot/usecases/status.py): a 100,000-device list read every 15
        # minutes and held (~35 MB) for nothing otherwise.
        refresh = getattr(self.backend, "refresh_index", None)
        if refresh is not None and picker:
            self._warm_up = asyncio.create_task(_quietly(refresh(), "device index warm-up"))

    async def aclose(self) -> None:
        if self._warm_up is not None:
            self._warm_up.cancel()
        await self.runner.stop()
        await self.backend.aclose()
        if self.graph is not None:
            await self.graph.aclose()
        await self.store.close()


async def _quietly(work: Awaitable[None], what: str) -> None:
    try:
        await work
    except Exception:  # noqa: BLE001 - the next lookup tries again
        logging.getLogger(__name__).warning("%s failed; it will be retried on use", what)


def build_vault(settings: Settings) -> Vault:
    require(settings, "passcode_bot_secret")
    assert settings.passcode_bot_secret is not None
    old: list[bytes] = []
    if settings.passcode_bot_old_secrets is not None:
        for i, text in enumerate(settings.passcode_bot_old_secrets.get_secret_value().split(",")):
            if text.strip():
                try:
                    old.append(decode_key(text))
                except ValueError as exc:
                    raise ConfigError(f"PASSCODE_BOT_OLD_SECRETS: key {i + 1} {exc}") from None
    return Vault(decode_key(settings.passcode_bot_secret.get_secret_value()), old)


def build_graph(settings: Settings, clock: Clock, sleep: Sleep | None) -> GraphClient | None:
    """One Graph client (one token, one connection pool) for the backend and the roles."""
    if settings.backend != "intune" and settings.roles_source != "graph":
        return None
    require(settings, "azure_tenant_id", "azure_client_id", "azure_client_secret")
    from bot.backends.graph_http import GraphClient

    return GraphClient.from_settings(settings, clock=clock, sleep=sleep)


def build_backend(
    settings: Settings, clock: Clock, graph: GraphClient | None = None,
    people: GraphPeople | None = None,
) -> DeviceBackend:
    if settings.backend == "intune":
        from bot.backends.graph import GraphBackend

        assert graph is not None, "build_services makes the shared Graph client"
        return GraphBackend(graph, clock=clock, people=people,
                            reset_grace=timedelta(seconds=settings.reset_grace_seconds),
                            audit_initiator=settings.intune_audit_initiator)
    from bot.backends.fleet_stream import open_fleet_file
    from bot.backends.simulated import SimulatedBackend, demo_fleet, demo_users

    if settings.fleet_file is not None:
        try:  # one device at a time: a big fleet never exists whole as dicts
            fleet = open_fleet_file(settings.fleet_file)
            return SimulatedBackend(fleet.devices, users=fleet.users, clock=clock)
        except ValueError as exc:
            raise ConfigError(f"FLEET_FILE: {exc}") from None
    return SimulatedBackend(demo_fleet(), users=demo_users(), clock=clock)


def build_roles(
    settings: Settings, graph: GraphClient | None = None, people: GraphPeople | None = None
) -> RoleDirectory:
    if settings.roles_source == "graph":
        from bot.roles_graph import GraphRoleDirectory

        assert graph is not None, "build_services makes the shared Graph client"
        return GraphRoleDirectory(graph, people=people)
    if settings.roles_file is None:
        return FileRoleDirectory({})
    try:
        return FileRoleDirectory.from_file(settings.roles_file)
    except RolesFileError as exc:
        raise ConfigError(str(exc)) from None


def _named_roles(settings: Settings) -> frozenset[str]:
    """PERMITTED_ROLES as set explicitly (empty when left at its default)."""
    if "permitted_roles" not in settings.model_fields_set:
        return frozenset()
    return frozenset(settings.permitted_roles)


def permitted_roles(settings: Settings) -> frozenset[str]:
    """PERMITTED_ROLES, or its default for the role source: ROLES_FILE, the four roles of the
    source documents; Graph, as Intune decides (GRAPH_PERMITTED_ROLES)."""
    if settings.roles_source == "graph" and not _named_roles(settings):
        return GRAPH_PERMITTED_ROLES
    return frozenset(settings.permitted_roles)


async def open_store(settings: Settings) -> Store:
    """The store DATABASE_URL names (SQLite file or PostgreSQL), migrated; a password in the
    URL is never logged."""
    from urllib.parse import urlsplit

    password = urlsplit(settings.database_url).password if settings.database_is_postgres else None
    if password:
        logs.remember(password)
    return await Store.open(settings.database_url)


def service_config(settings: Settings) -> ServiceConfig:
    return ServiceConfig(
        permitted_roles=permitted_roles(settings),
        approval_timeout=settings.approval_timeout,
        passcode_ttl=settings.passcode_ttl,
        execution_timeout=settings.execution_timeout,
        max_requests_per_user_hour=settings.max_requests_per_user_hour,
        max_requests_per_device_day=settings.max_requests_per_device_day,
        stale_checkin_days=settings.stale_checkin_days,
    )


async def build_services(
    settings: Settings,
    notifier: Callable[[Store], Notifier],
    *,
    clock: Clock | None = None,
    backend: DeviceBackend | None = None,
    roles: RoleDirectory | None = None,
    sleep: Sleep | None = None,
    sweep_every: timedelta = timedelta(minutes=1),
) -> Services:
    """Everything but Slack; ``notifier`` builds the notifier once the store is open.
    Raises ConfigError (one line) for a bad setting."""
    clock = clock or SystemClock()
    for value in (settings.slack_bot_token, settings.slack_signing_secret, settings.slack_app_token,
                  settings.azure_client_secret, settings.passcode_bot_secret):
        if value is not None:
            logs.remember(value.get_secret_value())  # never logged, whatever logs it
    vault = build_vault(settings)
    graph = None
    if (backend is None and settings.backend == "intune") or (
        roles is None and settings.roles_source == "graph"
    ):
        graph = build_graph(settings, clock, sleep)
    people = None
    if graph is not None:
        from bot.people import GraphPeople

        people = GraphPeople(graph, clock=clock)  # one Entra user lookup (and cache) for both
    roles = roles or build_roles(settings, graph, people)
    backend = backend or build_backend(settings, clock, graph, people)
    store = await open_store(settings)
    share_budget = getattr(backend, "share_budget", None)
    if callable(share_budget):
        share_budget(store)  # Intune's write budget, shared by every process on the database
    share_state = getattr(backend, "share_state", None)
    if callable(share_state):
        share_state(store.database, vault)  # the simulated resets, seen by every process
    kwargs = {"sleep": sleep} if sleep is not None else {}
    service = ResetService(store, backend, roles, vault, clock, service_config(settings), **kwargs)
    runner = JobRunner(service, store, store, notifier(store), clock,
                       sweep_every_s=sweep_every.total_seconds(), heartbeats=store,
                       lease_s=settings.job_lease_seconds)
    return Services(settings, store, backend, roles, service, runner, graph)
