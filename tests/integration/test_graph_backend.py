"""GraphBackend against the Graph emulator over real HTTPS (MSAL + httpx, test CA)."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot.backends.devices import device_from_graph
from bot.backends.graph import GraphBackend
from bot.clock import ManualClock
from bot.ports import ActionState, BackendError, Device, FailureCode
from bot.retry import GRAPH
from policy.platforms import Row, Scope, decide
from tests.fakes.graph_api import retry_after_date

if TYPE_CHECKING:
    from tests.integration.graph_fixtures import EmulatorFactory, RecordingSleep

# The fixtures (test CA, emulator, backend factories) live in graph_fixtures.
pytest_plugins = ["tests.integration.graph_fixtures"]

MakeBackend = Callable[..., GraphBackend]


def device(
    name: str,
    *,
    os_: str = "Android",
    version: str = "14",
    enrollment: str = "androidEnterpriseFullyManaged",
    device_type: str = "androidEnterprise",
    owner: str = "company",
    agent: str = "mdm",
    email: str = "alice@example.com",
    serial: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Graph-shaped managedDevice."""
    return {
        "id": str(uuid.uuid4()),
        "deviceName": name,
        "serialNumber": serial if serial is not None else f"SER-{name.upper()}",
        "operatingSystem": os_,
        "osVersion": version,
        "deviceEnrollmentType": enrollment,
        "deviceType": device_type,
        "managementAgent": agent,
        "managedDeviceOwnerType": owner,
        "userPrincipalName": email,
        "emailAddress": email,
        "userDisplayName": email.split("@")[0].title(),
        **extra,
    }


PLATFORMS: list[tuple[str, dict[str, Any], Row]] = [
    (
        "ios",
        device(
            "iphone",
            os_="iOS",
            version="17.4",
            enrollment="appleBulkWithUser",
            device_type="iPhone",
        ),
        Row.IOS_DEVICE_ENROLLMENT,
    ),
    (
        "ipados-user-enrollment",
        device(
            "ipad",
            os_="iPadOS",
            version="17.1",
            enrollment="appleAccountDrivenUserEnrollment",
            device_type="iPad",
            owner="personal",
        ),
        Row.IOS_USER_ENROLLMENT,
    ),
    (
        "macos",
        device(
            "mac",
            os_="macOS",
            version="14.4",
            enrollment="appleBulkWithUser",
            device_type="macMDM",
        ),
        Row.MACOS,
    ),
    (
        "windows",
        device(
            "laptop",
            os_="Windows",
            version="10.0.22631.2861",
            enrollment="windowsAzureADJoin",
            device_type="desktop",
        ),
        Row.WINDOWS,
    ),
    (
        "windows-phone",
        device(
            "lumia",
            os_="Windows",
            version="10.0.15063",
            enrollment="userEnrollment",
            device_type="windowsPhone",
        ),
        Row.WINDOWS_MOBILE,
    ),
    (
        "ae-dedicated",
        device("kiosk", enrollment="androidEnterpriseDedicatedDevice", email=""),
        Row.AE_DEDICATED,
    ),
    (
        "ae-fully-managed",
        device("cobo", enrollment="androidEnterpriseFullyManaged"),
        Row.AE_FULLY_MANAGED,
    ),
    (
        "ae-cope",
        device("cope", enrollment="androidEnterpriseCorporateWorkProfile"),
        Row.AE_WORK_PROFILE_CORPORATE,
    ),
    (
        "ae-byod",
        device("byod", enrollment="userEnrollment", device_type="androidForWork", owner="personal"),
        Row.AE_WORK_PROFILE_PERSONAL,
    ),
    (
        "da-6",
        device(
            "da6",
            version="6.0.1",
            enrollment="userEnrollment",
            device_type="android",
            owner="personal",
        ),
        Row.ANDROID_DA_LEGACY,
    ),
    (
        "da-7",
        device(
            "da7",
            version="7.0",
            enrollment="userEnrollment",
            device_type="android",
            owner="personal",
        ),
        Row.ANDROID_DA_MODERN,
    ),
    (
        "aosp-user",
        device(
            "aosp1",
            version="11",
            enrollment="androidAOSPUserOwnedDeviceEnrollment",
            device_type="androidnGMS",
            agent="intuneAosp",
        ),
        Row.AOSP_USER_ASSOCIATED,
    ),
    (
        "aosp-userless",
        device(
            "aosp2",
            version="11",
            enrollment="androidAOSPUserlessDeviceEnrollment",
            device_type="androidnGMS",
            agent="intuneAosp",
            email="",
        ),
        Row.AOSP_USERLESS,
    ),
    (
        "unknown",
        device("penguin", os_="Linux", version="6.8", enrollment="unknown", device_type="linux"),
        Row.UNKNOWN,
    ),
]


def by_name(devices: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(d for d in devices if d["deviceName"] == name)


# ---------------------------------------------------------------------- tokens and TLS


async def test_one_token_request_serves_many_calls(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    for _ in range(5):
        assert await backend.get_device(phone["id"]) is not None
    assert len(emulator.token_requests) == 1
    request = emulator.token_requests[0]
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == f"{emulator.url}/.default"
    # MSAL asked the emulator, not login.microsoftonline.com, for the OpenID configuration.
    assert any(
        p.endswith("/v2.0/.well-known/openid-configuration") for _, p, _, _ in emulator.requests
    )


async def test_token_close_to_expiry_is_renewed_before_use(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """A token with under five minutes left is not reused (MSAL's margin, ours too)."""
    phone = device("pixel")
    emulator = await make_emulator([phone], token_expires_in=120)
    backend = make_backend(emulator)
    await backend.get_device(phone["id"])
    await backend.get_device(phone["id"])
    assert len(emulator.token_requests) == 2


async def test_explicit_ca_bundle_wins_over_requests_ca_bundle(
    make_emulator: EmulatorFactory,
    make_backend: MakeBackend,
    trust_graph_ca: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """requests would let REQUESTS_CA_BUNDLE override verify=; the pinned session does not."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, "/etc/ssl/certs/ca-certificates.crt")
    backend = make_backend(emulator, ca_bundle=trust_graph_ca)
    assert await backend.get_device(phone["id"]) is not None


async def test_wrong_client_secret_is_a_clear_non_retryable_error(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([device("pixel")])
    backend = make_backend(emulator, settings={"azure_client_secret": "wrong"})
    with pytest.raises(BackendError) as caught:
        await backend.find_devices("pixel")
    assert not caught.value.retryable
    assert "invalid_client" in caught.value.message
    assert "wrong" not in caught.value.message


async def test_expired_token_is_renewed_once(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    await backend.get_device(phone["id"])
    emulator.expire_tokens()
    assert await backend.get_device(phone["id"]) is not None
    assert len(emulator.token_requests) == 2
    statuses = [p for m, p, _, _ in emulator.requests if phone["id"] in p]
    assert len(statuses) == 3  # ok, 401, ok


async def test_second_401_after_renewal_is_an_error(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    emulator.fail_next("managedDevices", 401, times=2)
    with pytest.raises(BackendError) as caught:
        await backend.get_device(phone["id"])
    assert not caught.value.retryable
    assert len(emulator.token_requests) == 2


# ---------------------------------------------------------------------- lookups


async def test_finds_devices_by_name_serial_and_id_case_insensitively(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    devices = [device("Pixel-8", serial="ABC123"), device("Galaxy", serial="XYZ789")]
    emulator = await make_emulator(devices)
    backend = make_backend(emulator)
    assert [d.id for d in await backend.find_devices("pixel-8")] == [devices[0]["id"]]
    assert [d.id for d in await backend.find_devices("xyz789")] == [devices[1]["id"]]
    assert [d.id for d in await backend.find_devices(devices[1]["id"].upper())] == [
        devices[1]["id"]
    ]
    assert await backend.find_devices("pixel") == []  # exact, not a substring
    filters = [q for m, p, q, _ in emulator.requests if p.endswith("/managedDevices")]
    assert any("serialNumber eq 'pixel-8'" in q for q in filters)
    assert all(p.startswith("/beta/") for _, p, _, _ in emulator.requests if "managed" in p)


async def test_quotes_in_a_name_are_escaped_in_the_filter(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("Bob's phone")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    assert [d.id for d in await backend.find_devices("bob's phone")] == [phone["id"]]


async def test_ignored_filter_is_rechecked_client_side(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """Graph returns every device for a filter it does not support (fact sheet §4)."""
    devices = [device(f"phone-{i}") for i in range(7)]
    emulator = await make_emulator(devices, filterable=(), page_size=3)
    backend = make_backend(emulator)
    found = await backend.find_devices("SER-PHONE-5")
    assert [d.id for d in found] == [devices[5]["id"]]
    # The ignored filter really returned everything, across pages.
    assert any("$skiptoken" in q for _, _, q, _ in emulator.requests)


async def test_find_follows_next_links_across_pages(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    devices = [device("twin", serial=f"T{i}") for i in range(5)]
    emulator = await make_emulator(devices, page_size=2)
    backend = make_backend(emulator)
    found = await backend.find_devices("twin", limit=10)
    assert sorted(d.id for d in found) == sorted(d["id"] for d in devices)
    assert sum("$skiptoken" in q for _, _, q, _ in emulator.requests) == 2


async def test_primary_email_restricts_results(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    mine = device("mine", email="alice@example.com")
    theirs = device("theirs", email="bob@example.com")
    emulator = await make_emulator([mine, theirs])
    backend = make_backend(emulator)
    assert await backend.find_devices("theirs", primary_email="alice@example.com") == []
    assert [
        d.id for d in await backend.find_devices("mine", primary_email="ALICE@example.com")
    ] == [mine["id"]]
    picked = await backend.search_devices("", primary_email="bob@example.com")
    assert [d.id for d in picked] == [theirs["id"]]


async def test_get_device_returns_none_for_an_unknown_id(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    emulator = await make_emulator([device("pixel")])
    backend = make_backend(emulator)
    assert await backend.get_device(str(uuid.uuid4())) is None


@pytest.mark.parametrize(("label", "graph_json", "row"), PLATFORMS, ids=[p[0] for p in PLATFORMS])
async def test_graph_json_maps_to_the_right_matrix_row(
    make_emulator: EmulatorFactory,
    make_backend: MakeBackend,
    label: str,
    graph_json: dict[str, Any],
    row: Row,
) -> None:
    emulator = await make_emulator([graph_json])
    backend = make_backend(emulator)
    by_id = await backend.get_device(graph_json["id"])
    assert by_id is not None
    assert decide(by_id.facts).row is row
    (by_name_,) = await backend.find_devices(graph_json["deviceName"])
    assert decide(by_name_.facts).row is row


# ---------------------------------------------------------------------- picker index


async def test_search_uses_the_cached_index_and_refreshes_in_the_background(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, clock: ManualClock
) -> None:
    devices = [device(f"pixel-{i}") for i in range(5)] + [device("galaxy")]
    emulator = await make_emulator(devices, page_size=2)
    backend = make_backend(emulator, clock=clock, index_refresh=timedelta(minutes=10))

    def list_calls() -> int:
        return sum(
            p.endswith("/managedDevices") and "skiptoken" not in q and "$filter" not in q
            for _, p, q, _ in emulator.requests
        )

    hits = await backend.search_devices("PIXEL")
    assert [d.name for d in hits] == [f"pixel-{i}" for i in range(5)]
    assert [d.name for d in await backend.search_devices("", limit=2)] == ["galaxy", "pixel-0"]
    assert [d.name for d in await backend.search_devices("ser-gal")] == ["galaxy"]
    assert list_calls() == 1

    emulator.add_device(device("pixel-new"))
    clock.advance(timedelta(minutes=11))
    # A part of its name: no exact live lookup finds it (that is the next tests' part).
    stale = await backend.search_devices("l-new")
    assert stale == []  # served from the old index while it reloads
    for _ in range(50):
        if await backend.search_devices("l-new"):
            break
        await asyncio.sleep(0.01)
    assert [d.name for d in await backend.search_devices("l-new")] == ["pixel-new"]
    assert list_calls() == 2


# ---------------------------------------------------------------------- resets


async def test_reset_goes_pending_then_done_with_a_passcode(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone], action_pending_reads=2)
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    ref = await backend.start_reset(target, Scope.DEVICE)
    assert ref.device_id == phone["id"]
    assert emulator.reset_posts(phone["id"]) == 1
    assert (await backend.action_status(ref)).state is ActionState.PENDING
    assert (await backend.action_status(ref)).state is ActionState.PENDING
    status = await backend.action_status(ref)
    assert status.state is ActionState.DONE
    assert status.passcode is not None
    assert status.passcode == emulator.issued_passcode(phone["id"])
    assert emulator.reset_posts(phone["id"]) == 1
    posts = emulator.graph_requests("resetPasscode", method="POST")
    assert posts == [f"/beta/deviceManagement/managedDevices/{phone['id']}/resetPasscode"]


async def test_ios_reset_is_done_without_a_passcode(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    iphone = by_name([p[1] for p in PLATFORMS], "iphone")
    emulator = await make_emulator([iphone])
    backend = make_backend(emulator)
    target = await backend.get_device(iphone["id"])
    assert target is not None
    ref = await backend.start_reset(target, Scope.DEVICE)
    await backend.action_status(ref)
    status = await backend.action_status(ref)
    assert status.state is ActionState.DONE
    assert status.passcode is None


async def test_work_profile_reset_without_activated_token_fails(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    byod = device(
        "byod",
        enrollment="userEnrollment",
        device_type="androidForWork",
        owner="personal",
        simulate={"resetTokenActivated": False},
    )
    emulator = await make_emulator([byod])
    backend = make_backend(emulator)
    target = await backend.get_device(byod["id"])
    assert target is not None
    ref = await backend.start_reset(target, Scope.WORK_PROFILE)
    statuses = [await backend.action_status(ref) for _ in range(3)]
    assert statuses[0].state is ActionState.PENDING
    assert statuses[-1].state is ActionState.FAILED
    assert statuses[-1].failure is FailureCode.BACKEND_ERROR
    assert statuses[-1].passcode is None
    assert "failed" in statuses[-1].detail


async def test_not_supported_state_maps_to_not_supported(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("pixel", simulate={"fail": "notSupported"})
    emulator = await make_emulator([phone], action_pending_reads=0)
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    status = await backend.action_status(await backend.start_reset(target, Scope.DEVICE))
    assert status.state is ActionState.FAILED
    assert status.failure is FailureCode.NOT_SUPPORTED


async def test_old_reset_entries_are_ignored(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """A finished reset from last week is not mistaken for the new one (fact sheet §2)."""
    old = {
        "@odata.type": "#microsoft.graph.resetPasscodeActionResult",
        "actionName": "resetPasscode",
        "actionState": "done",
        "startDateTime": "2020-01-01T00:00:00.0000000Z",
        "lastUpdatedDateTime": "2020-01-01T00:05:00.0000000Z",
        "passcode": "11111111",
    }
    phone = device("pixel", deviceActionResults=[old])
    emulator = await make_emulator([phone], action_pending_reads=5)
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    assert await backend.find_started_action(phone["id"], datetime.now(UTC)) is None
    ref = await backend.start_reset(target, Scope.DEVICE)
    assert (await backend.action_status(ref)).state is ActionState.PENDING


async def test_find_started_action_finds_the_reset_after_a_restart(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    before = datetime.now(UTC)
    await backend.start_reset(target, Scope.DEVICE)
    restarted = make_backend(emulator)
    found = await restarted.find_started_action(phone["id"], before)
    assert found is not None and found.device_id == phone["id"]
    assert await restarted.find_started_action(phone["id"], before + timedelta(hours=1)) is None
    assert await restarted.find_started_action(str(uuid.uuid4()), before) is None
    await restarted.action_status(found)
    assert (await restarted.action_status(found)).state is ActionState.DONE
    assert emulator.reset_posts(phone["id"]) == 1


async def test_unsupported_device_gets_intune_400_with_operation_id(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """Intune refuses (400, nested JSON message); the error names the Operation ID."""
    mac = device("mac", os_="macOS", enrollment="appleBulkWithUser", device_type="macMDM")
    emulator = await make_emulator([mac])
    backend = make_backend(emulator)
    # The bot's copy of the device is stale and says Android, so the bot's own check passes.
    stale = device_from_json_as_android(mac)
    with pytest.raises(BackendError) as caught:
        await backend.start_reset(stale, Scope.DEVICE)
    assert caught.value.failure is FailureCode.NOT_SUPPORTED
    assert not caught.value.retryable
    assert "Operation ID" in caught.value.message
    assert emulator.reset_posts(mac["id"]) == 1


def device_from_json_as_android(graph_json: dict[str, Any]) -> Device:
    return device_from_graph({**device("x"), "id": graph_json["id"]})


async def test_bot_refuses_a_reset_the_policy_does_not_allow_without_posting(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    mac = device("mac", os_="macOS", enrollment="appleBulkWithUser", device_type="macMDM")
    emulator = await make_emulator([mac])
    backend = make_backend(emulator)
    target = await backend.get_device(mac["id"])
    assert target is not None
    with pytest.raises(BackendError) as caught:
        await backend.start_reset(target, Scope.DEVICE)
    assert caught.value.failure is FailureCode.NOT_SUPPORTED
    assert emulator.reset_posts(mac["id"]) == 0


# ---------------------------------------------------------------------- faults


async def test_429_with_retry_after_waits_that_long_then_posts_once(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    emulator.fail_next("resetPasscode", 429, retry_after=7)
    await backend.start_reset(target, Scope.DEVICE)
    assert sleep.calls == [7.0]
    assert emulator.reset_posts(phone["id"]) == 1
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 2


async def test_429_with_an_http_date_retry_after(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    emulator.fail_next("managedDevices", 429, retry_after=retry_after_date(30))
    assert await backend.get_device(phone["id"]) is not None
    assert len(sleep.calls) == 1 and 25 <= sleep.calls[0] <= 31


async def test_429_without_retry_after_waits_out_intunes_window(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    """Intune's 429s often carry no Retry-After; it counts in 20-second windows, so a shorter
    backoff would only be throttled again (issue 12 point 6)."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    emulator.fail_next("resetPasscode", 429, times=2)
    await backend.start_reset(target, Scope.DEVICE)
    assert len(sleep.calls) == 2
    assert all(20.0 <= delay <= 25.0 for delay in sleep.calls)  # the window, jittered upwards
    assert emulator.reset_posts(phone["id"]) == 1


async def test_429_without_retry_after_backs_off_exponentially_without_a_window(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator, retry=replace(GRAPH, base_delay=1.0, max_delay=30,
                                                   throttle_wait=None))
    target = await backend.get_device(phone["id"])
    assert target is not None
    emulator.fail_next("resetPasscode", 429, times=3)
    await backend.start_reset(target, Scope.DEVICE)
    assert len(sleep.calls) == 3
    for n, delay in enumerate(sleep.calls):
        assert 2**n * 0.5 <= delay <= 2**n  # jittered: half to full of the exponential step
    assert emulator.reset_posts(phone["id"]) == 1


async def test_503_recovers_after_retries(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    await backend.get_device(phone["id"])
    emulator.fail_next("managedDevices", 503, times=2)
    assert [d.id for d in await backend.find_devices(phone["id"])] == [phone["id"]]
    assert len(sleep.calls) == 2


async def test_503_with_retry_after_on_the_post_is_resent(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    emulator.fail_next("resetPasscode", 503, retry_after=2)
    await backend.start_reset(target, Scope.DEVICE)
    assert sleep.calls == [2.0]
    assert emulator.reset_posts(phone["id"]) == 1


async def test_persistent_500_is_not_retried_and_not_retryable(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    await backend.get_device(phone["id"])
    emulator.fail_next("managedDevices", 500, times=10)
    with pytest.raises(BackendError) as caught:
        await backend.get_device(phone["id"])
    assert not caught.value.retryable
    assert "HTTP 500" in caught.value.message
    assert sleep.calls == []


async def test_persistent_503_gives_up_after_the_bound_as_retryable(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator, retry=replace(GRAPH, attempts=3))
    await backend.get_device(phone["id"])
    emulator.set_down(True)
    with pytest.raises(BackendError) as caught:
        await backend.get_device(phone["id"])
    assert caught.value.retryable
    assert "unavailable" in caught.value.message
    assert len(sleep.calls) == 2
    assert len([p for _, p, _, _ in emulator.requests if phone["id"] in p]) == 1 + 3


async def test_retry_after_beyond_the_budget_gives_up_at_once(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator, retry=replace(GRAPH, max_wait=10))
    await backend.get_device(phone["id"])
    emulator.fail_next("managedDevices", 429, retry_after=3600)
    with pytest.raises(BackendError) as caught:
        await backend.get_device(phone["id"])
    assert caught.value.retryable
    assert sleep.calls == []


async def test_dropped_connection_on_the_post_is_not_reposted_when_intune_has_it(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    emulator.drop_next("resetPasscode", method="POST")
    ref = await backend.start_reset(target, Scope.DEVICE)
    assert emulator.reset_posts(phone["id"]) == 1
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 1
    await backend.action_status(ref)
    assert (await backend.action_status(ref)).state is ActionState.DONE


async def test_502_before_intune_saw_the_post_is_reposted_once(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """The gateway failed before Intune queued anything: no entry, so one more POST."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    target = await backend.get_device(phone["id"])
    assert target is not None
    emulator.fail_next("resetPasscode", 502)
    await backend.start_reset(target, Scope.DEVICE)
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 2
    assert emulator.reset_posts(phone["id"]) == 1


async def test_504_on_every_post_ends_unconfirmed_after_two_posts(
    make_emulator: EmulatorFactory, make_backend: MakeBackend
) -> None:
    """Two POSTs at most: the second only because both reads showed nothing; after the
    second 504 the outcome is left unconfirmed, not retried by the job queue."""
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator, retry=replace(GRAPH, attempts=3))
    target = await backend.get_device(phone["id"])
    assert target is not None
    emulator.fail_next("resetPasscode", 504, times=10)
    with pytest.raises(BackendError) as caught:
        await backend.start_reset(target, Scope.DEVICE)
    assert caught.value.failure is FailureCode.UNCONFIRMED and not caught.value.retryable
    assert len(emulator.graph_requests("resetPasscode", method="POST")) == 2
    assert emulator.reset_posts(phone["id"]) == 0


async def test_dropped_connection_on_a_get_is_retried(
    make_emulator: EmulatorFactory, make_backend: MakeBackend, sleep: RecordingSleep
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    await backend.get_device(phone["id"])
    emulator.drop_next(phone["id"], method="GET")
    assert await backend.get_device(phone["id"]) is not None
    assert len(sleep.calls) == 1


async def test_neither_token_nor_passcode_is_logged(
    make_emulator: EmulatorFactory,
    make_backend: MakeBackend,
    caplog: pytest.LogCaptureFixture,
) -> None:
    phone = device("pixel")
    emulator = await make_emulator([phone])
    backend = make_backend(emulator)
    caplog.set_level(logging.DEBUG)
    target = await backend.get_device(phone["id"])
    assert target is not None
    emulator.fail_next("resetPasscode", 429, retry_after=1)
    ref = await backend.start_reset(target, Scope.DEVICE)
    await backend.action_status(ref)
    status = await backend.action_status(ref)
    assert status.passcode
    assert status.passcode not in caplog.text
    assert status.passcode not in repr(status)
    tokens = {h.get("authorization", "").removeprefix("Bearer ") for *_, h in emulator.requests}
    for token in tokens - {""}:
        assert token not in caplog.text
    assert emulator.client_secret not in caplog.text
