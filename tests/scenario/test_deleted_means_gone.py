"""A deleted passcode is gone from every database file, and a reveal counts only once the
person has seen it (issue 10, point 9)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from datetime import timedelta

import pytest

from bot.domain import State
from tests.conftest import read_db_bytes
from tests.scenario.harness import Stack
from tests.scenario.test_happy_paths import chat_text, request_and_approve, reveal

WINDOW = 16


def sealed_blob(stack: Stack, request_id: str) -> bytes:
    """The sealed passcode as the database file holds it."""
    with closing(sqlite3.connect(stack.store.path)) as db:
        row = db.execute("SELECT sealed_passcode FROM requests WHERE id = ?",
                         (request_id,)).fetchone()
    assert row is not None and row[0] is not None
    return bytes(row[0])


def windows_left(blob: bytes, data: bytes) -> list[int]:
    """Where any 16-byte piece of ``blob`` still appears in ``data``."""
    return [i for i in range(len(blob) - WINDOW + 1) if blob[i:i + WINDOW] in data]


@pytest.mark.parametrize("purged_by", ["sweep", "reveal"])
async def test_after_seven_days_no_piece_of_the_sealed_passcode_is_left_in_any_file(
    stack: Stack, purged_by: str
) -> None:
    """The database, its -wal and its -shm hold no 16-byte window of the sealed passcode once
    it is purged, whether the sweep purged it or a late Show passcode click."""
    request_id = await request_and_approve(stack, "UALICE", "PIXEL8-ALICE")
    blob = sealed_blob(stack, request_id)
    assert len(blob) > WINDOW
    assert windows_left(blob, read_db_bytes(stack.store.path))  # it is there to begin with

    stack.clock.advance(timedelta(days=7))
    if purged_by == "sweep":
        await stack.service.sweep()
    else:
        assert "expired" in await reveal(stack, "UALICE", request_id)
    await stack.settle()

    assert (await stack.store.get(request_id)).state is State.PASSCODE_EXPIRED
    assert windows_left(blob, read_db_bytes(stack.store.path)) == []


async def test_a_show_passcode_click_whose_modal_fails_records_no_reveal_and_says_so(
    stack: Stack
) -> None:
    request_id = await request_and_approve(stack, "UALICE", "PIXEL8-ALICE")
    stack.emu.fail_next("views.open", error="expired_trigger_id")
    await stack.driver.click("UALICE", "reveal", request_id, channel_id="D-ignored")
    await stack.settle()

    request = await stack.store.get(request_id)
    assert request.state is State.COMPLETED and request.reveal_count == 0
    trail = await stack.store.audit_trail(request_id)
    [failed] = [e for e in trail if e.action == "reveal_failed"]
    assert (failed.from_state, failed.to_state) == ("completed", "completed")
    assert failed.detail == "expired_trigger_id" and failed.actor == "UALICE"
    assert not [e for e in trail if e.action == "reveal"]
    [told] = stack.emu.calls_to("chat.postEphemeral")
    assert told.params["user"] == "UALICE"
    assert "could not be opened" in told.params["text"]
    assert "Click Show passcode again" in told.params["text"]

    modal = json.loads(await reveal(stack, "UALICE", request_id))
    passcode = next(b["text"]["text"] for b in modal["blocks"] if b["type"] == "header")
    request = await stack.store.get(request_id)
    assert request.state is State.REVEALED and request.reveal_count == 1
    trail = await stack.store.audit_trail(request_id)
    assert len([e for e in trail if e.action == "reveal"]) == 1
    assert passcode not in chat_text(stack)
    assert all(passcode not in e.detail for e in trail)
