"""The Graph fake says what Intune does with a resetPasscode from its own table, not from the
product's classification, so a product bug shows up as a disagreement (over real HTTPS)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.backends.devices import device_from_graph
from bot.backends.graph import MANAGED_DEVICES, GraphBackend
from bot.ports import ActionState, BackendError, FailureCode
from policy.platforms import Scope, decide
from tests.fakes import graph_api
from tests.integration.test_graph_backend import device

if TYPE_CHECKING:
    from tests.integration.graph_fixtures import EmulatorFactory

pytest_plugins = ["tests.integration.graph_fixtures"]

MakeBackend = Callable[..., GraphBackend]
OURS = {"bot", "policy", "handlers", "tests"}


def test_the_graph_fake_imports_nothing_of_ours() -> None:
    """Not at the top, not inside a function: it cannot borrow the product's decide()."""
    tree = ast.parse(Path(graph_api.__file__).read_text(encoding="utf-8"))
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            imported.add("." * node.level + (node.module or ""))
    ours = {name for name in imported if name.startswith(".") or name.split(".")[0] in OURS}
    assert ours == set()


da7 = device("da7", version="7.0", enrollment="userEnrollment", device_type="android",
             owner="personal")
da6 = device("da6", version="6.0.1", enrollment="userEnrollment", device_type="android",
             owner="personal")
eas_iphone = device("eas-iphone", os_="iOS", version="17.4", enrollment="appleBulkWithUser",
                    device_type="iPhone", agent="eas")
iphone = device("iphone", os_="iOS", version="17.4", enrollment="appleBulkWithUser",
                device_type="iPhone")
user_enrolled_ipad = device("ipad", os_="iPadOS", version="17.1",
                            enrollment="appleAccountDrivenUserEnrollment", device_type="iPad")
cope = device("cope", enrollment="androidEnterpriseCorporateWorkProfile")
mac = device("mac", os_="macOS", version="14.4", enrollment="appleBulkWithUser",
             device_type="macMDM")

# What Intune answers a resetPasscode POST with, written out here for each device.
INTUNE_ANSWERS: list[tuple[str, dict[str, Any], str]] = [
    ("device-admin-7", da7, "refused"),
    ("device-admin-6", da6, "new passcode"),
    ("exchange-activesync-only", eas_iphone, "refused"),
    ("iphone", iphone, "passcode removed"),
    ("ipados-user-enrollment", user_enrolled_ipad, "refused"),
    ("android-corporate-work-profile", cope, "new passcode"),
    ("macos", mac, "refused"),
]


@pytest.mark.parametrize(("graph_json", "answer"), [pytest.param(d, a, id=i)
                                                    for i, d, a in INTUNE_ANSWERS])
async def test_intune_answers_a_reset_post_from_what_it_knows_of_the_device(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, graph_json: dict[str, Any],
    answer: str,
) -> None:
    """Posted straight through the Graph client, past the bot's own check."""
    emulator = await make_emulator([graph_json])
    graph = make_backend(emulator).graph
    response = await graph.request(
        "POST", f"{MANAGED_DEVICES}/{graph_json['id']}/resetPasscode", idempotent=False,
        accept=(400,),
    )
    if answer == "refused":
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "BadRequest"
        assert emulator.action_results(graph_json["id"]) == []
        return
    assert response.status_code == 204
    passcode = emulator.issued_passcode(graph_json["id"])
    assert (passcode is not None) is (answer == "new passcode")


async def test_intune_refuses_a_device_administrator_android_7_reset_the_bot_sent_by_mistake(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """The bot's copy of the device is wrong (it says fully managed), so its own check passes;
    Intune, which knows the device, refuses, and the bot reports that, not a retry."""
    emulator = await make_emulator([da7])
    backend = make_backend(emulator)
    mistaken = device_from_graph({**device("x"), "id": da7["id"]})
    assert decide(mistaken.facts).allowed
    with pytest.raises(BackendError) as caught:
        await backend.start_reset(mistaken, Scope.DEVICE)
    assert caught.value.failure is FailureCode.NOT_SUPPORTED
    assert not caught.value.retryable
    assert "Operation ID" in caught.value.message
    assert emulator.reset_posts(da7["id"]) == 1


async def test_a_device_administrator_android_6_reset_the_bot_allows_ends_with_a_new_passcode(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([da6], action_pending_reads=0)
    backend = make_backend(emulator)
    target = await backend.get_device(da6["id"])
    assert target is not None and decide(target.facts).allowed
    status = await backend.action_status(await backend.start_reset(target, Scope.DEVICE))
    assert status.state is ActionState.DONE
    assert status.passcode is not None
    assert status.passcode == emulator.issued_passcode(da6["id"])
