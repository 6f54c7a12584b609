"""The approvals post warns before anyone clicks (issue 12 point 8), through Slack with Intune
(the HTTPS Graph fake) behind the bot: a device silent for weeks, an iOS removal."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.scenario.harness import PIXEL, Stack, make_stack

IPHONE = "a682d288-dfb8-4897-9202-ddabbcbb2e4f"  # Alice's iPhone


@pytest.fixture
async def stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret, kind="intune"):
        yield s


def post_text(message: dict[str, Any]) -> str:
    return " ".join(str(b.get("text", {}).get("text", "")) for b in message.get("blocks", []))


async def test_a_device_silent_for_weeks_and_an_ios_removal_are_warned_about(
    stack: Stack,
) -> None:
    assert stack.graph is not None
    pixel = next(d for d in stack.fleet if d["id"] == PIXEL)
    last = stack.clock.now() - timedelta(days=40)
    stack.graph.add_device({**pixel, "lastSyncDateTime": last.strftime("%Y-%m-%dT%H:%M:%SZ")})
    assert (await stack.driver.command("UALICE", "reset PIXEL8-ALICE")).status == 200
    await stack.settle()
    text = post_text(stack.approvals()[-1])
    assert "last checked in with Intune 40 days ago" in text
    assert "unlock token" not in text
    assert (await stack.driver.command("UALICE", f"reset {IPHONE}")).status == 200
    await stack.settle()
    text = post_text(stack.approvals()[-1])
    assert "wrong unlock token" in text and "checked in" not in text
