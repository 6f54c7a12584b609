"""A person without a role learns nothing about devices that are not theirs, and cannot make
the bot write without bound (issue 10, point 6)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import closing
from pathlib import Path

import pytest

from bot.backends.simulated import FleetEntry, demo_fleet
from tests.scenario.harness import PIXEL, Stack, make_stack

NOT_YOURS = "No device of yours matches"
LOANER = "GALAXY-LOANER"  # two devices by that name, of bob and of carol


def fleet_with_shared_name() -> list[FleetEntry]:
    fleet = demo_fleet()
    pixel = next(d for d in fleet if d["id"] == PIXEL)
    for n, user in enumerate(("bob", "carol")):
        email = f"{user}@example.com"
        fleet.append({**pixel, "id": f"0f0f0f0f-0000-4000-8000-00000000000{n}",
                      "deviceName": LOANER, "serialNumber": f"LOANER{n}SERIAL",
                      "emailAddress": email, "userPrincipalName": email,
                      "userDisplayName": user.title()})
    return fleet


@pytest.fixture(params=["simulated", "intune"])
async def stack(request: pytest.FixtureRequest, tmp_path: Path, secret: str
                ) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret, kind=request.param,
                              fleet=fleet_with_shared_name()):
        yield s


def sent_to_slack(stack: Stack) -> str:
    """Everything the bot sent to Slack (Web API calls and response_url replies)."""
    return json.dumps([c.params for c in stack.emu.calls])


def rows(stack: Stack) -> int:
    with closing(sqlite3.connect(stack.store.path)) as db:
        return int(db.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


def described(device: FleetEntry) -> list[str]:
    """What would give a device away: its name, serial, Intune id and owner."""
    return [device["deviceName"], device["serialNumber"], device["id"],
            device["userPrincipalName"], device["userDisplayName"]]


PIXEL_ENTRY = next(d for d in demo_fleet() if d["id"] == PIXEL)


@pytest.mark.parametrize("query", [
    PIXEL_ENTRY["deviceName"], PIXEL_ENTRY["serialNumber"], PIXEL_ENTRY["id"],
], ids=["by-name", "by-serial", "by-intune-id"])
async def test_someone_without_a_role_asking_for_alices_device_learns_nothing_and_writes_nothing(
    stack: Stack, query: str
) -> None:
    await stack.driver.command("UMALLORY", f"reset {query}")
    await stack.settle()
    [reply] = stack.emu.calls_to("response_url")
    assert f"{NOT_YOURS} `{query}`" in reply.params["text"]
    sent = sent_to_slack(stack)
    for detail in described(PIXEL_ENTRY):
        if detail != query:  # the query itself is said back; nothing else about the device
            assert detail not in sent
    assert "Android" not in sent and "not registered to you" not in sent
    assert rows(stack) == 0


async def test_a_picked_device_id_that_is_not_theirs_is_answered_like_none(stack: Stack) -> None:
    """A picker submission carrying someone else's device id (the picker offers only one's own;
    a stale or crafted one) answers as for a device that does not exist."""
    await stack.driver.submit_view("UMALLORY", "reset_modal", {
        "device": {"device_pick": {"type": "external_select",
                                   "selected_option": {"value": PIXEL}}},
    })
    await stack.settle()
    said = json.dumps(stack.dm("UMALLORY"))
    assert NOT_YOURS in said
    sent = sent_to_slack(stack)
    for detail in described(PIXEL_ENTRY)[:2] + described(PIXEL_ENTRY)[3:]:
        assert detail not in sent
    assert rows(stack) == 0


async def test_a_name_shared_by_others_devices_tells_mallory_nothing_and_bob_only_his_own(
    stack: Stack
) -> None:
    """Two loaners of Bob's and Carol's share a name: Mallory (no role) hears of neither, Bob
    gets his own (Carol's is never mentioned), and an approver still sees both."""
    loaners = [d for d in stack.fleet if d["deviceName"] == LOANER]
    await stack.driver.command("UMALLORY", f"reset {LOANER}")
    await stack.settle()
    [reply] = stack.emu.calls_to("response_url")
    assert f"{NOT_YOURS} `{LOANER}`" in reply.params["text"]
    sent = sent_to_slack(stack)
    for loaner in loaners:
        for detail in described(loaner)[1:]:
            assert detail not in sent
    assert "2 devices match" not in sent
    assert rows(stack) == 0

    stack.emu.clear()
    await stack.driver.command("UBOB", f"reset {LOANER}")
    await stack.settle()
    assert "waiting for an approver" in stack.emu.calls_to("response_url")[0].params["text"]
    [request] = await stack.store.by_requester("UBOB")
    assert request.device_serial == "LOANER0SERIAL"
    assert "LOANER1SERIAL" not in sent_to_slack(stack)

    stack.emu.clear()
    await stack.driver.command("UANNA", f"reset {LOANER}")
    await stack.settle()
    sent = sent_to_slack(stack)
    assert "2 devices match" in sent and "LOANER0SERIAL" in sent and "LOANER1SERIAL" in sent


async def test_refusals_count_toward_the_hourly_cap_and_after_it_nothing_is_written(
    stack: Stack
) -> None:
    cap = stack.service.config.max_requests_per_user_hour
    for _ in range(cap):  # Bob's Windows PC: refused (Intune cannot reset it), and stored
        await stack.driver.command("UBOB", "reset DESKTOP-7F3K2QL")
    await stack.settle()
    assert rows(stack) == cap
    stack.emu.clear()
    for device in ("DESKTOP-7F3K2QL", "NAVIGATOR-BOB"):  # a refusal, and one that would pass
        await stack.driver.command("UBOB", f"reset {device}")
    await stack.settle()
    replies = [c.params["text"] for c in stack.emu.calls_to("response_url")]
    assert len(replies) == 2
    assert all(f"You have asked for {cap} passcode resets in the last hour" in r
               for r in replies)
    assert rows(stack) == cap
