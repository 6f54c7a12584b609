"""Who may act, tried from outside over real HTTP: a second Slack account of the requester,
guests, strangers of other organisations, deleted users, bots, unconfirmed emails, lookalike
addresses, and one person sending far too much."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.domain import State
from tests.scenario.harness import APPROVALS, PIXEL, Stack, make_stack
from tests.scenario.test_happy_paths import approval_request_id


def replies(stack: Stack) -> str:
    """Everything the bot said to anyone privately (response_url, ephemeral, DMs)."""
    said = [c.params for c in stack.emu.calls
            if c.method in {"response_url", "chat.postEphemeral"}
            or (c.method == "chat.postMessage" and c.params.get("channel") != APPROVALS)]
    return json.dumps(said, ensure_ascii=False)


async def pending_request(stack: Stack, requester: str = "UANNA",
                          device: str = "PIXEL8-ALICE") -> str:
    await stack.driver.command(requester, f"reset {device}")
    await stack.settle()
    return approval_request_id(stack)


# -- one person, one approver ------------------------------------------------------------------


@pytest.mark.parametrize("email", ["anna@example.com", "Anna@Example.COM", " ANNA@EXAMPLE.COM"])
async def test_a_second_slack_account_with_the_requesters_email_cannot_approve(
    stack: Stack, email: str
) -> None:
    """anna (an Intune administrator, by email) asks; her second account, which holds the same
    role through the same email in another letter case, tries to approve and to deny."""
    stack.emu.add_user("UANNA2", name="anna2", email=email)
    request_id = await pending_request(stack)

    for action in ("approve", "deny"):
        await stack.driver.click("UANNA2", action, request_id, channel_id=APPROVALS)
        await stack.settle()
        assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL
    told = [m["text"] for m in stack.emu.ephemeral_messages("UANNA2")]
    assert len(told) == 2 and all("your own request" in t for t in told)

    await stack.driver.click("UANNA2", "approve", request_id, in_home=True)  # App Home too
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL
    assert stack.resets() == 0


async def test_a_lookalike_address_never_owns_a_device(tmp_path: Any, secret: str) -> None:
    """"straße@…" folds to "strasse@…" under casefold(): the owner of strasse@'s phone it is
    not. Nor is the Kelvin sign a "k"."""
    fleet = [*demo_fleet()]
    owned = [{**d, "userPrincipalName": "strasse@example.com", "emailAddress":
              "strasse@example.com", "deviceName": f"STRASSE-{i}",
              "id": f"0000000{i}-0000-4000-8000-00000000000{i}",
              "serialNumber": f"SER-STR-{i}"}
             for i, d in enumerate(d for d in fleet if d["deviceName"] == "PIXEL8-ALICE")]
    async for stack in make_stack(tmp_path, secret,
                                  backend=SimulatedBackend([*fleet, *owned])):
        stack.emu.add_user("USTRASSE", name="s", email="STRASSE@example.com")
        stack.emu.add_user("USHARP", name="sharp", email="straße@example.com")
        await stack.driver.command("USHARP", "reset STRASSE-0")
        await stack.settle()
        assert stack.approvals() == []
        assert not [r for r in await stack.store.by_requester("USHARP")
                    if r.state is State.AWAITING_APPROVAL]

        await stack.driver.command("USTRASSE", "reset STRASSE-0")  # the owner, in capitals
        await stack.settle()
        assert len(stack.approvals()) == 1


# -- only members act ----------------------------------------------------------------------------

NOT_MEMBERS: dict[str, tuple[dict[str, Any], str]] = {
    "multi-channel-guest": ({"is_restricted": True}, "Guest accounts cannot"),
    "single-channel-guest": ({"is_ultra_restricted": True}, "Guest accounts cannot"),
    "slack-connect-stranger": ({"is_stranger": True}, "its own organisation only"),
    "other-workspace": ({"team_id": "T0ELSEWHERE"}, "its own workspace only"),
    "deleted": ({"deleted": True}, "deactivated"),
    "bot": ({"is_bot": True}, "Bots and apps cannot"),
    "unconfirmed-email": ({"is_email_confirmed": False}, "is not confirmed"),
    "no-email": ({"email": ""}, "did not give me your email"),
}


@pytest.mark.parametrize(("flags", "told"), NOT_MEMBERS.values(), ids=NOT_MEMBERS.keys())
async def test_someone_who_is_not_a_member_can_neither_request_nor_approve(
    stack: Stack, flags: dict[str, Any], told: str
) -> None:
    """Each holds Intune Administrator through anna's email, yet is refused, and told why."""
    flags = dict(flags)  # the parameters are shared between the backends' runs
    email = flags.pop("email", "anna@example.com")
    stack.emu.add_user("UOUTSIDER", name="outsider", email=email, **flags)
    request_id = await pending_request(stack, requester="UALICE")

    await stack.driver.command("UOUTSIDER", f"reset {PIXEL}")
    await stack.driver.click("UOUTSIDER", "approve", request_id, channel_id=APPROVALS)
    await stack.driver.click("UOUTSIDER", "deny", request_id, channel_id=APPROVALS)
    answer = await stack.driver.options("UOUTSIDER", "device_pick", "PIXEL")
    await stack.settle()

    assert answer.json() == {"options": []}
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL
    assert await stack.store.by_requester("UOUTSIDER") == []
    assert len(stack.approvals()) == 1
    assert replies(stack).count(told) == 3, replies(stack)

    await stack.driver.event({"type": "app_home_opened", "user": "UOUTSIDER", "tab": "home"})
    await stack.settle()
    assert told in json.dumps(stack.emu.home("UOUTSIDER"))


async def test_on_enterprise_grid_members_of_the_org_act_and_others_do_not(stack: Stack) -> None:
    stack.emu.enterprise_id = "E0ORG"
    stack.emu.add_user("USISTER", name="sister", email="sister@example.com", team_id="T0SISTER",
                       enterprise_user={"enterprise_id": "E0ORG"})
    stack.emu.add_user("UOTHERORG", name="other", email="anna@example.com",
                       team_id="T0OTHERORG", enterprise_user={"enterprise_id": "E0ELSE"})
    for user in ("UALICE", "UANNA"):  # the workspace's own people are of the org too
        name, email = {"UALICE": ("alice", "alice@example.com"),
                       "UANNA": ("anna", "anna@example.com")}[user]
        stack.emu.add_user(user, name=name, email=email, enterprise_user={"enterprise_id":
                                                                          "E0ORG"})
    request_id = await pending_request(stack, requester="UALICE")
    await stack.driver.click("UOTHERORG", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL

    told = [m["text"] for m in stack.emu.ephemeral_messages("UOTHERORG")]
    assert len(told) == 1 and "its own workspace only" in told[0]

    await stack.driver.command("USISTER", "status")
    await stack.settle()
    assert "no passcode reset requests" in stack.emu.calls_to("response_url")[-1].params["text"]
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.COMPLETED


# -- no amplification ------------------------------------------------------------------------------


async def test_a_person_slack_cannot_identify_costs_one_lookup_however_often_they_ask(
    stack: Stack,
) -> None:
    """In a load run, one person whose users.info failed made the bot call it 39,775 times."""
    stack.emu.fail_next("users.info", error="internal_error", times=1000)
    for _ in range(25):
        await stack.driver.command("UALICE", "help")
        await stack.driver.command("UALICE", "status")
    await stack.settle()
    assert len(stack.emu.calls_to("users.info")) == 1
    assert "did not tell me who you are" in replies(stack)


async def test_a_person_sending_too_much_is_told_to_slow_down_before_any_outbound_call(
    stack: Stack,
) -> None:
    answers = [await stack.driver.command("UALICE", "status") for _ in range(45)]
    await stack.settle()
    slowed = [a for a in answers if "faster than I answer" in a.body]
    assert len(slowed) == 15  # 30 a minute, in bursts of 30
    assert len(stack.emu.calls_to("response_url")) == 30
    assert len(stack.emu.calls_to("users.info")) == 1

    options = [await stack.driver.options("UALICE", "device_pick", "P") for _ in range(130)]
    assert sum(a.json() == {"options": []} for a in options) == 10  # 120 a minute
