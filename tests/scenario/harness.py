"""The whole bot over real HTTP: Slack emulator <- app -> simulated fleet, driven by signed
requests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.backends.simulated import FleetEntry, SimulatedBackend, demo_fleet
from bot.clock import ManualClock
from bot.config import Settings
from bot.ports import DeviceBackend
from bot.roles import FileRoleDirectory
from handlers.bootstrap import start
from handlers.demo.driver import SlackDriver
from handlers.demo.slack_emulator import SlackEmulator
from handlers.runtime.inline import InlineRuntime
from handlers.runtime.server import Running
from handlers.work.worker import Worker
from tests.fakes.graph_api import GraphEmulator

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVALS = "C0APPROVALS"

USERS = {
    "UALICE": ("alice", "alice@example.com"),
    "UBOB": ("bob", "Bob@Example.com"),
    "UCAROL": ("carol", "carol@example.com"),
    "UDAVE": ("dave", "dave@example.com"),
    "UERIN": ("erin", "erin@example.com"),
    "UHELEN": ("helen", "helen@example.com"),  # helpdesk operator
    "UANNA": ("anna", "anna@example.com"),  # Intune administrator
    "UMALLORY": ("mallory", "mallory@example.com"),  # no role
}
ROLES = {
    "Helpdesk Operator": ["UHELEN"],
    "Intune Service Administrator": ["anna@example.com"],
}

PIXEL = "d7d2d617-9d12-4bb2-bb9c-9a4a1a9923be"  # alice, AE fully managed


@dataclass
class Stack:
    emu: SlackEmulator
    bot: Running
    driver: SlackDriver
    clock: ManualClock
    backend: DeviceBackend
    graph: GraphEmulator | None = None
    fleet: list[FleetEntry] = field(default_factory=demo_fleet)

    def resets(self) -> int:
        """Backend reset actions started, as the backend itself counted them."""
        if self.graph is not None:
            return sum(self.graph.reset_posts(d["id"]) for d in self.fleet)
        return int(self.backend.resets_started)  # type: ignore[attr-defined]

    @property
    def worker(self) -> Worker:
        """The work after the acks (the bot runs it inline here)."""
        runtime = self.bot.runtime
        assert isinstance(runtime, InlineRuntime)
        return runtime.worker

    @property
    def service(self) -> Any:
        return self.bot.services.service

    @property
    def store(self) -> Any:
        return self.bot.services.store

    async def settle(self) -> None:
        """Wait for background work (listeners' tasks, then due jobs) to finish."""
        await self.bot.settle()

    def dm(self, user_id: str) -> list[dict[str, Any]]:
        return self.emu.messages(user_id)

    def approvals(self) -> list[dict[str, Any]]:
        return self.emu.messages(APPROVALS)


async def make_stack(tmp_path: Path, secret: str, *, backend: DeviceBackend | None = None,
                     kind: str = "simulated", fleet: list[FleetEntry] | None = None,
                     locales: dict[str, str] | None = None,
                     **settings_overrides: Any) -> AsyncIterator[Stack]:
    """The whole bot; ``kind="intune"`` puts Microsoft Graph (the HTTPS emulator) behind it.
    ``fleet`` replaces the demo fleet (on either backend); ``locales`` gives some of USERS a
    Slack locale of their own from the start (the bot learns everyone's at its start)."""
    clock = ManualClock()
    fleet = fleet if fleet is not None else demo_fleet()
    graph: GraphEmulator | None = None
    if kind == "intune":
        graph = GraphEmulator.with_test_ca(fleet)
        for _, email in USERS.values():  # the workspace's people are the tenant's users
            graph.add_user(email)
        await graph.start()
        for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
            os.environ[name] = str(graph.ca_bundle)
        settings_overrides = {**graph.settings_overrides(), "backend": "intune",
                              **settings_overrides}
    try:
        async for stack in _stack(tmp_path, secret, clock, backend, graph, fleet,
                                  locales or {}, settings_overrides):
            yield stack
    finally:
        if graph is not None:
            await graph.stop()


def workspace(emu: SlackEmulator, tmp_path: Path, secret: str, *,
              locales: dict[str, str] | None = None, **settings: Any) -> Settings:
    """The test workspace on ``emu`` (the approvals channel, USERS, in English unless
    ``locales`` says otherwise) and the bot's settings for it: a database in ``tmp_path``,
    ``secret`` as PASSCODE_BOT_SECRET, plus ``settings``."""
    emu.add_channel(APPROVALS, name="passcode-approvals")
    for user_id, (name, email) in USERS.items():
        emu.add_user(user_id, name=name, email=email,
                     locale=(locales or {}).get(user_id, "en-US"))
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token=emu.token,
        slack_api_url=emu.api_url,
        approvals_channel=APPROVALS,
        passcode_bot_secret=secret,
        **{"database_url": f"sqlite:///{tmp_path / 'bot.db'}", **settings},
    )


async def _stack(tmp_path: Path, secret: str, clock: ManualClock, backend: DeviceBackend | None,
                 graph: GraphEmulator | None, fleet: list[FleetEntry], locales: dict[str, str],
                 settings_overrides: dict[str, Any]) -> AsyncIterator[Stack]:
    async with SlackEmulator() as emu:
        settings = workspace(emu, tmp_path, secret, locales=locales,
                             slack_signing_secret=SIGNING_SECRET, port=0, host="127.0.0.1",
                             background_work="inline", **settings_overrides)
        if graph is None:
            backend = backend or SimulatedBackend(fleet, clock=clock)
        bot = await start(
            settings, clock=clock, backend=backend,
            roles=FileRoleDirectory(ROLES), sleep=clock.sleep,
        )
        try:
            await bot.settle()  # what it does at its start (users.list) is done before a test
            async with SlackDriver(bot.url, SIGNING_SECRET, emu) as driver:
                yield Stack(emu, bot, driver, clock, bot.services.backend, graph, fleet)
        finally:
            await bot.stop()
