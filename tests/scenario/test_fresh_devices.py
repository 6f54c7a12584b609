"""A device enrolled after the bot started, on the Intune backend (the Graph emulator over
HTTPS): Slack's options load finds it on the keystroke that names it exactly, and on the next
keystrokes by any part of its name; a person without a role never sees it unless it is theirs."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.scenario.harness import Stack, make_stack


@pytest.fixture
async def intune(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret, kind="intune"):
        yield s


def new_phone(name: str, serial: str, owner: str) -> dict[str, str]:
    return {
        "id": str(uuid.uuid4()), "deviceName": name, "serialNumber": serial,
        "operatingSystem": "Android", "osVersion": "14",
        "deviceEnrollmentType": "androidEnterpriseFullyManaged",
        "deviceType": "androidEnterprise", "managementAgent": "mdm",
        "managedDeviceOwnerType": "company", "userPrincipalName": owner,
        "emailAddress": owner, "userDisplayName": owner.split("@")[0],
    }


async def picked(stack: Stack, user: str, text: str) -> list[str]:
    answer = await stack.driver.options(user, "device_pick", text)
    assert answer.status == 200
    return [o["value"] for o in answer.json()["options"]]


async def test_a_phone_enrolled_after_start_is_found_on_the_next_keystroke(
    intune: Stack,
) -> None:
    stack = intune
    assert stack.graph is not None
    assert await picked(stack, "UANNA", "kiosk")  # the index is loaded now
    phone = new_phone("Dave's new Pixel", "R5CT90FRESH", "dave@example.com")
    stack.graph.add_device(phone)

    # The approver types the serial from the box: the index misses, Intune is asked.
    assert await picked(stack, "UANNA", "r5ct90fresh") == [phone["id"]]
    # Learnt: a part of its name now finds it too, with no further lookup.
    lookups = len(stack.graph.device_lookups())
    assert phone["id"] in await picked(stack, "UANNA", "new pix")
    assert len(stack.graph.device_lookups()) == lookups

    # mallory (no role) and alice (not the owner) never see it, however it is typed.
    for user in ("UMALLORY", "UALICE"):
        for text in ("r5ct90fresh", "new pix", phone["id"], ""):
            assert phone["id"] not in await picked(stack, user, text), (user, text)
    # dave, the owner, does.
    assert phone["id"] in await picked(stack, "UDAVE", "new pix")


async def test_the_helpdesk_gets_only_the_exact_device_when_graph_answers_near_misses(
    intune: Stack,
) -> None:
    """Graph's eq has matched substrings, and an unsupported filter returns every device;
    the options load still lists only the device whose serial is the one typed."""
    stack = intune
    assert stack.graph is not None
    assert await picked(stack, "UHELEN", "kiosk")
    stack.graph.eq_matches_substrings("serialNumber", "deviceName")
    exact = new_phone("Loaner 7", "LN-0007", "erin@example.com")
    near = [new_phone("Loaner 70", "LN-00070", "erin@example.com"),
            new_phone("Loaner 71", "XLN-0007", "erin@example.com")]
    for device in (exact, *near):
        stack.graph.add_device(device)
    assert await picked(stack, "UHELEN", "ln-0007") == [exact["id"]]
    assert any("serialNumber eq 'ln-0007'" in q for q in stack.graph.device_lookups())
    assert await picked(stack, "UHELEN", "loaner 7") == [exact["id"]]  # learnt: just one


async def test_a_new_kiosk_is_found_by_a_shared_word_within_a_minute(intune: Stack) -> None:
    """"kiosk" already names a device, so the index answers and no live lookup runs; the
    minute's delta (devices enrolled since the last full load) brings the new one in."""
    stack = intune
    assert stack.graph is not None
    before = await picked(stack, "UANNA", "kiosk")
    assert len(before) == 1
    kiosk = {**new_phone("Kiosk lobby 2", "KSK-LOBBY-2", "erin@example.com"),
             "enrolledDateTime": stack.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")}
    stack.graph.add_device(kiosk)
    assert await picked(stack, "UANNA", "kiosk") == before  # not yet: no delta due
    stack.clock.advance(timedelta(seconds=61))
    for _ in range(100):
        if kiosk["id"] in await picked(stack, "UANNA", "kiosk"):
            break
        await asyncio.sleep(0.02)
    assert sorted(await picked(stack, "UANNA", "kiosk")) == sorted([*before, kiosk["id"]])
    assert kiosk["id"] not in await picked(stack, "UMALLORY", "kiosk")
