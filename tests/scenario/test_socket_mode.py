"""Socket Mode, attacked and redelivered: the same guarantees as the HTTP door.

The bot connects to the Slack emulator's Socket Mode endpoint (apps.connections.open, then a
WebSocket) and the test plays Slack: it delivers envelopes, delivers them again (the same
envelope id; the same payload on a new connection after a ``refresh_requested`` disconnect),
retries events, and sends envelopes of every wrong shape.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.clock import ManualClock
from bot.domain import State
from bot.roles import FileRoleDirectory
from handlers.bootstrap import start
from handlers.demo.slack_emulator import APP_TOKEN, SlackEmulator
from handlers.runtime.server import Running
from tests.scenario.harness import APPROVALS, ROLES, workspace


@dataclass
class SocketStack:
    emu: SlackEmulator
    bot: Running
    clock: ManualClock

    async def settle(self) -> None:
        await self.bot.settle()

    def approvals_posts(self) -> list[Any]:
        return [c for c in self.emu.calls_to("chat.postMessage")
                if c.params.get("channel") == APPROVALS]

    async def requests(self) -> list[Any]:
        return await self.bot.services.store.in_states(list(State), limit=100)


class Errors(logging.Handler):
    """Every ERROR record, from any logger (slack_sdk's and Bolt's included)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def errors() -> Iterator[Errors]:
    handler = Errors()
    logging.getLogger().addHandler(handler)
    try:
        yield handler
    finally:
        logging.getLogger().removeHandler(handler)


@pytest.fixture
async def sock(tmp_path: Path, secret: str) -> AsyncIterator[SocketStack]:
    clock = ManualClock()
    async with SlackEmulator() as emu:
        settings = workspace(emu, tmp_path, secret, slack_app_token=APP_TOKEN,
                             host="127.0.0.1", port=0)
        bot = await start(settings, clock=clock,
                          backend=SimulatedBackend(demo_fleet(), clock=clock),
                          roles=FileRoleDirectory(ROLES), sleep=clock.sleep)
        try:
            await emu.wait_connected()
            yield SocketStack(emu, bot, clock)
        finally:
            await bot.stop()


def command(emu: SlackEmulator, user: str, text: str) -> dict[str, Any]:
    return {"token": "legacy", "team_id": "T0TEAM", "channel_id": "C0GENERAL", "user_id": user,
            "command": "/passcode", "text": text, "api_app_id": "A0PASSCODE",
            "response_url": emu.response_url(f"sm{time.monotonic_ns()}"),
            "trigger_id": emu.new_trigger_id(user)}


def click(emu: SlackEmulator, user: str, action: str, request_id: str) -> dict[str, Any]:
    return {"type": "block_actions", "team": {"id": "T0TEAM"},
            "user": {"id": user, "team_id": "T0TEAM"}, "api_app_id": "A0PASSCODE",
            "trigger_id": emu.new_trigger_id(user), "channel": {"id": APPROVALS},
            "container": {"type": "message", "message_ts": "1.0", "channel_id": APPROVALS},
            "actions": [{"type": "button", "action_id": action, "block_id": "b",
                         "value": request_id, "action_ts": f"{time.time():.6f}"}]}


def home_event(user: str, event_id: str) -> dict[str, Any]:
    return {"type": "event_callback", "team_id": "T0TEAM", "api_app_id": "A0PASSCODE",
            "event_id": event_id, "event_time": int(time.time()),
            "event": {"type": "app_home_opened", "user": user, "tab": "home"}}


async def deliver(stack: SocketStack, kind: str, payload: Any, **kw: Any) -> str:
    envelope_id = await stack.emu.deliver(kind, payload, **kw)
    await stack.emu.acked(envelope_id)
    await stack.settle()
    return envelope_id


async def test_a_command_and_an_approval_over_socket_mode_reset_the_device(
    sock: SocketStack,
) -> None:
    await deliver(sock, "slash_commands", command(sock.emu, "UALICE", "reset PIXEL8-ALICE"))
    [request] = await sock.requests()
    assert request.state is State.AWAITING_APPROVAL and len(sock.approvals_posts()) == 1

    await deliver(sock, "interactive", click(sock.emu, "UANNA", "approve", request.id))
    assert (await sock.bot.services.store.get(request.id)).state is State.COMPLETED


async def test_an_envelope_delivered_twice_creates_one_request(sock: SocketStack) -> None:
    payload = command(sock.emu, "UALICE", "reset PIXEL8-ALICE")
    first = await deliver(sock, "slash_commands", payload)
    await deliver(sock, "slash_commands", payload, envelope_id=first)

    assert len(await sock.requests()) == 1
    assert len(sock.approvals_posts()) == 1
    assert len(sock.emu.calls_to("response_url")) == 1  # no "already in progress" either


async def test_the_same_payload_on_a_new_connection_after_a_refresh_creates_one_request(
    sock: SocketStack,
) -> None:
    payload = command(sock.emu, "UALICE", "reset PIXEL8-ALICE")
    await deliver(sock, "slash_commands", payload)
    await sock.emu.refresh_sockets()
    await deliver(sock, "slash_commands", payload)  # a new envelope id, on the new connection

    assert len(await sock.requests()) == 1
    assert len(sock.approvals_posts()) == 1
    assert len(sock.emu.calls_to("response_url")) == 1


async def test_a_redelivered_approve_click_decides_once(sock: SocketStack) -> None:
    await deliver(sock, "slash_commands", command(sock.emu, "UALICE", "reset PIXEL8-ALICE"))
    [request] = await sock.requests()
    approve = click(sock.emu, "UANNA", "approve", request.id)
    await deliver(sock, "interactive", approve)
    await deliver(sock, "interactive", approve)

    trail = await sock.bot.services.store.audit_trail(request.id)
    assert [e.action for e in trail].count("approved") == 1
    assert sock.emu.calls_to("chat.postEphemeral") == []  # nobody told "already decided"


async def test_an_event_retry_is_processed_only_if_the_first_delivery_was_not(
    sock: SocketStack,
) -> None:
    await deliver(sock, "events_api", home_event("UALICE", "EvA"), retry_attempt=1)
    assert len(sock.emu.calls_to("views.publish")) == 1  # the retry was the only delivery

    await deliver(sock, "events_api", home_event("UBOB", "EvB"))
    await deliver(sock, "events_api", home_event("UBOB", "EvB"), retry_attempt=1)
    assert len(sock.emu.calls_to("views.publish")) == 2


async def alter(db: Path, sql: str) -> None:
    """Change the bot's SQLite file from outside while the bot runs. A schema change from a
    second connection can meet SQLITE_BUSY at once in WAL mode (no busy wait when the bot's
    connections hold the schema), so try again for a few seconds."""
    for _ in range(100):
        try:
            with contextlib.closing(sqlite3.connect(db, timeout=5)) as conn, conn:
                conn.execute(sql)
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc):
                raise
            await asyncio.sleep(0.05)
    raise AssertionError(f"the database stayed locked: {sql}")


async def test_an_envelope_whose_work_cannot_be_committed_is_not_acked_and_comes_again(
    sock: SocketStack, tmp_path: Path
) -> None:
    """An ack means the work is safe: with the inbox refusing writes, no ack (Slack sends the
    envelope again); once the database takes it, the redelivery is processed, once."""
    db = tmp_path / "bot.db"
    await alter(db, "CREATE TRIGGER refuse BEFORE INSERT ON inbox"
                    " BEGIN SELECT RAISE(ABORT, 'refused'); END")
    payload = command(sock.emu, "UALICE", "reset PIXEL8-ALICE")
    envelope_id = await sock.emu.deliver("slash_commands", payload)
    with pytest.raises(TimeoutError):
        await sock.emu.acked(envelope_id, timeout=1.0)
    await sock.settle()
    assert await sock.requests() == []

    await alter(db, "DROP TRIGGER refuse")
    await deliver(sock, "slash_commands", payload, envelope_id=envelope_id, retry_attempt=1)
    await deliver(sock, "slash_commands", payload, envelope_id=envelope_id, retry_attempt=2)
    assert len(await sock.requests()) == 1 and len(sock.approvals_posts()) == 1


WRONG_SHAPES: dict[str, dict[str, Any]] = {
    "payload-a-list": {"type": "slash_commands", "payload": [1, 2]},
    "payload-a-number": {"type": "interactive", "payload": 7},
    "payload-null": {"type": "events_api", "payload": None},
    "payload-a-string": {"type": "interactive", "payload": "payload"},
    "unknown-type": {"type": "hello_again", "payload": {}},
    "type-not-a-string": {"type": ["interactive"], "payload": {}},
    "retry-not-a-number": {"type": "events_api", "payload": home_event("UALICE", "EvX"),
                           "retry_attempt": "soon"},
    "user-a-number": {"type": "interactive", "payload": {"type": "block_actions", "user": 5,
                                                          "actions": [{"action_id": "approve"}]}},
    "actions-an-object": {"type": "interactive",
                          "payload": {"type": "block_actions", "actions": {"action_id": "x"}}},
    "actions-empty": {"type": "interactive", "payload": {"type": "block_actions",
                                                         "actions": []}},
    "view-a-string": {"type": "interactive", "payload": {"type": "view_submission",
                                                         "view": "reset_modal"}},
    "event-a-list": {"type": "events_api",
                     "payload": {"type": "event_callback", "event": ["app_home_opened"]}},
    "channel-a-list": {"type": "slash_commands",
                       "payload": {"command": "/passcode", "channel": [1], "text": "help"}},
}


@pytest.mark.parametrize("envelope", WRONG_SHAPES.values(), ids=WRONG_SHAPES.keys())
async def test_an_envelope_of_the_wrong_shape_is_acked_and_refused_without_a_traceback(
    sock: SocketStack, errors: Errors, envelope: dict[str, Any]
) -> None:
    envelope_id = f"env-bad-{time.monotonic_ns()}"
    raw = json.dumps({"envelope_id": envelope_id, **envelope})
    await sock.settle()  # (what the bot asks Slack at its start: users.list)
    before = len(sock.emu.calls)
    await sock.emu.deliver("interactive", None, raw=raw)
    await sock.emu.acked(envelope_id)
    await sock.settle()

    assert await sock.requests() == []
    ignored = ("socket_mode", "auth", "apps")
    assert not [c for c in sock.emu.calls[before:] if not c.method.startswith(ignored)]
    assert errors.records == [], [r.getMessage() for r in errors.records]
    # and the connection still works
    await deliver(sock, "slash_commands", command(sock.emu, "UALICE", "reset PIXEL8-ALICE"))
    assert len(await sock.requests()) == 1


async def test_under_socket_mode_port_serves_the_health_routes_and_nothing_else(
    sock: SocketStack,
) -> None:
    import aiohttp

    url = f"http://127.0.0.1:{sock.bot.port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(url + "/readyz") as r:
            assert r.status == 200 and (await r.json())["ok"] is True
        async with http.get(url + "/healthz") as r:
            assert r.status == 200
        body = json.dumps(command(sock.emu, "UALICE", "reset PIXEL8-ALICE"))
        async with http.post(url + "/slack/events", data=body) as r:
            assert r.status == 404  # no door: Slack reaches this bot over its socket only
    assert await sock.requests() == []
