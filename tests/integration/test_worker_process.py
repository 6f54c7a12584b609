"""The web and worker roles as separate processes: the front acks in this process
(`start(role="web")`), the work runs in a real `passcode-bot worker` process (the simulated
backend, SQLite, Slack calls), and nothing passes between them but the database. The worker
is stopped (SIGSTOP) or killed (SIGKILL) at will: an ack loses nothing, and Show passcode, the
picker modal and the picker's options never wait for it. The last tests run `passcode-bot
serve` itself, to see the acks and their worker child live and die together."""

from __future__ import annotations

import asyncio
import contextlib
import json
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
from bot.jobs import HEARTBEAT_S
from handlers.bootstrap import start
from handlers.demo.driver import SlackDriver
from handlers.demo.slack_emulator import SlackEmulator
from handlers.runtime.process import RESTART_MAX_S
from handlers.runtime.server import Running
from handlers.slack.health import HEARTBEAT_MAX_AGE_S
from tests.served import REPO, App, free_port, until

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVALS = "C0APPROVALS"
ROLES = "roles:\n  Helpdesk Operator: [UHELEN]\n"

if not sys.platform.startswith("linux"):
    pytest.skip("stops and kills processes by signal, reads /proc", allow_module_level=True)


class WorkerProcess(App):
    """`passcode-bot worker` in a child process, configured by its environment only."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        super().__init__(env, logs, port=0)

    async def start(self) -> None:
        self.starts += 1
        path = self.logs / f"worker-{self.starts}.log"
        with path.open("wb") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "handlers.cli", "worker", cwd=REPO, env=self.env,
                stdout=log, stderr=asyncio.subprocess.STDOUT)
        await until("the worker to start",
                    lambda: "worker running" in path.read_text(errors="replace"))
        # and to have learnt every member's locale (a worker stopped inside that write would
        # hold SQLite's write lock)
        await until("the worker's users.list", lambda: "users.list" in path.read_text(
            errors="replace").split("worker running", 1)[-1])

    def signal(self, signum: int) -> None:
        assert self.process is not None
        self.process.send_signal(signum)

    async def kill(self) -> None:
        if self.process is not None:
            await super().kill()

    def log(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in sorted(self.logs.glob("worker-*")))


@dataclass
class World:
    emu: SlackEmulator
    front: Running
    worker: WorkerProcess
    driver: SlackDriver
    db: Path

    def db_rows(self, sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as conn:
            return list(conn.execute(sql))

    def request_id(self) -> str:
        [post] = self.emu.messages(APPROVALS)
        return str(next(b["elements"][0]["value"] for b in post["blocks"]
                        if b["type"] == "actions"))


def values_for(emu: SlackEmulator, tmp_path: Path, secret: str) -> dict[str, str]:
    roles = tmp_path / "roles.yaml"
    roles.write_text(ROLES, encoding="utf-8")
    return {"SLACK_BOT_TOKEN": emu.token, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": emu.api_url, "APPROVALS_CHANNEL": APPROVALS, "PORT": "0",
            "HOST": "127.0.0.1", "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.db'}",
            "PASSCODE_BOT_SECRET": secret, "ROLES_FILE": str(roles)}


def settings_of(values: dict[str, str], **extra: Any) -> Settings:
    """The Settings these environment variables make (the front's: the worker reads them)."""
    fields: dict[str, Any] = {k.lower(): v for k, v in values.items()}
    return Settings(_env_file=None, **fields, **extra)


@contextlib.asynccontextmanager
async def open_world(tmp_path: Path, secret: str) -> AsyncIterator[World]:
    async with SlackEmulator() as emu:
        emu.add_channel(APPROVALS, name="passcode-approvals")
        emu.add_user("UALICE", name="alice", email="alice@example.com")
        emu.add_user("UHELEN", name="helen", email="helen@example.com")
        emu.add_user("USVEN", name="sven", email="sven@example.com", locale="sv-SE")
        values = values_for(emu, tmp_path, secret)
        settings = settings_of(values)
        front = await start(settings, role="web")
        env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields
               and k.lower() not in Settings.model_fields}
        worker = WorkerProcess({**env, **values}, tmp_path)
        try:
            await worker.start()
            async with SlackDriver(front.url, SIGNING_SECRET, emu) as driver:
                yield World(emu, front, worker, driver, tmp_path / "bot.db")
        finally:
            await worker.kill()
            await front.stop()


@pytest.fixture
async def world(tmp_path: Path, secret: str) -> AsyncIterator[World]:
    async with open_world(tmp_path, secret) as opened:
        yield opened


async def completed(world: World) -> str:
    """A reset of Alice's phone, approved and completed through the worker process."""
    answer = await world.driver.command("UALICE", "reset PIXEL8-ALICE")
    assert answer.status == 200 and answer.body == ""  # the ack; the rest comes after
    await until("the approvals post", lambda: world.emu.messages(APPROVALS), world.worker)
    request_id = world.request_id()
    answer = await world.driver.click("UHELEN", "approve", request_id, channel_id=APPROVALS)
    assert answer.status == 200
    await until("the result DM", lambda: "Show passcode" in json.dumps(
        world.emu.messages("UALICE")), world.worker)
    assert world.db_rows("SELECT state FROM requests") == [("completed",)]
    return request_id


def passcode_in(view: dict[str, Any]) -> str:
    return str(next(b["text"]["text"] for b in view["blocks"] if b["type"] == "header"))


async def test_a_reset_goes_from_command_to_passcode_through_a_worker_process(
        world: World) -> None:
    request_id = await completed(world)
    await world.driver.click("UALICE", "reveal", request_id, channel_id="D-ignored")
    await world.front.settle()  # Show passcode runs here, in the acking process
    passcode = passcode_in(world.emu.calls_to("views.open")[-1].params["view"])
    assert passcode.isdigit()
    assert passcode not in world.worker.log()
    assert world.db_rows("SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == [(0,)]


async def test_show_passcode_the_picker_and_its_options_never_wait_for_the_worker(
        world: World) -> None:
    """The worker stopped (as a busy, idle-priority one would be): the trigger-bound work
    and the options loads are the acking process's own."""
    request_id = await completed(world)
    world.worker.signal(signal.SIGSTOP)
    try:
        answer = await world.driver.click("UALICE", "reveal", request_id, channel_id="D-x")
        assert answer.status == 200
        await world.front.settle()
        assert passcode_in(world.emu.calls_to("views.open")[-1].params["view"]).isdigit()

        assert (await world.driver.command("UALICE", "reset")).status == 200
        await world.front.settle()
        picker = world.emu.calls_to("views.open")[-1].params["view"]
        assert picker["callback_id"] == "reset_modal"

        options = (await world.driver.options("UHELEN", "device_pick", "kiosk")).json()
        assert options["options"] and all("KIOSK" in o["text"]["text"]
                                          for o in options["options"])
    finally:
        world.worker.signal(signal.SIGCONT)


async def test_a_help_waits_for_no_worker_and_the_worker_learns_the_locale(
        world: World) -> None:
    """Gunnar joined the workspace after the worker learnt every member's locale. The worker
    stopped: his first help is answered at once, in English, and his locale lookup waits in
    the inbox (the front asks Slack nothing); once the worker runs again it looks him up,
    and the front's next help is in his language (it reads the locales every few seconds)."""
    world.emu.add_user("UGUNNAR", name="gunnar", email="gunnar@example.com", locale="sv-SE")
    world.worker.signal(signal.SIGSTOP)
    try:
        first = (await world.driver.command("UGUNNAR", "help")).json()
        await world.front.settle()
        assert not world.emu.calls_to("users.info")
        assert world.db_rows("SELECT kind FROM inbox WHERE done_at IS NULL") == [
            ("LearnLocale",)]
    finally:
        world.worker.signal(signal.SIGCONT)
    assert "ask for a passcode reset" in first["text"]
    for _ in range(200):  # the worker's own pace (it was stopped): up to 10 s
        if world.db_rows("SELECT COUNT(*) FROM locales WHERE user_id = 'UGUNNAR'") == [(1,)]:
            break
        await asyncio.sleep(0.05)
    await world.front.settle()  # (which reads the locales the worker learnt)
    second = (await world.driver.command("UGUNNAR", "help")).json()
    assert "lösenkod" in second["text"].lower()


async def test_a_worker_killed_right_after_the_ack_loses_nothing(world: World) -> None:
    world.worker.signal(signal.SIGSTOP)  # it cannot claim what is acked now
    answer = await world.driver.command("UALICE", "reset PIXEL8-ALICE")
    assert answer.status == 200
    assert world.db_rows("SELECT kind FROM inbox WHERE done_at IS NULL") == [("ResetCommand",)]
    await world.worker.kill()  # SIGKILL, stopped: nothing of it runs again
    assert world.db_rows("SELECT COUNT(*) FROM requests") == [(0,)]

    await world.worker.start()
    await until("the approvals post", lambda: world.emu.messages(APPROVALS), world.worker)
    await until("the reply", lambda: world.emu.calls_to("response_url"), world.worker)
    await asyncio.sleep(0.5)  # room for a second run, were there one
    assert len(world.emu.messages(APPROVALS)) == 1
    assert len(world.emu.calls_to("response_url")) == 1
    assert world.db_rows("SELECT COUNT(*) FROM requests") == [(1,)]
    assert world.db_rows("SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == [(0,)]


async def test_a_forged_inbox_item_is_refused_in_one_line_and_the_worker_carries_on(
        world: World) -> None:
    with contextlib.closing(sqlite3.connect(world.db)) as conn, conn:
        conn.executemany("INSERT INTO inbox (delivery, kind, item) VALUES (?, ?, ?)", [
            ("forged-1", "Nope", json.dumps({"type": "Nope", "fields": {"user": "UALICE"}})),
            ("forged-2", "Decide", json.dumps({"type": "Decide", "fields": {
                "user": "UHELEN", "request": "R-1", "approve": "1", "reply_to": {}}})),
        ])
    await world.driver.command("UALICE", "reset PIXEL8-ALICE")
    await until("the approvals post", lambda: world.emu.messages(APPROVALS), world.worker)
    await until("every item done", lambda: world.db_rows(
        "SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == [(0,)], world.worker)
    refused = [line for line in world.worker.log().splitlines() if "refused an inbox" in line]
    assert len(refused) == 2, world.worker.log()
    assert "no such work: 'Nope'" in refused[0] and "approve is not a bool" in refused[1]
    assert world.worker.running


async def test_a_bad_setting_is_refused_in_one_line_and_leaves_no_worker(
    tmp_path: Path, secret: str
) -> None:
    async with SlackEmulator() as emu:
        values = values_for(emu, tmp_path, secret)
        settings = settings_of(values, fleet_file=tmp_path / "missing.yaml")
        with pytest.raises(ConfigError, match=r"^FLEET_FILE: ") as refused:
            await start(settings, role="serve")
        assert "\n" not in str(refused.value)
    assert not _children(os.getpid())


# -- `passcode-bot serve`: the acks and their worker child live and die together -------------


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
    emu: SlackEmulator

    @property
    def process(self) -> asyncio.subprocess.Process:
        assert self.app.process is not None
        return self.app.process


@pytest.fixture
async def served(tmp_path: Path, secret: str) -> AsyncIterator[Served]:
    async with SlackEmulator() as emu:
        emu.add_channel(APPROVALS, name="passcode-approvals")
        emu.add_user("UALICE", name="alice", email="alice@example.com")
        emu.add_user("UHELEN", name="helen", email="helen@example.com")
        env = {**os.environ, **values_for(emu, tmp_path, secret)}
        port = free_port()
        app = App({**env, "PORT": str(port)}, tmp_path, port)
        await app.start()
        try:
            async with aiohttp.ClientSession() as http, http.get(f"{app.url}/healthz") as r:
                assert (await r.json())["background_work"] == "process"
            assert app.process is not None
            [worker] = _children(app.process.pid)
            yield Served(app, worker, emu)
        finally:
            await app.kill()


async def test_sigterm_stops_both_processes_cleanly(served: Served) -> None:
    served.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(served.process.wait(), 30) == 0
    await until("the worker to exit", lambda: not _alive(served.worker))


async def _get(url: str) -> tuple[int, Any]:
    async with aiohttp.ClientSession() as http, http.get(url) as r:
        return r.status, await r.json()


async def _ready(url: str) -> bool:
    return (await _get(f"{url}/readyz"))[0] == 200


async def test_a_dead_worker_shows_on_readyz_not_healthz_and_is_started_again(
        served: Served) -> None:
    """`serve`'s worker child SIGKILLed, and every one started in its place as soon as it
    appears: /healthz answers 200 all along (the process serves), /readyz 503 naming the
    heartbeat within 30 s, `passcode-bot status` says not ready; a command is acknowledged
    meanwhile. Left alone, the worker is started again: /readyz 200, the command's work done."""
    url, pid = served.app.url, served.process.pid
    await until("ready", lambda: _ready(url), served.app)
    killing = True

    async def kill_every_worker() -> None:
        while killing:
            for child in _children(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child, signal.SIGKILL)
            await asyncio.sleep(0.02)

    killer = asyncio.create_task(kill_every_worker())
    try:
        async with SlackDriver(url, SIGNING_SECRET, served.emu) as driver:
            assert (await driver.command("UALICE", "reset PIXEL8-ALICE")).status == 200

        async def not_ready() -> bool:
            health, _ = await _get(f"{url}/healthz")
            assert health == 200  # alive: it serves
            status, body = await _get(f"{url}/readyz")
            return status == 503 and body["checks"]["worker"] != "ok"

        await until("/readyz to report the dead worker", not_ready, served.app,
                    wait=HEARTBEAT_MAX_AGE_S + HEARTBEAT_S + 5)
        status = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "handlers.cli", "status", "--url", f"{url}/readyz",
            cwd=REPO, env=served.app.env, stdout=asyncio.subprocess.PIPE)
        out, _ = await status.communicate()
        assert status.returncode == 1 and out.decode().startswith("not ready"), out
        assert served.emu.messages(APPROVALS) == []  # acknowledged, waiting in the database
    finally:
        killing = False
        await killer

    await until("/readyz 200 again", lambda: _ready(url), served.app,
                wait=RESTART_MAX_S + 30)
    [worker] = _children(pid)
    assert worker != served.worker and served.app.running
    await until("the command's approvals post", lambda: served.emu.messages(APPROVALS),
                served.app)
    assert "starting the worker process again" in served.app.log()


async def test_the_worker_dies_with_its_front(served: Served) -> None:
    served.process.kill()  # SIGKILL: no shutdown code runs in the front
    await served.process.wait()
    await until("the worker to die too", lambda: not _alive(served.worker), wait=10)
