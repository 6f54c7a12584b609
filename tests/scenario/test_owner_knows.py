"""Issue 10, point 8: the device's owner knows.

The approvals post names the device's owner (its primary user) next to the requester and says
when the requester acts on the owner's behalf; the owner gets a DM when someone else's request
for their device is approved and when it ends, never with the passcode, once however often the
notify job runs."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.domain import State
from handlers.demo.slack_emulator import Call
from handlers.views.i18n import t
from tests.scenario.harness import APPROVALS, Stack, make_stack
from tests.scenario.test_happy_paths import approval_request_id, request_and_approve, reveal


def dm_channel(stack: Stack, user_id: str) -> str | None:
    """The DM channel the bot opened with ``user_id``, if it did."""
    for call in stack.emu.calls_to("conversations.open"):
        if call.params.get("users") == user_id and call.response and call.response.get("ok"):
            return str(call.response["channel"]["id"])
    return None


def calls_to_dm(stack: Stack, user_id: str) -> list[Call]:
    """Every chat.* call the bot made into its DM with ``user_id``, failed ones included."""
    channel = dm_channel(stack, user_id)
    return [c for c in stack.emu.calls
            if c.method.startswith("chat.") and channel and c.params.get("channel") == channel]


def posts_to(stack: Stack, user_id: str) -> list[Call]:
    return [c for c in calls_to_dm(stack, user_id)
            if c.method == "chat.postMessage" and not c.failed]


def header(stack: Stack) -> str:
    """The approvals post's first section: who asks, and whose device it is."""
    return str(stack.approvals()[-1]["blocks"][0]["text"]["text"])


async def helen_resets_alices_phone(stack: Stack) -> tuple[str, str]:
    """helen (helpdesk) asks for a reset of alice's PIXEL, anna approves; the passcode goes to
    helen. Returns (request id, the passcode helen saw)."""
    request_id = await request_and_approve(stack, "UHELEN", "PIXEL8-ALICE")
    assert (await stack.store.get(request_id)).state is State.COMPLETED
    modal = json.loads(await reveal(stack, "UHELEN", request_id))
    passcode = next(b["text"]["text"] for b in modal["blocks"] if b["type"] == "header")
    assert passcode.isdigit()
    return request_id, passcode


async def test_helen_acts_on_behalf_of_alice_and_alice_hears_twice_without_the_passcode(
    stack: Stack,
) -> None:
    await stack.driver.command("UHELEN", "reset PIXEL8-ALICE")
    await stack.settle()
    said = header(stack)
    assert "*Owner:* <@UALICE> (primary user)" in said
    assert "<@UHELEN> acts on behalf of <@UALICE>." in said
    assert posts_to(stack, "UALICE") == []  # nothing yet: not approved

    request_id = approval_request_id(stack)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    modal = json.loads(await reveal(stack, "UHELEN", request_id))
    passcode = next(b["text"]["text"] for b in modal["blocks"] if b["type"] == "header")

    approved, ended = posts_to(stack, "UALICE")
    assert "approved" in approved.params["text"] and "<@UANNA>" in approved.params["text"]
    assert "<@UHELEN>" in approved.params["text"] and "`PIXEL8-ALICE`" in approved.params["text"]
    assert "completed" in ended.params["text"] and request_id in ended.params["text"]
    to_alice = json.dumps([c.params for c in calls_to_dm(stack, "UALICE")])
    assert passcode not in to_alice
    assert "Show passcode" not in to_alice and '"actions"' not in to_alice
    assert "on behalf of <@UALICE>" in header(stack)  # still, once decided


async def test_alice_asking_for_her_own_device_gets_no_owner_dm_and_no_on_behalf_line(
    stack: Stack,
) -> None:
    await request_and_approve(stack, "UALICE", "PIXEL8-ALICE")
    said = header(stack)
    assert "on behalf" not in said and "<@UALICE>" in said and "Owner" in said
    assert len(posts_to(stack, "UALICE")) == 2  # her own waiting and result DMs only
    assert stack.emu.calls_to("users.lookupByEmail") == []


async def test_an_owner_email_in_another_letter_case_is_the_same_person(stack: Stack) -> None:
    """bob's Slack email is Bob@Example.com, the device's primary user bob@example.com."""
    await request_and_approve(stack, "UBOB", "NAVIGATOR-BOB")
    assert "*Owner:* <@UBOB> (primary user) — the requester's own device." in header(stack)
    assert "on behalf" not in header(stack)
    assert len(posts_to(stack, "UBOB")) == 2


async def test_a_notify_job_run_again_sends_the_owner_no_second_dm(stack: Stack) -> None:
    request_id, _ = await helen_resets_alices_phone(stack)
    assert len(posts_to(stack, "UALICE")) == 2
    # The queue runs the decision's and the result's notify jobs again (as after a crash
    # between sending and recording the job done).
    with closing(sqlite3.connect(stack.store.path)) as db:
        run_at = (stack.clock.now() - timedelta(seconds=1)).isoformat()
        changed = db.execute("UPDATE jobs SET done_at = NULL, run_at = ? WHERE kind = 'notify' "
                             "AND request_id = ?", (run_at, request_id)).rowcount
        db.commit()
    assert changed >= 2
    await stack.settle()
    assert len(posts_to(stack, "UALICE")) == 2


async def test_a_failed_owner_dm_is_tried_again_and_arrives_once(stack: Stack) -> None:
    await stack.driver.command("UHELEN", "reset PIXEL8-ALICE")
    await stack.settle()
    stack.emu.fail_next("chat.postMessage")  # the owner's DM on approval: the next post
    await stack.driver.click("UANNA", "approve", approval_request_id(stack), channel_id=APPROVALS)
    await stack.settle()
    for _ in range(5):  # the job's back-off, on the stack's clock
        stack.clock.advance(timedelta(minutes=5))
        await stack.settle()
    failed = [c for c in stack.emu.calls_to("chat.postMessage") if c.failed]
    assert len(failed) == 1 and failed[0].params["channel"] == dm_channel(stack, "UALICE")
    texts = [c.params["text"] for c in posts_to(stack, "UALICE")]
    assert len(texts) == 2 and sum("approved" in text for text in texts) == 1


@pytest.fixture(params=["simulated", "intune"])
async def swedish_alice(
    request: pytest.FixtureRequest, tmp_path: Path, secret: str
) -> AsyncIterator[Stack]:
    """The whole flow, with alice's Slack set to Swedish from before the bot started."""
    async for s in make_stack(tmp_path, secret, kind=request.param, locales={"UALICE": "sv-SE"}):
        yield s


async def test_the_owner_reads_in_their_own_slack_locale(swedish_alice: Stack) -> None:
    stack = swedish_alice
    request_id, _ = await helen_resets_alices_phone(stack)
    approved, ended = (c.params["text"] for c in posts_to(stack, "UALICE"))
    values = {"name": "`PIXEL8-ALICE`", "id": request_id, "requester": "<@UHELEN>"}
    assert approved == t("sv-SE", "owner.approved", approver="<@UANNA>", **values)
    assert ended == t("sv-SE", "owner.completed", **values)


# -- owners Slack does not know, and devices without one -------------------------------------

ZOE = "5b7a0e5c-3333-4000-8000-0000000020e0"  # zoe is not in the Slack workspace


def zoes_phone() -> dict[str, Any]:
    email = "zoe@example.com"
    return {
        "id": ZOE, "deviceName": "PIXEL8-ZOE", "serialNumber": "ZOE123",
        "operatingSystem": "Android", "osVersion": "14",
        "deviceEnrollmentType": "androidEnterpriseFullyManaged", "deviceType": "androidEnterprise",
        "managementAgent": "mdm", "managedDeviceOwnerType": "company",
        "emailAddress": email, "userPrincipalName": email,
    }


@pytest.fixture
async def zoe_stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    backend = SimulatedBackend([*demo_fleet(), zoes_phone()], pending_for=timedelta(0))
    async for s in make_stack(tmp_path, secret, backend=backend):
        yield s


async def test_an_owner_not_in_slack_is_named_by_email_and_gets_no_dm_and_no_retry(
    zoe_stack: Stack, caplog: pytest.LogCaptureFixture,
) -> None:
    stack = zoe_stack
    caplog.set_level(logging.INFO)
    request_id = await request_and_approve(stack, "UHELEN", "PIXEL8-ZOE")
    assert (await stack.store.get(request_id)).state is State.COMPLETED
    assert "on behalf of `zoe@example.com`" in header(stack)
    assert [c.params.get("users") for c in stack.emu.calls_to("conversations.open")] == ["UHELEN"]
    assert len(stack.emu.calls_to("users.lookupByEmail")) == 1
    assert await stack.store.pending_jobs(request_id) == []
    about_owner = [r for r in caplog.records if "owner" in r.getMessage()]
    assert [r.levelno for r in about_owner] == [logging.INFO]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING
                and r.name.startswith(("handlers", "bot"))]


async def test_a_userless_device_is_said_to_have_no_primary_user(stack: Stack) -> None:
    await request_and_approve(stack, "UHELEN", "KIOSK-LOBBY-01")
    assert "no primary user" in header(stack) and "on behalf" not in header(stack)
    assert stack.emu.calls_to("users.lookupByEmail") == []


@pytest.mark.parametrize("account", [
    {"is_email_confirmed": False},  # anyone may have typed that address
    {"team_id": "T0OTHER"},  # another workspace's account with her address
    {"is_restricted": True},  # a guest
    {"is_stranger": True},
])
async def test_an_owner_account_that_is_no_member_by_the_requesters_rule_gets_no_dm(
    stack: Stack, account: dict[str, Any],
) -> None:
    """The Slack account users.lookupByEmail gives for the owner's address is taken for the
    owner only if it meets the rule every requester meets (policy.membership): of this
    workspace, no guest or stranger, its email confirmed. Otherwise the owner is named by
    email and nobody is told about the device."""
    stack.emu.add_user("UALICE", name="alice", email="alice@example.com", **account)
    request_id = await request_and_approve(stack, "UHELEN", "PIXEL8-ALICE")
    assert (await stack.store.get(request_id)).state is State.COMPLETED
    assert "on behalf of `alice@example.com`" in header(stack)
    assert "<@UALICE>" not in header(stack)
    assert dm_channel(stack, "UALICE") is None
    assert await stack.store.pending_jobs(request_id) == []
