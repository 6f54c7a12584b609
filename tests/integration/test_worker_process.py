"""BACKGROUND_WORK=process: the front acks in this process, the work runs in a real worker
process (the simulated backend, SQLite, Slack calls), and the two talk over their socket.
The last tests run `passcode-bot serve` itself, to see the two live and die together."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.config import ConfigError, Settings
from handlers.bootstrap import start
from handlers.demo.driver import SlackDriver
from handlers.demo.slack_emulator import SlackEmulator
from handlers.runtime.link import from_wire, to_wire
from handlers.runtime.process import WorkerExited, WorkerProcess
from handlers.runtime.server import Running
from tests.served import App, free_port, until

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVALS = "C0APPROVALS"
ROLES = "roles:\n  Helpdesk Operator: [UHELEN]\n"


@dataclass
class World:
    emu: SlackEmulator
    front: Running
    driver: SlackDriver
    db: Path

    @property
    def worker(self) -> WorkerProcess:
        assert isinstance(self.front.runtime, WorkerProcess)
        return self.front.runtime

    def db_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True) as conn:
            return list(conn.execute(sql))


def settings_for(emu: SlackEmulator, tmp_path: Path, secret: str, **extra: Any) -> Settings:
    roles = tmp_path / "roles.yaml"
    roles.write_text(ROLES, encoding="utf-8")
    values: dict[str, Any] = {
        "slack_bot_token": emu.token, "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": emu.api_url, "approvals_channel": APPROVALS, "port": 0,
        "host": "127.0.0.1",
        "database_url": f"sqlite:///{tmp_path / 'bot.db'}", "passcode_bot_secret": secret,
        "roles_file": roles, **extra,
    }
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@contextlib.asynccontextmanager
async def open_world(tmp_path: Path, secret: str) -> AsyncIterator[World]:
    async with SlackEmulator() as emu:
        emu.add_channel(APPROVALS, name="passcode-approvals")
        emu.add_user("UALICE", name="alice", email="alice@example.com")
        emu.add_user("USVEN", name="sven", email="sven@example.com", locale="sv-SE")
        emu.add_user("UHELEN", name="helen", email="helen@example.com")
        settings = settings_for(emu, tmp_path, secret)
        assert settings.background_work == "process"  # the default
        front = await start(settings)
        try:
            async with SlackDriver(front.url, SIGNING_SECRET, emu) as driver:
                yield World(emu, front, driver, tmp_path / "bot.db")
        finally:
            await front.stop()


@pytest.fixture
async def world(tmp_path: Path, secret: str) -> AsyncIterator[World]:
    async with open_world(tmp_path, secret) as opened:
        yield opened


def test_settings_cross_to_the_worker_unchanged(tmp_path: Path, secret: str) -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        slack_bot_token="xoxb-1", slack_signing_secret="s3cret", approvals_channel="C1",
        passcode_bot_secret=secret, approval_timeout="90m", passcode_ttl="2d",
        roles_file=tmp_path / "roles.yaml", permitted_roles=["Intune Administrator"],
        database_url=f"sqlite:///{tmp_path / 'x.db'}",
    )
    again = from_wire(json.loads(json.dumps(to_wire(settings))))
    assert again == settings
    assert again.passcode_bot_secret is not None
    assert again.passcode_bot_secret.get_secret_value() == secret


async def test_a_reset_goes_from_command_to_passcode_through_the_worker(
    tmp_path: Path, secret: str, capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The worker starts inside the test, at INFO, so what it logs to stderr is in this
    test's capture (a fixture's worker writes to the setup phase's, which capfd never reads)."""
    caplog.set_level(logging.INFO)  # the worker takes the front's level
    async with open_world(tmp_path, secret) as world:
        front, emu, driver = world.front, world.emu, world.driver
        # The front holds no core of its own: the worker is another process.
        assert world.worker.pid != os.getpid() and world.worker.proc.returncode is None

        answer = await driver.command("UALICE", "reset PIXEL8-ALICE")
        assert answer.status == 200 and answer.body == ""  # the ack; the rest comes after
        await front.settle()
        [post] = emu.messages(APPROVALS)
        request_id = next(b["elements"][0]["value"] for b in post["blocks"]
                          if b["type"] == "actions")
        assert [r[0] for r in world.db_rows("SELECT state FROM requests")] == ["awaiting_approval"]

        answer = await driver.click("UHELEN", "approve", request_id, channel_id=APPROVALS)
        assert answer.status == 200
        await until("the request to complete", lambda: world.db_rows(
            "SELECT 1 FROM requests WHERE state = 'completed'"))
        await until("the result DM", lambda: "Show passcode" in json.dumps(emu.messages("UALICE")))

        await driver.click("UALICE", "reveal", request_id, channel_id="D-ignored")
        await front.settle()
        modal = emu.calls_to("views.open")[-1].params["view"]
        passcode = next(b["text"]["text"] for b in modal["blocks"] if b["type"] == "header")
        assert passcode.isdigit()
        logs = capfd.readouterr()
        assert " INFO " in logs.err, logs.err  # the worker's own log lines are in the capture
        assert passcode not in logs.out + logs.err  # the worker logs to the same stderr
        assert passcode not in json.dumps([c.params for c in emu.calls if c.method != "views.open"])


async def test_picker_options_come_from_the_worker(world: World) -> None:
    mine = (await world.driver.options("UALICE", "device_pick", "")).json()["options"]
    fleet = (await world.driver.options("UHELEN", "device_pick", "")).json()["options"]
    assert mine and all("ALICE" in o["text"]["text"].upper() for o in mine)
    assert len(fleet) > len(mine)
    found = (await world.driver.options("UHELEN", "device_pick", "kiosk")).json()["options"]
    assert [o["text"]["text"] for o in found] and all("KIOSK" in o["text"]["text"] for o in found)


async def test_the_front_learns_a_locale_from_the_worker(world: World) -> None:
    first = (await world.driver.command("USVEN", "help")).json()
    await world.front.settle()  # the worker looks the locale up and tells the front
    second = (await world.driver.command("USVEN", "help")).json()
    assert first["text"] != second["text"]
    assert "lösenkod" in second["text"].lower()


async def test_a_failure_in_the_worker_reaches_the_person_as_an_apology(world: World) -> None:
    world.emu.fail_next("users.info", error="fatal_error", times=5)
    await world.driver.command("UALICE", "status")
    await world.front.settle()
    [said] = [c.params["text"] for c in world.emu.calls_to("response_url")]
    assert "Slack did not tell me who you are" in said and "Traceback" not in said


async def test_a_forged_work_item_is_refused_in_one_line_and_the_worker_carries_on(
    tmp_path: Path, secret: str, capfd: pytest.CaptureFixture[str]
) -> None:
    """Over the socket, an unknown kind or a field of the wrong type is refused, not run.
    (The worker starts here, not in a fixture, so that capfd holds its stderr.)"""
    forged = [{"type": "Nope", "fields": {"user": "UALICE"}},
              {"type": "Decide", "fields": {"user": "UHELEN", "request": "R-1", "approve": "1",
                                            "reply_to": {}}}]
    async with open_world(tmp_path, secret) as world:
        for item in forged:
            world.worker._send({"op": "work", "item": item})
        await world.front.settle()
        refused = [line for line in capfd.readouterr().err.splitlines() if "work item" in line]
        assert len(refused) == 2
        assert "no such work: 'Nope'" in refused[0] and "approve is not a bool" in refused[1]
        assert not world.emu.calls and world.worker.proc.returncode is None

        await world.driver.command("UALICE", "reset PIXEL8-ALICE")
        await world.front.settle()
        assert [r[0] for r in world.db_rows("SELECT state FROM requests")] == ["awaiting_approval"]


async def test_a_bad_setting_is_refused_in_one_line_and_leaves_no_worker(
    tmp_path: Path, secret: str
) -> None:
    async with SlackEmulator() as emu:
        settings = settings_for(emu, tmp_path, secret, fleet_file=tmp_path / "missing.yaml")
        with pytest.raises(ConfigError, match=r"^FLEET_FILE: ") as refused:
            await start(settings)
        assert "\n" not in str(refused.value)
    assert not _children(os.getpid())


async def health(world: World) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(f"{world.front.url}/healthz") as r:
        return r.status, dict(await r.json())


async def test_without_its_worker_the_front_says_so_and_answers_options_empty(
    world: World,
) -> None:
    assert await health(world) == (200, {"ok": True, "backend": "simulated",
                                         "background_work": "process"})
    world.worker.proc.kill()
    await asyncio.wait_for(world.worker.stopped.wait(), 10)
    status, said = await health(world)
    assert status == 503 and said["ok"] is False
    answer = await world.driver.options("UALICE", "device_pick", "")
    assert answer.status == 200 and answer.json() == {"options": []}


async def test_a_worker_that_cannot_start_is_reported_in_one_line(tmp_path: Path,
                                                                   secret: str) -> None:
    async with SlackEmulator() as emu:
        settings = settings_for(emu, tmp_path, secret, database_url=f"sqlite:///{tmp_path}")
        with pytest.raises(WorkerExited, match=r"^the worker process could not start: "
                                               r"OperationalError: unable to open database"):
            await start(settings)
    assert not _children(os.getpid())


# -- `passcode-bot serve`: two processes that live and die together ---------------------------


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children", encoding="ascii") as f:
        return [int(p) for p in f.read().split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@dataclass
class Served:
    app: App
    worker: int

    @property
    def process(self) -> asyncio.subprocess.Process:
        assert self.app.process is not None
        return self.app.process


@pytest.fixture
async def served(tmp_path: Path, secret: str) -> AsyncIterator[Served]:
    if not sys.platform.startswith("linux"):
        pytest.skip("reads /proc")
    async with SlackEmulator() as emu:
        emu.add_channel(APPROVALS, name="passcode-approvals")
        env = {**os.environ, "HOST": "127.0.0.1",
               "SLACK_BOT_TOKEN": emu.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
               "SLACK_API_URL": emu.api_url, "APPROVALS_CHANNEL": APPROVALS,
               "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}", "PASSCODE_BOT_SECRET": secret}
        port = free_port()
        app = App({**env, "PORT": str(port)}, tmp_path, port)
        await app.start()
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{app.url}/healthz") as r:
                assert (await r.json())["background_work"] == "process"
            assert app.process is not None
            [worker] = _children(app.process.pid)
            yield Served(app, worker)
        finally:
            await app.kill()


async def test_sigterm_stops_both_processes_cleanly(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(served.process.wait(), 30) == 0
    await until("the worker to exit", lambda: not _alive(served.worker))


async def test_the_front_stops_with_status_1_when_its_worker_dies(served: Served) -> None:
    os.kill(served.worker, signal.SIGKILL)
    assert await asyncio.wait_for(served.process.wait(), 30) == 1
    assert "the worker process is gone" in served.app.log()


async def test_the_worker_dies_with_its_front(served: Served) -> None:
    served.process.kill()  # SIGKILL: no shutdown code runs in the front
    await served.process.wait()
    await until("the worker to die too", lambda: not _alive(served.worker), wait=10)
