"""Attacks from the review of issues 11 and 12, through Slack over real HTTP against the Graph
fake over HTTPS: each tries a way round Intune's own rules that the bot must not open."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.domain import State
from tests.fakes import graph_api as emu
from tests.scenario.harness import APPROVALS, PIXEL, Stack
from tests.scenario.test_no_enumeration import PIXEL_ENTRY
from tests.scenario.test_whose_device import COPE, PIXEL_AAD, SWEDEN, ask, rbac_stack, told


@pytest.fixture
async def rbac(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in rbac_stack(tmp_path, secret):
        assert s.graph is not None
        s.graph.clock = s.clock  # Intune's clock moves with ours
        yield s


async def test_try_again_is_checked_for_the_device_as_an_approval_is(rbac: Stack) -> None:
    """hugo is a Help Desk Operator for Sweden only: he may not approve alice's work-profile
    phone, which is outside his scope. rolf (all devices) approves it, the answer is lost and
    the request is unconfirmed; hugo's Try again must be refused like his approval would be,
    and nothing more reaches Intune."""
    assert rbac.graph is not None
    outside = await ask(rbac, "COPE-ALICE-A54")
    await rbac.driver.click("UHUGO", "approve", outside, channel_id=APPROVALS)
    await rbac.settle()
    assert (await rbac.store.get(outside)).state is State.AWAITING_APPROVAL  # as Intune says
    rbac.graph.lose_answer_next("resetPasscode", 504)
    rbac.graph.listing_delay_reads = 1000
    rbac.graph.fail_next("remoteActionAudits", 403, times=1000)
    await rbac.driver.click("UROLF", "approve", outside, channel_id=APPROVALS)
    await rbac.settle()
    assert (await rbac.store.get(outside)).state is State.UNCONFIRMED
    posts = len(rbac.graph.graph_requests("resetPasscode", method="POST"))

    rbac.graph.listing_delay_reads = 0
    await rbac.driver.click("UHUGO", "try_again", outside, channel_id=APPROVALS)
    await rbac.settle()
    request = await rbac.store.get(outside)
    assert request.state is State.UNCONFIRMED
    assert len(rbac.graph.graph_requests("resetPasscode", method="POST")) == posts
    assert "scope groups hold neither this device" in told(rbac, "UHUGO")


async def test_a_scoped_help_desk_operator_cannot_ask_for_a_device_outside_their_scope(
    rbac: Stack,
) -> None:
    """Whoever asks for someone else's device reads its passcode once it is approved. hugo's
    Intune role covers Sweden only: asking for alice's work-profile phone (outside his scope)
    must be refused before any approvals post, as Intune would not let him reset it or read
    its passcode; asking for her Swedish Pixel is fine."""
    await rbac.driver.command("UHUGO", "reset COPE-ALICE-A54")
    await rbac.settle()
    assert rbac.approvals() == []
    assert await rbac.store.by_requester("UHUGO") == []
    assert "scope groups hold neither this device" in told(rbac, "UHUGO") + json.dumps(
        [c.params for c in rbac.emu.calls if c.method == "response_url"])

    await rbac.driver.command("UHUGO", "reset PIXEL8-ALICE")
    await rbac.settle()
    assert len(rbac.approvals()) == 1


async def test_a_scoped_help_desk_operators_picker_offers_no_device_outside_their_scope(
    rbac: Stack,
) -> None:
    """Intune shows hugo (Sweden only) no device outside his scope; the picker should not
    either: names, serials and owners of other countries' phones are not his to browse."""
    offered = json.dumps((await rbac.driver.options("UHUGO", "device_pick", "ALICE")).json())
    assert PIXEL in offered  # his scope holds alice's Pixel
    assert COPE not in offered


# -- the scoped approver's picker and App Home queue (the fix of the test above) ----------------

GALAXY = {**PIXEL_ENTRY, "id": "5a1a4a4a-1111-4222-8333-944445555666", "deviceName": "GALAXY-SVEN",
          "serialNumber": "R58SVEN0001", "azureADDeviceId": "7e1d2c3b-4a5b-4c6d-8e9f-0a1b2c3d4e60"}


async def picked(stack: Stack, user: str, text: str) -> str:
    return json.dumps((await stack.driver.options(user, "device_pick", text)).json())


async def home(stack: Stack, user: str) -> str:
    await stack.driver.event({"type": "app_home_opened", "user": user, "tab": "home"})
    await stack.settle()
    return json.dumps(stack.emu.home(user))


async def test_a_scoped_help_desk_operators_app_home_queue_shows_no_request_outside_their_scope(
    rbac: Stack,
) -> None:
    """alice asks for her work-profile phone (outside hugo's Sweden scope) and her Pixel
    (inside): hugo's approvals queue in App Home lists the Pixel's request only; rolf's (all
    devices) lists both."""
    outside = await ask(rbac, "COPE-ALICE-A54")
    inside = await ask(rbac, "PIXEL8-ALICE")
    hugo = await home(rbac, "UHUGO")
    assert inside in hugo
    assert outside not in hugo and "COPE-ALICE-A54" not in hugo
    rolf = await home(rbac, "UROLF")
    assert inside in rolf and outside in rolf


async def test_a_tenant_wide_administrator_still_sees_every_device_and_request(
    rbac: Stack,
) -> None:
    """gina is Global Administrator (active, tenant-wide Entra role): no scope narrows her
    picker or her queue."""
    assert rbac.graph is not None
    gina = rbac.graph.add_user("gina@example.com")
    rbac.graph.assign_directory_role(gina, emu.GLOBAL_ADMINISTRATOR)
    rbac.emu.add_user("UGINA", name="gina", email="gina@example.com")
    offered = await picked(rbac, "UGINA", "ALICE")
    assert PIXEL in offered and COPE in offered
    outside = await ask(rbac, "COPE-ALICE-A54")
    assert outside in await home(rbac, "UGINA")


async def test_a_device_added_to_the_scope_group_is_offered_once_the_scope_is_read_again(
    rbac: Stack,
) -> None:
    """sven's new phone is listed by Intune but in no scope group: hugo is not offered it.
    Once its Entra device joins the Sweden group, hugo's picker offers it when his scope is
    next read (it is cached for a minute), with no restart."""
    assert rbac.graph is not None
    rbac.graph.add_device(GALAXY)
    await rbac.backend.refresh_index()  # type: ignore[attr-defined]
    assert GALAXY["id"] not in await picked(rbac, "UHUGO", "GALAXY")
    assert GALAXY["id"] in await picked(rbac, "UROLF", "GALAXY")  # it is in the index
    rbac.graph.add_group_member(SWEDEN, rbac.graph.add_entra_device(GALAXY["azureADDeviceId"]))
    rbac.clock.advance(timedelta(minutes=2))
    assert GALAXY["id"] in await picked(rbac, "UHUGO", "GALAXY")


async def test_the_scope_groups_members_are_read_past_the_first_page(rbac: Stack) -> None:
    """Graph pages a group's transitiveMembers: the Sweden group's first members are users
    with no device here, the Pixel's Entra device comes on a later page."""
    assert rbac.graph is not None
    rbac.graph.member_page_max = 1
    for n in range(3):
        user = rbac.graph.add_user(f"se{n}@example.com",
                                   id=f"00000000-0000-4000-8000-00000000000{n}")
        rbac.graph.add_group_member(SWEDEN, user)
    offered = await picked(rbac, "UHUGO", "ALICE")
    assert PIXEL in offered and COPE not in offered
    assert len(rbac.graph.graph_requests("transitiveMembers")) >= 4


async def test_a_device_whose_scope_tags_the_operator_lacks_is_not_offered(rbac: Stack) -> None:
    """The Pixel is in hugo's scope group but carries only scope tag 7, which his assignment
    (Default) does not: Intune would hide it from him, and so does the picker."""
    assert rbac.graph is not None
    rbac.graph.add_device({**PIXEL_ENTRY, "azureADDeviceId": PIXEL_AAD, "roleScopeTagIds": ["7"]})
    await rbac.backend.refresh_index()  # type: ignore[attr-defined]
    assert PIXEL not in await picked(rbac, "UHUGO", "ALICE")
    assert COPE not in await picked(rbac, "UHUGO", "ALICE")
    assert [d.id for d in await rbac.backend.search_devices("PIXEL8")] == [PIXEL]  # indexed
