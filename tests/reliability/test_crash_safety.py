"""Crash safety of the real app: `python -m handlers.cli serve` runs in a child process against
the Slack and Graph emulators in this one, is killed with SIGKILL at each step of a request's
life, and is started again on the same database. Every time the request finishes exactly once:
one resetPasscode POST reaches Intune, one result DM reaches the requester, and the passcode
can still be shown.

The test learns where the app is from its SQLite file (read-only) and from what reaches the
emulators; it holds the emulators' answers to stop the app at a chosen step.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest

from bot.backends.simulated import demo_fleet
from bot.consistency import check
from bot.storage import Store
from handlers.demo.driver import SlackDriver
from handlers.demo.slack_emulator import Call, SlackEmulator
from tests.fakes.graph_api import GraphEmulator, make_test_ca
from tests.served import WAIT, App, free_port, until

SIGNING_SECRET = "crash-safety-signing-secret-0001"
APPROVALS = "C0APPROVALS"
REQUESTER, APPROVER = "UALICE", "UANNA"
DEVICE_NAME, DEVICE_ID = "PIXEL8-ALICE", "d7d2d617-9d12-4bb2-bb9c-9a4a1a9923be"
ROLES_YAML = "roles:\n  Intune Administrator: [anna@example.com]\n"
HELD = 60.0  # how long the Slack emulator sits on a held call (cut short when it stops)

T = TypeVar("T")


@dataclass
class World:
    slack: SlackEmulator
    graph: GraphEmulator
    app: App
    driver: SlackDriver
    db: Path

    def rows(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        """Read the app's database without disturbing it (read-only, a fresh connection)."""
        if not self.db.exists():
            return []
        connection = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def request(self, request_id: str) -> dict[str, Any]:
        found = self.rows(
            "SELECT state, action_ref, action_started_at, surface FROM requests WHERE id = ?",
            request_id,
        )
        assert found, f"no request {request_id}"
        state, action_ref, started, surface = found[0]
        return {"state": state, "action_ref": action_ref, "action_started_at": started,
                "surface": json.loads(surface)}

    def job_done(self, request_id: str, kind: str, event: str = "") -> bool:
        return bool(self.rows(
            "SELECT 1 FROM jobs WHERE request_id = ? AND kind = ? AND event = ?"
            " AND done_at IS NOT NULL", request_id, kind, event,
        ))

    def backend_actions(self, request_id: str) -> list[str]:
        """The audit trail's notes on the reset: "reset started" or "found after restart"."""
        return [str(r[0]) for r in self.rows(
            "SELECT detail FROM audit WHERE request_id = ? AND action = 'backend_action'"
            " ORDER BY seq", request_id)]

    def jobs_left(self, request_id: str) -> int:
        return len(self.rows("SELECT 1 FROM jobs WHERE request_id = ? AND done_at IS NULL",
                             request_id))

    async def until(self, what: str, probe: Callable[[], T]) -> T:
        return await until(what, probe, self.app)  # type: ignore[no-any-return]

    def result_dms(self, dm_channel: str) -> list[Call]:
        """chat.postMessage calls Slack accepted into the requester's DM carrying the result."""
        return [
            call for call in self.slack.calls_to("chat.postMessage")
            if not call.failed and call.response is not None
            and call.response.get("channel") == dm_channel
            and "Show passcode" in json.dumps(call.params.get("blocks"))
        ]


@pytest.fixture
async def world(tmp_path: Path, secret: str) -> AsyncIterator[World]:
    ca = make_test_ca(tmp_path)
    graph = GraphEmulator.with_test_ca(demo_fleet(), ca=ca)
    for email in ("alice@example.com", "anna@example.com"):  # the people are tenant users
        graph.add_user(email)
    await graph.start()
    roles = tmp_path / "roles.yaml"
    roles.write_text(ROLES_YAML, encoding="utf-8")
    db = tmp_path / "bot.db"
    try:
        async with SlackEmulator() as slack:
            slack.add_channel(APPROVALS, name="passcode-approvals")
            slack.add_user(REQUESTER, name="alice", email="alice@example.com")
            slack.add_user(APPROVER, name="anna", email="anna@example.com")
            port = free_port()
            env = {
                **os.environ,
                "PORT": str(port),
                "SLACK_BOT_TOKEN": slack.token,
                "SLACK_SIGNING_SECRET": SIGNING_SECRET,
                "SLACK_API_URL": slack.api_url,
                "APPROVALS_CHANNEL": APPROVALS,
                "DATABASE_URL": f"sqlite:///{db}",
                "PASSCODE_BOT_SECRET": secret,
                "ROLES_FILE": str(roles),
                "BACKEND": "intune",
                "RESET_GRACE_SECONDS": "1",  # a restart looks no sooner than this after the claim
                **{k.upper(): str(v) for k, v in graph.settings_overrides().items()},
                **{k: str(ca.ca_bundle)
                   for k in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")},
            }
            app = App(env, tmp_path, port)
            await app.start()
            try:
                async with SlackDriver(app.url, SIGNING_SECRET, slack) as driver:
                    yield World(slack, graph, app, driver, db)
            finally:
                await app.kill()
    finally:
        await graph.stop()


# -- the steps of a request -------------------------------------------------------------------


async def request_reset(world: World) -> str:
    """Alice asks; returns the request id once the approvers and Alice have been told."""
    answer = await world.driver.command(REQUESTER, f"reset {DEVICE_NAME}")
    assert answer.status == 200
    found = await world.until("the request to be stored", lambda: world.rows(
        "SELECT id FROM requests WHERE device_id = ?", DEVICE_ID))
    request_id = str(found[0][0])
    await world.until("the approval message and the waiting DM",
                      lambda: world.job_done(request_id, "notify", "approval_requested"))
    return request_id


async def approve(world: World, request_id: str) -> None:
    surface = world.request(request_id)["surface"]
    answer = await world.driver.click(APPROVER, "approve", request_id,
                                      channel_id=surface["approval_channel"],
                                      message_ts=surface["approval_ts"])
    assert answer.status == 200


async def hold_and_release(world: World, request_id: str, slack_method: str) -> None:
    """Let the reset run, but keep the next ``slack_method`` call (after the approval was
    announced) from ever reaching Slack: the app stays in the middle of telling the result."""
    post = world.graph.hold_next("/resetPasscode", method="POST")
    await approve(world, request_id)
    await post.wait_handled(WAIT)
    await world.until("the approval to be announced",
                      lambda: world.job_done(request_id, "notify", "decided"))
    world.slack.fail_next(slack_method, error="internal_error", delay=HELD)
    post.release()
    await world.until("the result to be stored",
                      lambda: world.request(request_id)["state"] == "completed")
    await world.slack.wait_for(slack_method, predicate=lambda c: c.failed, timeout=WAIT)


async def assert_finished_exactly_once(world: World, request_id: str) -> None:
    await world.until("the request to complete with nothing left to do",
                      lambda: world.request(request_id)["state"] == "completed"
                      and world.jobs_left(request_id) == 0)
    assert world.graph.reset_posts(DEVICE_ID) == 1, world.graph.graph_requests("resetPasscode")

    dm = world.request(request_id)["surface"]["dm_channel"]
    assert len(world.result_dms(dm)) == 1
    in_dm = [m for m in world.slack.messages(dm) if "Show passcode" in json.dumps(m.get("blocks"))]
    assert len(in_dm) == 1

    opened = len(world.slack.calls_to("views.open"))
    answer = await world.driver.click(REQUESTER, "reveal", request_id, channel_id=dm,
                                      message_ts=in_dm[0]["ts"])
    assert answer.status == 200
    modal = (await world.slack.wait_for("views.open", count=opened + 1, timeout=WAIT))[-1]
    header = [b for b in modal.params["view"]["blocks"] if b["type"] == "header"]
    assert header and header[0]["text"]["text"] == world.graph.issued_passcode(DEVICE_ID)

    await world.app.kill()
    store = await Store.open(str(world.db))
    try:
        assert await check(store) == []
    finally:
        await store.close()


# -- the kill points --------------------------------------------------------------------------


async def test_killed_after_the_approval_is_recorded(world: World) -> None:
    """(a) Graph is down, so the approved request cannot get further; the app dies there."""
    request_id = await request_reset(world)
    world.graph.set_down(True)
    await approve(world, request_id)
    await world.until("the approval to be recorded",
                      lambda: world.request(request_id)["state"] in {"approved", "executing"})
    await world.app.kill()
    assert world.graph.reset_posts(DEVICE_ID) == 0

    world.graph.set_down(False)
    await world.app.start()
    await assert_finished_exactly_once(world, request_id)
    assert world.backend_actions(request_id) == ["reset started"]


async def test_killed_after_the_reset_started_but_before_it_was_recorded(world: World) -> None:
    """(b) The POST reached Intune and took effect; the app dies before hearing the 204."""
    request_id = await request_reset(world)
    post = world.graph.hold_next("/resetPasscode", method="POST")
    await approve(world, request_id)
    await post.wait_handled(WAIT)
    assert world.graph.reset_posts(DEVICE_ID) == 1
    request = world.request(request_id)
    assert request["state"] == "executing" and request["action_ref"] == ""
    await world.app.kill()
    post.release()

    await world.app.start()
    await assert_finished_exactly_once(world, request_id)
    assert world.backend_actions(request_id) == ["found after restart"]


async def test_killed_after_the_result_was_read(world: World) -> None:
    """(c) The passcode is stored; the app dies updating the approval message, before the DM."""
    request_id = await request_reset(world)
    await hold_and_release(world, request_id, "chat.update")
    await world.app.kill()
    dm = world.request(request_id)["surface"]["dm_channel"]
    assert world.result_dms(dm) == []

    await world.app.start()
    await assert_finished_exactly_once(world, request_id)


async def test_killed_while_the_result_dm_is_being_sent(world: World) -> None:
    """(d) The app dies while its chat.postMessage with the result has not reached Slack."""
    request_id = await request_reset(world)
    await hold_and_release(world, request_id, "chat.postMessage")
    await world.app.kill()
    dm = world.request(request_id)["surface"]["dm_channel"]
    assert world.result_dms(dm) == []

    await world.app.start()
    await assert_finished_exactly_once(world, request_id)
