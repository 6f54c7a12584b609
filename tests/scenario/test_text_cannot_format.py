"""Issue 10, point 7: text a person or Intune controls cannot format in anything the bot sends.

A device whose name, serial number and failure detail try every mrkdwn trick (bold, italic,
strike, links, bare URLs, mentions, broadcasts, code breaks, emoji) goes through the whole flow
over HTTP: request, approvals post, approve, result DM, reveal, /passcode status, App Home; and
typed queries that try the same are echoed back. In every mrkdwn text and every message's
``text`` fallback the emulator recorded, once the code spans are taken out, nothing of the
hostile strings is left: they are shown only inside code spans, exactly as Intune has them
(apart from the backtick, shown as U+02CB).
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.domain import State
from tests.scenario.harness import APPROVALS, Stack, make_stack
from tests.scenario.test_happy_paths import approval_request_id

NAME = ("*Boss* _phone_ ~x~ <https://evil.example|Click> https://evil.example <!channel> "
        "<@UMALLORY> `x` ```y``` :skull:")
SERIAL = "SN*1*_2_~3~`4`<!here>"
HOSTILE_ID = "6f1c2d3e-1111-4000-8000-00000000b055"  # alice's, AE fully managed
FAILING_ID = "6f1c2d3e-2222-4000-8000-00000000fa11"  # bob's, the reset fails
FAILURE = "Intune said *no* _really_ <!channel> <https://evil.example|here> `rm` :fire:"
QUERIES = ["*Boss* <!channel> https://evil.example `x` ~y~ _z_ :skull:",
           "SN*1*_2_ <@UANNA> <#C0GENERAL> ```"]

# What the approver must see: the name as Intune has it, in one code span, each backtick
# shown as U+02CB.
TICK = "\u02cb"
NAME_SHOWN = ("`*Boss* _phone_ ~x~ &lt;https://evil.example|Click&gt; https://evil.example "
              f"&lt;!channel&gt; &lt;@UMALLORY&gt; {TICK}x{TICK} {TICK * 3}y{TICK * 3} :skull:`")
# Pieces of the hostile strings: none may be left once the code spans are taken out.
MARKERS = ["Boss", "phone", "evil", "Click", "skull", "UMALLORY", "<!", "&lt;!", "&lt;@",
           "SN*", "_2_", "~3~", "*no*", "_really_", ":fire:", "<#C0GENERAL", "&lt;#", "~y~", "_z_",
           "`"]
CODE_SPAN = re.compile(r"`[^`]*`")


def device(id_: str, name: str, serial: str, user: str, **extra: Any) -> dict[str, Any]:
    email = f"{user}@example.com"
    return {
        "id": id_, "deviceName": name, "serialNumber": serial, "operatingSystem": "Android",
        "osVersion": "14", "deviceEnrollmentType": "androidEnterpriseFullyManaged",
        "deviceType": "androidEnterprise", "managementAgent": "mdm",
        "managedDeviceOwnerType": "company", "emailAddress": email,
        "userPrincipalName": email, "userDisplayName": "*Owner* <!here>", **extra,
    }


def backend(fleet: list[dict[str, Any]]) -> SimulatedBackend:
    """The fleet on the real clock, its resets done at the first look (the stack's clock is
    its own)."""
    return SimulatedBackend(fleet, pending_for=timedelta(0))


@pytest.fixture
async def stack(tmp_path: Path, secret: str) -> AsyncIterator[Stack]:
    fleet = [*demo_fleet(),
             device(HOSTILE_ID, NAME, SERIAL, "alice"),
             device(FAILING_ID, NAME.replace("Boss", "Boss2"), "SN*F*", "bob",
                    simulate={"fail": FAILURE})]
    async for s in make_stack(tmp_path, secret, backend=backend(fleet)):
        yield s


def mrkdwn_in(value: Any) -> Iterator[str]:
    """Every mrkdwn text object's text in blocks or a view (plain_text shows text as is)."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for inner in value.values():
            yield from mrkdwn_in(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from mrkdwn_in(inner)


def rendered(stack: Stack) -> list[tuple[str, str]]:
    """(method, text) for every mrkdwn text and message ``text`` the bot sent to Slack."""
    out = []
    for call in stack.emu.calls:
        params = call.params
        message = call.method.startswith("chat.") or call.method == "response_url"
        if message and isinstance(params.get("text"), str):
            out.append((call.method, params["text"]))  # the fallback renders as mrkdwn too
        for key in ("blocks", "view"):
            out.extend((call.method, text) for text in mrkdwn_in(params.get(key)))
    return out


def leaks(stack: Stack) -> list[tuple[str, str, str]]:
    """(method, marker, text) wherever a hostile piece is left outside the code spans."""
    found: list[tuple[str, str, str]] = []
    for method, text in rendered(stack):
        outside = CODE_SPAN.sub("", text)
        found.extend((method, m, text[:300]) for m in MARKERS if m in outside)
    return found


def shown_names(stack: Stack) -> list[str]:
    """The device name as each code span holding it reads on screen."""
    spans = [span for _, text in rendered(stack) for span in CODE_SPAN.findall(text)]
    return [html.unescape(s[1:-1]) for s in spans if "Boss" in s]


async def test_a_hostile_device_name_and_serial_format_nothing_anywhere_in_the_flow(
    stack: Stack,
) -> None:
    await stack.driver.event({"type": "app_home_opened", "user": "UANNA", "tab": "home"})
    await stack.driver.command("UALICE", f"reset {HOSTILE_ID}")
    await stack.settle()
    request_id = approval_request_id(stack)
    await stack.driver.command("UALICE", f"reset {SERIAL}")  # already open: names the device
    await stack.driver.event({"type": "app_home_opened", "user": "UANNA", "tab": "home"})
    await stack.settle()
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    request = await stack.store.get(request_id)
    assert request.state is State.COMPLETED and request.device_name == NAME
    await stack.driver.click("UALICE", "reveal", request_id, channel_id="D-ignored")
    await stack.driver.command("UALICE", "status")
    await stack.driver.command("UALICE", f"status {request_id}")
    await stack.driver.event({"type": "app_home_opened", "user": "UALICE", "tab": "home"})
    await stack.settle()

    assert leaks(stack) == []
    approvals = json.dumps(stack.approvals()[-1], ensure_ascii=False)
    assert json.dumps(NAME_SHOWN, ensure_ascii=False)[1:-1] in approvals
    names = shown_names(stack)
    assert names and set(names) == {NAME.replace("`", TICK)}
    assert stack.emu.calls_to("views.open") and stack.emu.home("UANNA") is not None


async def test_a_backend_failure_detail_formats_nothing(stack: Stack) -> None:
    await stack.driver.command("UBOB", f"reset {FAILING_ID}")
    await stack.settle()
    request_id = approval_request_id(stack)
    await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
    await stack.settle()
    request = await stack.store.get(request_id)
    assert request.state is State.FAILED and request.failure_detail == FAILURE
    await stack.driver.command("UBOB", "status")
    await stack.settle()

    assert leaks(stack) == []
    said = json.dumps([stack.dm("UBOB")[-1], stack.approvals()[-1]], ensure_ascii=False)
    assert ("`Intune said *no* _really_ &lt;!channel&gt; &lt;https://evil.example|here&gt; "
            f"{TICK}rm{TICK} :fire:`") in said


@pytest.mark.parametrize("locale", ["en-US", "sv-SE"])
@pytest.mark.parametrize("query", QUERIES)
async def test_a_typed_query_is_echoed_as_a_literal(stack: Stack, query: str, locale: str) -> None:
    stack.emu.add_user("UTYPIST", name="typist", email="alice@example.com", locale=locale)
    await stack.driver.command("UTYPIST", "help")  # learns the locale
    await stack.driver.command("UTYPIST", f"reset {query}")
    await stack.driver.command("UTYPIST", f"status {query}")
    await stack.settle()
    replies = stack.emu.calls_to("response_url")[-2:]
    assert all(r.params.get("blocks") for r in replies)
    assert leaks(stack) == []
    assert all("`" in r.params["text"] for r in replies)  # the query, in a code span
