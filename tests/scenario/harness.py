"""The whole bot over real HTTP: Slack emulator <- app -> simulated fleet, driven by signed requests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.clock import ManualClock
from bot.config import Settings
from bot.emulators.driver import SlackDriver
from bot.emulators.slack import SlackEmulator
from bot.ports import DeviceBackend
from bot.roles import FileRoleDirectory
from handlers.server import RunningBot, start_bot

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
    bot: RunningBot
    driver: SlackDriver
    clock: ManualClock
    backend: DeviceBackend

    @property
    def service(self) -> Any:
        return self.bot.services.service

    @property
    def store(self) -> Any:
        return self.bot.services.store

    async def settle(self) -> None:
        """Wait for background work (listeners' tasks, then due jobs) to finish."""
        import asyncio

        for _ in range(20):
            ctx = self.bot.app.ctx  # type: ignore[attr-defined]
            if ctx.tasks:
                await asyncio.gather(*list(ctx.tasks), return_exceptions=True)
            await self.bot.services.runner.drain()
            if not ctx.tasks:
                return

    def dm(self, user_id: str) -> list[dict[str, Any]]:
        return self.emu.messages(user_id)

    def approvals(self) -> list[dict[str, Any]]:
        return self.emu.messages(APPROVALS)


async def make_stack(tmp_path: Path, secret: str, *, backend: DeviceBackend | None = None,
                     **settings_overrides: Any) -> AsyncIterator[Stack]:
    clock = ManualClock()
    async with SlackEmulator() as emu:
        emu.add_channel(APPROVALS, name="passcode-approvals")
        for user_id, (name, email) in USERS.items():
            emu.add_user(user_id, name=name, email=email)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=emu.token,
            slack_signing_secret=SIGNING_SECRET,
            slack_api_url=emu.api_url,
            approvals_channel=APPROVALS,
            port=0,
            database_url=f"sqlite:///{tmp_path / 'bot.db'}",
            passcode_bot_secret=secret,
            **settings_overrides,
        )
        backend = backend or SimulatedBackend(demo_fleet(), clock=clock)
        bot = await start_bot(
            settings, host="127.0.0.1", clock=clock, backend=backend,
            roles=FileRoleDirectory(ROLES), sleep=clock.sleep,
        )
        try:
            async with SlackDriver(bot.url, SIGNING_SECRET, emu) as driver:
                yield Stack(emu, bot, driver, clock, backend)
        finally:
            await bot.stop()
