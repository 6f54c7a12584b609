from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.scenario.harness import Stack, make_stack


@pytest.fixture(params=["simulated", "intune"])
async def stack(
    request: pytest.FixtureRequest, tmp_path: Path, secret: str
) -> AsyncIterator[Stack]:
    """The whole Slack flow, on the simulated fleet and on Intune (the Graph emulator)."""
    async for s in make_stack(tmp_path, secret, kind=request.param):
        yield s
