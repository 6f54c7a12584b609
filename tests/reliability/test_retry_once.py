"""A Slack retry (X-Slack-Retry-Num: 1, the same signed body) of a reset command, from outside
over real HTTP, against a front that acks (in this process, `role="web"`) and real `passcode-bot
worker` processes doing the work, on SQLite and PostgreSQL:

(a) the retry arrives while the first delivery's inbox item is leased and running (its reply
    to Slack hangs);
(b) it arrives again after that worker was SIGKILLed mid-item, and another worker takes the
    item over once its lease runs out (on PostgreSQL: 60 s; on SQLite at the next worker's
    start) — by then the request was approved and completed by that other worker;
(c) the same delivery reaches two replicas at once (PostgreSQL).

Each time: one request, one reset, one approvals post, one result DM."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from handlers.bootstrap import start
from handlers.demo.driver import SlackDriver
from handlers.demo.slack_emulator import SlackEmulator
from handlers.runtime.inbox import LEASE_S as INBOX_LEASE_S
from handlers.runtime.server import Running
from tests import databases
from tests.integration.test_durable_acks import RETRY, click_body, pair
from tests.integration.test_worker_process import (
    APPROVALS,
    SIGNING_SECRET,
    WorkerProcess,
    settings_of,
    values_for,
)
from tests.served import until

if not sys.platform.startswith("linux"):
    pytest.skip("kills processes by signal", allow_module_level=True)

TAKEOVER = INBOX_LEASE_S + 30  # a killed worker's item comes back after its lease


@dataclass
class Cluster:
    emu: SlackEmulator
    front: Running
    driver: SlackDriver
    url: str
    env: dict[str, str]
    tmp: Path

    def count(self, sql: str) -> int:
        return databases.count(self.url, sql)

    def worker(self, name: str) -> WorkerProcess:
        logs = self.tmp / name
        logs.mkdir()
        return WorkerProcess(self.env, logs)

    def approvals(self) -> list[dict[str, Any]]:
        return self.emu.messages(APPROVALS)

    def result_dms(self) -> list[dict[str, Any]]:
        return [m for m in self.emu.messages("UALICE") if "Show passcode" in json.dumps(m)]

    def request_id(self) -> str:
        [post] = self.approvals()
        return str(next(b["elements"][0]["value"] for b in post["blocks"]
                        if b["type"] == "actions"))


@contextlib.asynccontextmanager
async def cluster(tmp_path: Path, secret: str, database_url: str) -> AsyncIterator[Cluster]:
    async with SlackEmulator() as emu:
        emu.add_channel(APPROVALS, name="passcode-approvals")
        emu.add_user("UALICE", name="alice", email="alice@example.com")
        emu.add_user("UHELEN", name="helen", email="helen@example.com")
        values = {**values_for(emu, tmp_path, secret), "DATABASE_URL": database_url}
        front = await start(settings_of(values), role="web")
        env = {k: v for k, v in os.environ.items() if k not in Settings.model_fields
               and k.lower() not in Settings.model_fields}
        try:
            async with SlackDriver(front.url, SIGNING_SECRET, emu) as driver:
                yield Cluster(emu, front, driver, database_url, {**env, **values}, tmp_path)
        finally:
            await front.stop()


def once(c: Cluster) -> None:
    """One request, one reset (Intune's side: the simulated backend's table, and the
    bot's record of it), one approvals post, one result DM."""
    requests = databases.rows(c.url, "SELECT id, state FROM requests ORDER BY created_at")
    assert len(requests) == 1, requests
    assert c.count("SELECT COUNT(*) FROM simulated_resets") == 1
    assert c.count("SELECT COUNT(*) FROM audit WHERE action = 'backend_action'") == 1
    assert len(c.approvals()) == 1
    assert len(c.result_dms()) == 1
    assert c.count("SELECT COUNT(*) FROM inbox") == 1 + 1  # the command, the approve click


async def test_a_retry_while_the_item_runs_and_after_its_worker_died_is_processed_once(
        tmp_path: Path, secret: str, database_url: str) -> None:
    async with cluster(tmp_path, secret, database_url) as c:
        first, second = c.worker("w1"), c.worker("w2")
        try:
            await first.start()
            # Slack takes the command's reply, but its answer never comes back: the item
            # stays leased and running in the first worker.
            c.emu.fail_next("response_url", accepted=True, delay=600)
            body = c.driver.command_body("UALICE", "reset PIXEL8-ALICE")
            assert (await c.driver.post(body)).status == 200
            await until("the approvals post", c.approvals, first)
            await until("the reply to the command", lambda: c.emu.calls_to("response_url"),
                        first)
            # (a) the retry, while the item is leased and running
            retry = await c.driver.post(body, headers=RETRY)
            assert (retry.status, retry.body) == (200, "")
            assert c.count("SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == 1

            # (b) the worker dies mid-item; the retry comes again; another worker goes on
            first.signal(signal.SIGKILL)
            await first.kill()
            retry = await c.driver.post(body, headers={**RETRY, "X-Slack-Retry-Num": "2"})
            assert (retry.status, retry.body) == (200, "")
            await second.start()
            approve = await c.driver.click("UHELEN", "approve", c.request_id(),
                                           channel_id=APPROVALS)
            assert approve.status == 200
            await until("the result DM", c.result_dms, second)
            await until("the command's item taken over and done", lambda: c.count(
                "SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == 0, second,
                wait=TAKEOVER)
            await asyncio.sleep(1.0)  # room for a second request's post, were there one
            once(c)
            assert databases.rows(c.url, "SELECT state FROM requests") == [("completed",)]
        finally:
            await first.kill()
            await second.kill()


async def test_one_delivery_to_two_replicas_at_once_is_processed_once(
        tmp_path: Path, secret: str, postgres_server: str) -> None:
    with databases.fresh_schema(postgres_server) as url:
        async with pair(tmp_path, secret, url) as p:
            body = p.to_a.command_body("UALICE", "reset PIXEL8-ALICE")
            answers = await asyncio.gather(p.to_a.post(body), p.to_b.post(body, headers=RETRY))
            assert [a.status for a in answers] == [200, 200]
            await p.settle()
            assert p.count("SELECT COUNT(*) FROM inbox") == 1
            assert len(p.emu.messages(APPROVALS)) == 1
            request_id = next(b["elements"][0]["value"]
                              for b in p.emu.messages(APPROVALS)[0]["blocks"]
                              if b["type"] == "actions")
            click = click_body(p.emu, "UHELEN", "approve", request_id)
            answers = await asyncio.gather(p.to_b.post(click), p.to_a.post(click, headers=RETRY))
            assert [a.status for a in answers] == [200, 200]
            for _ in range(100):
                await p.settle()
                if "Show passcode" in json.dumps(p.emu.messages("UALICE")):
                    break
                await asyncio.sleep(0.1)
            assert p.count("SELECT COUNT(*) FROM requests") == 1
            assert p.count("SELECT COUNT(*) FROM simulated_resets") == 1
            assert p.count("SELECT COUNT(*) FROM audit WHERE action = 'backend_action'") == 1
            assert p.count("SELECT COUNT(*) FROM inbox") == 2
            assert len(p.emu.messages(APPROVALS)) == 1
            assert len([m for m in p.emu.messages("UALICE")
                        if "Show passcode" in json.dumps(m)]) == 1
