"""users.list is walked at a worker's start only when no worker walked it to its end within a
day (handlers/runtime/inline.py ``_learn_locales``): a bot started again on its database (a
crash loop, a rolling restart) asks Slack for no member list, and still answers a first help
in the person's language from the locales the last walk stored; a walk a day old is made
again."""

from __future__ import annotations

import contextlib
import json
import logging
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from handlers.views.i18n import t
from tests.scenario.harness import make_stack

SWEDISH = {"UCAROL": "sv-SE"}


def helped_in(answer_body: str) -> str:
    return str(json.loads(answer_body)["text"])


async def test_a_bot_started_again_within_a_day_walks_users_list_no_more(
        tmp_path: Path, secret: str) -> None:
    async for stack in make_stack(tmp_path, secret, locales=SWEDISH):
        assert stack.emu.calls_to("users.list")

    async for stack in make_stack(tmp_path, secret, locales=SWEDISH):
        assert stack.emu.calls_to("users.list") == []
        answer = await stack.driver.command("UCAROL", "help")  # never helped before
        assert helped_in(answer.body) == t("sv-SE", "help")

    db = tmp_path / "bot.db"
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("UPDATE locale_walks SET finished_at = ?",
                     ((datetime.now(UTC) - timedelta(hours=25)).isoformat(),))
    async for stack in make_stack(tmp_path, secret, locales=SWEDISH):
        assert stack.emu.calls_to("users.list")


async def test_a_walk_stamped_in_the_future_is_made_again(tmp_path: Path, secret: str) -> None:
    """(A clock far ahead on the worker that stamped it must not stop every walk for good.)"""
    async for _ in make_stack(tmp_path, secret):
        pass
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as conn, conn:
        conn.execute("UPDATE locale_walks SET finished_at = ?",
                     ((datetime.now(UTC) + timedelta(days=300)).isoformat(),))
    async for stack in make_stack(tmp_path, secret):
        assert stack.emu.calls_to("users.list")


async def test_a_walk_stamped_by_a_clock_a_little_ahead_is_not_made_again(
        tmp_path: Path, secret: str, caplog: pytest.LogCaptureFixture) -> None:
    """(Two workers' clocks a minute or two apart: the other's walk still counts.)"""
    async for _ in make_stack(tmp_path, secret):
        pass
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as conn, conn:
        conn.execute("UPDATE locale_walks SET finished_at = ?",
                     ((datetime.now(UTC) + timedelta(minutes=2)).isoformat(),))
    caplog.set_level(logging.INFO, logger="handlers.runtime.inline")
    async for stack in make_stack(tmp_path, secret):
        assert stack.emu.calls_to("users.list") == []
    said = [r.getMessage() for r in caplog.records if r.name == "handlers.runtime.inline"]
    assert any("users.list was walked" in line for line in said), said  # (not an error)
    assert not any("could not be read" in line for line in said), said


async def test_a_walk_stamp_that_is_no_text_is_walked_again(
        tmp_path: Path, secret: str) -> None:
    """(A stamp someone wrote as a BLOB must not stop every walk for good.)"""
    async for _ in make_stack(tmp_path, secret):
        pass
    with contextlib.closing(sqlite3.connect(tmp_path / "bot.db")) as conn, conn:
        conn.execute("UPDATE locale_walks SET finished_at = ?",
                     (datetime.now(UTC).isoformat().encode(),))
    async for stack in make_stack(tmp_path, secret):
        assert stack.emu.calls_to("users.list")
