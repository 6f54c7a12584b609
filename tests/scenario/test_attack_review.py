"""Holes found by an attacker's review of the trust boundary (2026-12), each tried again here
over real HTTP against the running app; each test failed before its fix."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.backends.simulated import demo_fleet
from bot.clock import ManualClock
from bot.domain import State
from handlers.bootstrap import start
from handlers.demo.driver import SlackDriver
from handlers.demo.slack_emulator import SlackEmulator
from tests.fakes import graph_api as emu
from tests.fakes.graph_api import GraphEmulator
from tests.scenario.harness import APPROVALS, PIXEL, SIGNING_SECRET, Stack, make_stack, workspace
from tests.scenario.test_happy_paths import approval_request_id

ANNA_UPN = "anna.k@contoso.onmicrosoft.com"  # her Entra UPN; her mail is anna@example.com


async def graph_roles_stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    """The whole bot on Intune with ROLES_SOURCE=graph: anna is an Intune Administrator in
    Entra, UPN anna.k@contoso.onmicrosoft.com, mail anna@example.com (her Slack email)."""
    clock = ManualClock()
    fleet = demo_fleet()
    graph = GraphEmulator.with_test_ca(fleet)
    anna = graph.add_user(ANNA_UPN, mail="anna@example.com")
    graph.assign_directory_role(anna, emu.INTUNE_ADMINISTRATOR)
    await graph.start()
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        os.environ[name] = str(graph.ca_bundle)
    try:
        async with SlackEmulator() as slack:
            settings = workspace(slack, tmp_path, secret, slack_signing_secret=SIGNING_SECRET,
                                 port=0, host="127.0.0.1", backend="intune",
                                 roles_source="graph",
                                 background_work="inline",
                                 **graph.settings_overrides())
            bot = await start(settings, clock=clock, sleep=clock.sleep)
            try:
                async with SlackDriver(bot.url, SIGNING_SECRET, slack) as driver:
                    yield Stack(slack, bot, driver, clock, bot.services.backend, graph, fleet)
            finally:
                await bot.stop()
    finally:
        await graph.stop()


@pytest.fixture
async def graph_stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in graph_roles_stack(tmp_path, secret):
        yield s


async def test_with_graph_roles_a_second_account_under_the_upn_cannot_approve_its_own_request(
    graph_stack: Stack,
) -> None:
    """Four eyes with ROLES_SOURCE=graph (product.md: "compare user ids, normalised emails and,
    with Entra, object ids"). anna's Slack account has her mail address; her second Slack
    account has her UPN. Both resolve to the one Entra user (UPN first, then mail) and so hold
    Intune Administrator; comparing Slack ids and emails alone let the second account approve
    anna's own request. The Entra object ids are the same: refused."""
    stack = graph_stack
    stack.emu.add_user("UANNA2", name="anna-admin", email=ANNA_UPN)

    await stack.driver.command("UANNA", "reset PIXEL8-ALICE")
    await stack.settle()
    request_id = approval_request_id(stack)

    await stack.driver.click("UANNA2", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()

    request = await stack.store.get(request_id)
    assert request.state is State.AWAITING_APPROVAL, (
        f"anna's second account decided her own request: {request.state}, "
        f"decided by {request.decided_by}")
    assert stack.resets() == 0


@pytest.fixture
async def intune_stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret, kind="intune"):
        yield s


async def test_a_device_that_changed_hands_before_the_approval_is_not_reset_for_its_old_owner(
    intune_stack: Stack,
) -> None:
    """alice (no role) asks for a reset of her Pixel; before anyone decides, Intune hands the
    device to bob (its primary user is now bob). anna approves what the post still calls
    alice's device. Without a second look at the owner when the reset runs, bob's device was
    reset and its passcode went to alice; now the request fails and nothing is reset."""
    stack = intune_stack
    await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
    await stack.settle()
    request_id = approval_request_id(stack)

    assert stack.graph is not None
    [pixel] = [d for d in stack.fleet if d["id"] == PIXEL]
    stack.graph.add_device({**pixel, "userPrincipalName": "bob@example.com",
                            "emailAddress": "bob@example.com", "userDisplayName": "bob"})

    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()

    request = await stack.store.get(request_id)
    assert stack.resets() == 0 and not request.has_passcode, (
        f"bob's device was reset for alice: {request.state}, passcode for alice: "
        f"{request.has_passcode}")


@pytest.fixture
async def simulated_stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    async for s in make_stack(tmp_path, secret):
        yield s


async def test_a_deactivated_approver_cannot_approve_in_the_minutes_after(
    simulated_stack: Stack,
) -> None:
    """anna (Intune Administrator) checks her queue, then is off-boarded: her Slack account is
    deactivated (or made a guest). Identity remembers members for TTL_S (10 minutes), so a
    click in that window (an open client, a script with her session) approved a reset; a
    decision now asks Slack again who is clicking."""
    stack = simulated_stack
    await stack.driver.command("UANNA", "status")  # anna acts: she is looked up, a member
    await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
    await stack.settle()
    request_id = approval_request_id(stack)

    stack.emu.add_user("UANNA", name="anna", email="anna@example.com", deleted=True)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()

    request = await stack.store.get(request_id)
    assert request.state is State.AWAITING_APPROVAL, (
        f"a deactivated account decided: {request.state} by {request.decided_by}")
    assert stack.resets() == 0


async def test_a_role_named_as_a_permitted_one_that_lacks_reset_passcode_approves_nothing(
    graph_stack: Stack,
) -> None:
    """With ROLES_SOURCE=graph a role counts by what Intune lets it do, never by its name:
    dan's custom roles are called "Help Desk Operator" (a name in PERMITTED_ROLES, a built-in
    one's) and "Denied" (Reset passcode allowed, then not allowed), neither of which can
    reset a passcode in Intune. His signed click on Approve of anna's request decides nothing,
    and his own /reset of alice's phone stores nothing."""
    stack = graph_stack
    assert stack.graph is not None
    dan = stack.graph.add_user("dan@example.com")
    impostor = stack.graph.add_role_definition("Help Desk Operator", [])
    denied = stack.graph.add_role_definition("Denied", [emu.RESET_PASSCODE_ACTION],
                                             not_allowed_actions=[emu.RESET_PASSCODE_ACTION])
    group = "ffffffff-0000-4000-8000-000000000001"
    stack.graph.add_group_member(group, dan)
    for definition in (impostor, denied):
        stack.graph.assign_intune_role(definition, [group], scope_type="allDevices")
    stack.emu.add_user("UDAN", name="dan", email="dan@example.com")

    await stack.driver.command("UANNA", "reset PIXEL8-ALICE")  # anna: Intune Administrator
    await stack.settle()
    request_id = approval_request_id(stack)
    assert (await stack.driver.click("UDAN", "approve", request_id,
                                     channel_id=APPROVALS)).status == 200
    await stack.settle()

    request = await stack.store.get(request_id)
    assert request.state is State.AWAITING_APPROVAL, (
        f"a role without Reset passcode decided: {request.state} by {request.decided_by}")
    assert stack.resets() == 0
    [told] = stack.emu.calls_to("chat.postEphemeral")
    assert told.params["user"] == "UDAN"
    assert "None of your Intune roles" in told.params["text"]  # named as Intune names them
    assert "so you cannot approve or deny passcode resets" in told.params["text"]

    await stack.driver.command("UDAN", "reset PIXEL8-ALICE")
    await stack.settle()
    assert len(stack.approvals()) == 1  # no request of dan's
    assert await stack.store.by_requester("UDAN") == []
