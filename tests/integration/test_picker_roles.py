"""Only the process that answers the device picker loads the Intune device list at start
(issue 13 point 6: idle RSS per process): `passcode-bot web` (and `serve`'s front, and the
inline role) warm the index up; a worker, which answers no picker, reads the list only if it
ever searches (a scoped approver's queue), and then answers as the front does. Over HTTPS to
the Graph emulator, with the Slack emulator as the notifier's Slack."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from bot.backends.graph import GraphBackend
from bot.config import Settings
from handlers.bootstrap import compose_work
from handlers.demo.slack_emulator import SlackEmulator
from handlers.runtime.inline import Role
from handlers.slack.client import build_client, close_pool
from handlers.slack.identity import Identity
from tests.integration.test_graph_backend import device

if TYPE_CHECKING:
    from tests.integration.graph_fixtures import EmulatorFactory

pytest_plugins = ["tests.integration.graph_fixtures"]

MakeBackend = Callable[..., GraphBackend]


def full_lists(emulator: object) -> list[str]:
    """The unfiltered managedDevices lists asked for (a full load's first pages)."""
    return [q for q in emulator.graph_requests("/deviceManagement/managedDevices",  # type: ignore[attr-defined]
                                               method="GET")
            if "$filter" not in q and "managedDevices/" not in q]


@pytest.mark.parametrize(("role", "warms_up"), [("web", True), ("both", True),
                                                ("worker", False)])
async def test_only_a_role_that_answers_the_picker_loads_the_device_list_at_start(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, tmp_path: Path, secret: str,
    role: Role, warms_up: bool,
) -> None:
    emulator = await make_emulator([device(f"pixel-{i}") for i in range(3)])
    async with SlackEmulator() as slack:
        slack.add_channel("C0APPROVALS", name="passcode-approvals")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=slack.token, slack_api_url=slack.api_url,
            approvals_channel="C0APPROVALS", database_url=f"sqlite:///{tmp_path}/bot.db",
            passcode_bot_secret=secret)
        client = build_client(settings)
        runtime = await compose_work(settings, client, Identity(client), role=role,
                                     backend=make_backend(emulator))
        try:
            await runtime.start()
            for _ in range(200):  # the warm-up runs in the background
                if full_lists(emulator):
                    break
                await asyncio.sleep(0.02)
            assert bool(full_lists(emulator)) is warms_up

            # Whichever role: a search answers from the index, loaded on first use if need be.
            found = await runtime.services.backend.search_devices("pixel")
            assert [d.name for d in found] == ["pixel-0", "pixel-1", "pixel-2"]
            assert len(full_lists(emulator)) == 1
        finally:
            await runtime.aclose()
            await close_pool(client)
