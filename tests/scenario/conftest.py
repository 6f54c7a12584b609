from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.scenario.harness import Stack, make_stack


@pytest.fixture
async def stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret):
        yield s
