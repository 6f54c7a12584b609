"""Whose device it is and who may approve it, through Slack (issue 12, points 1-4): people
ask and click over real HTTP; the device service is the simulated fleet or the Graph fake
over HTTPS, roles a ROLES_FILE or Intune's own RBAC."""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.clock import ManualClock
from bot.domain import State
from handlers.bootstrap import start
from handlers.demo.driver import Answer, SlackDriver
from handlers.demo.slack_emulator import SlackEmulator
from policy.membership import DirectoryEntry
from tests.fakes import graph_api as emu
from tests.fakes.graph_api import GraphEmulator
from tests.scenario.harness import APPROVALS, PIXEL, SIGNING_SECRET, Stack, make_stack, workspace
from tests.scenario.test_happy_paths import approval_request_id

ALICE_ID = "a11ce000-0000-4000-8000-000000000001"
BOB_ID = "b0b00000-0000-4000-8000-000000000002"
COPE = "cb0534d0-57d8-4899-ba87-bd40ce0a4f62"  # alice's corporate work-profile phone
PIXEL_AAD = "3e1d2c3b-4a5b-4c6d-8e9f-0a1b2c3d4e5f"
SWEDEN = "51111111-0000-4000-8000-000000000001"
HELPDESK_SE = "61111111-0000-4000-8000-000000000001"


def ephemerals(stack: Stack) -> str:
    return json.dumps([c.params for c in stack.emu.calls
                       if c.method in {"response_url", "chat.postEphemeral"}])


def told(stack: Stack, user_id: str) -> str:
    return json.dumps([c.params["text"] for c in stack.emu.calls_to("chat.postEphemeral")
                       if c.params.get("user") == user_id])


# -- a former owner and the current one ---------------------------------------------------------


def handed_over_fleet() -> list[dict[str, object]]:
    """The demo fleet, where alice's Pixel has gone to bob: its user fields still say alice."""
    return [{**d, "primaryUserId": BOB_ID} if d["id"] == PIXEL else d for d in demo_fleet()]


@pytest.fixture(params=["simulated", "intune"])
async def handed_over(request: pytest.FixtureRequest, tmp_path: Path, secret: str
                      ) -> AsyncIterator[Stack]:
    fleet = handed_over_fleet()
    if request.param == "simulated":
        users = [DirectoryEntry(ALICE_ID, "alice@example.com", "alice@example.com", "Alice"),
                 DirectoryEntry(BOB_ID, "bob@example.com", "bob@example.com", "Bob")]
        backend = SimulatedBackend(fleet, users=users, pending_for=timedelta(0))
        async for s in make_stack(tmp_path, secret, backend=backend, fleet=fleet):
            yield s
        return
    async for s in make_stack(tmp_path, secret, kind="intune", fleet=fleet):
        assert s.graph is not None
        s.graph.set_primary_user(PIXEL, s.graph.user_id_of("bob@example.com"))
        yield s


async def test_a_former_owner_is_refused_and_the_current_owner_accepted(
    handed_over: Stack,
) -> None:
    stack = handed_over
    await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
    await stack.settle()
    assert "No device of yours matches" in ephemerals(stack)
    assert stack.approvals() == [] and await stack.store.by_requester("UALICE") == []

    await stack.driver.command("UBOB", "reset PIXEL8-ALICE")
    await stack.settle()
    request_id = approval_request_id(stack)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    request = await stack.store.get(request_id)
    assert request.state is State.COMPLETED and stack.resets() == 1


async def test_the_picker_offers_the_phone_to_its_current_owner_only(handed_over: Stack) -> None:
    def offered(answer: Answer) -> str:
        return json.dumps(answer.json())

    assert PIXEL not in offered(await handed_over.driver.options("UALICE", "device_pick", "PIX"))
    assert PIXEL in offered(await handed_over.driver.options("UBOB", "device_pick", "PIX"))


async def test_the_owner_check_before_the_reset_compares_directory_ids(
    tmp_path: Path, secret: str
) -> None:
    """bob asks for his phone; before it runs, Intune makes alice its primary user again
    without touching its user fields (they say alice all along): nothing is reset."""
    async for stack in make_stack(tmp_path, secret, kind="intune", fleet=handed_over_fleet()):
        assert stack.graph is not None
        stack.graph.set_primary_user(PIXEL, stack.graph.user_id_of("bob@example.com"))
        await stack.driver.command("UBOB", "reset PIXEL8-ALICE")
        await stack.settle()
        request_id = approval_request_id(stack)
        stack.graph.set_primary_user(PIXEL, stack.graph.user_id_of("alice@example.com"))
        await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
        await stack.settle()
        request = await stack.store.get(request_id)
        assert (request.state, request.failure_code, stack.resets()) == (
            State.FAILED, "owner_changed", 0)


async def test_the_approvals_post_names_who_can_approve(tmp_path: Path, secret: str) -> None:
    async for stack in make_stack(tmp_path, secret):
        await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
        await stack.settle()
        post = json.dumps(stack.approvals()[-1])
        assert "Who can approve" in post
        assert "<@UHELEN>" in post and "anna@example.com" in post
        assert "Helpdesk Operator" in post


# -- who may approve, as Intune decides ---------------------------------------------------------


async def rbac_stack(tmp_path: Path, secret: str, **overrides: Any) -> AsyncIterator[Stack]:
    """The bot on Intune with ROLES_SOURCE=graph. Alice's Pixel is in the Sweden scope group
    (its Entra device), her work-profile phone is not; hugo is a Help Desk Operator for
    Sweden, rolf a School Administrator for all devices, ruth an Intune Role Administrator
    for all devices; mallory's email is the mail of two Entra users."""
    clock = ManualClock()
    fleet = [{**d, "azureADDeviceId": PIXEL_AAD} if d["id"] == PIXEL else d
             for d in demo_fleet()]
    graph = GraphEmulator.with_test_ca(fleet)
    for name in ("alice", "bob", "anna", "hugo", "rolf", "ruth"):
        graph.add_user(f"{name}@example.com")
    graph.add_user("mallory.a@contoso.onmicrosoft.com", mail="mallory@example.com")
    graph.add_user("mallory.b@contoso.onmicrosoft.com", mail="mallory@example.com")
    graph.add_group_member(SWEDEN, graph.add_entra_device(PIXEL_AAD))
    graph.add_group_member(HELPDESK_SE, graph.user_id_of("hugo@example.com"))
    graph.assign_intune_role(emu.HELP_DESK_OPERATOR, [HELPDESK_SE], resource_scopes=[SWEDEN],
                             display_name="Sweden helpdesk")
    graph.assign_intune_role(emu.SCHOOL_ADMINISTRATOR, [graph.user_id_of("rolf@example.com")],
                             scope_type="allDevices")
    graph.assign_intune_role(emu.INTUNE_ROLE_ADMINISTRATOR,
                             [graph.user_id_of("ruth@example.com")], scope_type="allDevices")
    await graph.start()
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ[name] = str(graph.ca_bundle)
    try:
        async with SlackEmulator() as slack:
            settings = workspace(slack, tmp_path, secret, slack_signing_secret=SIGNING_SECRET,
                                 port=0, host="127.0.0.1", background_work="inline",
                                 backend="intune", roles_source="graph",
                                 **graph.settings_overrides(), **overrides)
            for user_id, name in (("UHUGO", "hugo"), ("UROLF", "rolf"), ("URUTH", "ruth")):
                slack.add_user(user_id, name=name, email=f"{name}@example.com")
            bot = await start(settings, clock=clock, sleep=clock.sleep)
            try:
                async with SlackDriver(bot.url, SIGNING_SECRET, slack) as driver:
                    yield Stack(slack, bot, driver, clock, bot.services.backend, graph, fleet)
            finally:
                await bot.stop()
    finally:
        await graph.stop()


@pytest.fixture
async def rbac(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in rbac_stack(tmp_path, secret):
        yield s


async def ask(stack: Stack, device: str) -> str:
    await stack.driver.command("UALICE", f"reset {device}")
    await stack.settle()
    return approval_request_id(stack)


async def test_a_scoped_help_desk_operator_approves_inside_their_scope_only(rbac: Stack) -> None:
    outside = await ask(rbac, "COPE-ALICE-A54")
    await rbac.driver.click("UHUGO", "approve", outside, channel_id=APPROVALS)
    await rbac.settle()
    assert (await rbac.store.get(outside)).state is State.AWAITING_APPROVAL
    assert "scope groups hold neither this device" in told(rbac, "UHUGO")
    assert "Sweden helpdesk" in told(rbac, "UHUGO")

    inside = await ask(rbac, "PIXEL8-ALICE")
    await rbac.driver.click("UHUGO", "approve", inside, channel_id=APPROVALS)
    await rbac.settle()
    assert (await rbac.store.get(inside)).state is State.COMPLETED


async def test_school_administrator_approves_and_intune_role_administrator_does_not(
    rbac: Stack,
) -> None:
    request_id = await ask(rbac, "COPE-ALICE-A54")
    await rbac.driver.click("URUTH", "approve", request_id, channel_id=APPROVALS)
    await rbac.settle()
    assert (await rbac.store.get(request_id)).state is State.AWAITING_APPROVAL
    assert "Microsoft.Intune_RemoteTasks_ResetPasscode" in told(rbac, "URUTH")
    assert "Role Administrator" in told(rbac, "URUTH")

    await rbac.driver.click("UROLF", "approve", request_id, channel_id=APPROVALS)
    await rbac.settle()
    assert (await rbac.store.get(request_id)).state is State.COMPLETED


async def test_permitted_roles_name_who_of_intune_s_approvers_may_and_add_nobody(
    tmp_path: Path, secret: str,
) -> None:
    """PERMITTED_ROLES names School Administrator and Intune Role Administrator: rolf's School
    Administrator approves; ruth's Intune Role Administrator, named but without Reset passcode
    in its definition, does not (Intune would not let her reset it); hugo's Helpdesk Operator,
    which Intune allows on this device, is not named, so he does not either."""
    named = ["School Administrator", "Intune Role Administrator"]
    async for stack in rbac_stack(tmp_path, secret, permitted_roles=named):
        request_id = await ask(stack, "PIXEL8-ALICE")
        for refused in ("URUTH", "UHUGO"):
            await stack.driver.click(refused, "approve", request_id, channel_id=APPROVALS)
            await stack.settle()
            assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL
            assert "approve" in told(stack, refused).lower()
        assert "Microsoft.Intune_RemoteTasks_ResetPasscode" in told(stack, "URUTH")
        await stack.driver.click("UROLF", "approve", request_id, channel_id=APPROVALS)
        await stack.settle()
        assert (await stack.store.get(request_id)).state is State.COMPLETED


async def test_the_approvals_post_names_the_roles_intune_lets_approve_this_device(
    rbac: Stack,
) -> None:
    await ask(rbac, "PIXEL8-ALICE")
    post = json.dumps(rbac.approvals()[-1])
    assert "Who can approve" in post and "Helpdesk Operator" in post
    assert "School Administrator" in post and "Role Administrator" not in post


async def test_an_email_two_entra_users_share_is_refused_clearly(rbac: Stack) -> None:
    await rbac.driver.command("UMALLORY", f"reset {PIXEL}")
    await rbac.settle()
    said = ephemerals(rbac)
    assert "matches more than one user in the organisation" in said
    assert rbac.approvals() == [] and await rbac.store.by_requester("UMALLORY") == []


async def test_a_slack_email_no_entra_user_has_is_refused_clearly(rbac: Stack) -> None:
    rbac.emu.add_user("UERIN", name="erin", email="erin@example.com")  # no Entra user
    await rbac.driver.command("UERIN", "reset Lumia950-ERIN")
    await rbac.settle()
    assert "matches no user in the organisation" in ephemerals(rbac)
    assert rbac.approvals() == []
