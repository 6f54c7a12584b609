"""The support matrix: every row reached through the managedDevice fields Intune really returns."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pytest

from handlers.views.i18n import LANGUAGES, t
from policy.platforms import (
    MATRIX,
    NEEDS_PASSCODE_POLICY,
    DeviceFacts,
    Refusal,
    Result,
    Row,
    Scope,
    classify,
    decide,
    parse_major,
    seen_values,
)


def intune(
    os: str,
    version: str = "",
    enrollment: str = "",
    device_type: str = "",
    *,
    agent: str = "mdm",
    owner: str = "company",
) -> DeviceFacts:
    """DeviceFacts spelled the way Graph's managedDevice (beta) returns them."""
    return DeviceFacts(os, version, enrollment, device_type, agent, owner)


def device_admin(version: str) -> DeviceFacts:
    return intune("Android", version, "userEnrollment", "android", owner="personal")


def work_profile(version: str) -> DeviceFacts:
    return intune("Android", version, "userEnrollment", "androidForWork", owner="personal")


def corporate_work_profile(version: str) -> DeviceFacts:
    return intune("Android", version, "androidEnterpriseCorporateWorkProfile", "androidEnterprise")


def fully_managed(version: str) -> DeviceFacts:
    return intune("Android", version, "androidEnterpriseFullyManaged", "androidEnterprise")


def dedicated(version: str) -> DeviceFacts:
    return intune("Android", version, "androidEnterpriseDedicatedDevice", "androidEnterprise")


def aosp(enrollment: str) -> DeviceFacts:
    return intune("Android", "12", enrollment, "androidnGMS", agent="intuneAosp")


# fmt: off
ALLOWED = [
    pytest.param(device_admin("6.0.1"), Row.ANDROID_DA_LEGACY, Scope.DEVICE, Result.NEW_PASSCODE,
                 id="device-admin-6.0.1-company-portal"),
    pytest.param(intune("Android", "5.1.1", "deviceEnrollmentManager", "android"),
                 Row.ANDROID_DA_LEGACY, Scope.DEVICE, Result.NEW_PASSCODE,
                 id="device-admin-5.1.1-enrollment-manager"),
    pytest.param(intune("Android", "4.4.2", "", "android"),
                 Row.ANDROID_DA_LEGACY, Scope.DEVICE, Result.NEW_PASSCODE,
                 id="device-admin-4.4.2-no-enrollment-type"),
    pytest.param(fully_managed("14"), Row.AE_FULLY_MANAGED, Scope.DEVICE,
                 Result.TEMPORARY_PASSCODE, id="fully-managed-14"),
    pytest.param(dedicated("13"), Row.AE_DEDICATED, Scope.DEVICE, Result.TEMPORARY_PASSCODE,
                 id="dedicated-13"),
    pytest.param(work_profile("13"), Row.AE_WORK_PROFILE_PERSONAL, Scope.WORK_PROFILE,
                 Result.TEMPORARY_PASSCODE, id="work-profile-personal-13"),
    pytest.param(intune("Android", "12", "deviceEnrollmentManager", "androidForWork"),
                 Row.AE_WORK_PROFILE_PERSONAL, Scope.WORK_PROFILE, Result.TEMPORARY_PASSCODE,
                 id="work-profile-personal-enrollment-manager"),
    pytest.param(corporate_work_profile("14"), Row.AE_WORK_PROFILE_CORPORATE, Scope.WORK_PROFILE,
                 Result.TEMPORARY_PASSCODE, id="work-profile-corporate-14"),
    pytest.param(aosp("androidAOSPUserOwnedDeviceEnrollment"), Row.AOSP_USER_ASSOCIATED,
                 Scope.DEVICE, Result.NEW_PASSCODE, id="aosp-user-associated"),
    pytest.param(aosp("androidAOSPUserlessDeviceEnrollment"), Row.AOSP_USERLESS, Scope.DEVICE,
                 Result.NEW_PASSCODE, id="aosp-userless"),
    pytest.param(intune("iOS", "17.4.1", "appleBulkWithUser", "iPhone"), Row.IOS_DEVICE_ENROLLMENT,
                 Scope.DEVICE, Result.PASSCODE_REMOVED, id="iphone-automated-device-enrollment"),
    pytest.param(intune("iPadOS", "16.2", "userEnrollment", "iPad", owner="personal"),
                 Row.IOS_DEVICE_ENROLLMENT, Scope.DEVICE, Result.PASSCODE_REMOVED,
                 id="ipad-company-portal-enrollment"),
    pytest.param(intune("iOS", "15.8", "appleACMEBasicBYOD", "iPhone"), Row.IOS_DEVICE_ENROLLMENT,
                 Scope.DEVICE, Result.PASSCODE_REMOVED, id="iphone-legacy-acme-enrollment"),
    pytest.param(intune("", "17.1", "appleBulkWithoutUser", "iPod"), Row.IOS_DEVICE_ENROLLMENT,
                 Scope.DEVICE, Result.PASSCODE_REMOVED, id="ipod-known-by-device-type-only"),
    pytest.param(intune("Windows", "10.0.15063.1418", "userEnrollment", "windowsPhone"),
                 Row.WINDOWS_MOBILE, Scope.DEVICE, Result.NEW_PIN, id="windows-10-mobile"),
    pytest.param(intune("Windows Mobile", "6.5", "", "winMO6"), Row.WINDOWS_MOBILE, Scope.DEVICE,
                 Result.NEW_PIN, id="windows-mobile-6.5"),
]

REFUSED = [
    pytest.param(device_admin("7.0"), Row.ANDROID_DA_MODERN, "Android 7.0", id="device-admin-7.0"),
    pytest.param(device_admin("10"), Row.ANDROID_DA_MODERN, "Android 7.0", id="device-admin-10"),
    pytest.param(work_profile("7.1.1"), Row.AE_WORK_PROFILE_PERSONAL, "8.0",
                 id="work-profile-personal-7.1.1"),
    pytest.param(corporate_work_profile("7.1.2"), Row.AE_WORK_PROFILE_CORPORATE, "8.0",
                 id="work-profile-corporate-7.1.2"),
    pytest.param(fully_managed("7.0"), Row.AE_FULLY_MANAGED, "8.0", id="fully-managed-7.0"),
    pytest.param(dedicated("7.1.1"), Row.AE_DEDICATED, "8.0", id="dedicated-7.1.1"),
    pytest.param(intune("iOS", "17.4", "appleUserEnrollment", "iPhone", owner="personal"),
                 Row.IOS_USER_ENROLLMENT, "User Enrollment", id="ios-user-enrollment"),
    pytest.param(intune("iPadOS", "17.4", "appleUserEnrollmentWithServiceAccount", "iPad"),
                 Row.IOS_USER_ENROLLMENT, "User Enrollment", id="ipados-user-enrollment-service"),
    pytest.param(intune("iOS", "18.0", "appleAccountDrivenUserEnrollment", "iPhone"),
                 Row.IOS_USER_ENROLLMENT, "User Enrollment", id="ios-account-driven-enrollment"),
    pytest.param(intune("macOS", "14.4.1", "appleBulkWithUser", "macMDM"), Row.MACOS, "macOS",
                 id="macos-automated-enrollment"),
    pytest.param(intune("", "13.6", "userEnrollment", "macMDM"), Row.MACOS, "macOS",
                 id="macos-known-by-device-type-only"),
    pytest.param(intune("Windows", "10.0.22631.2861", "windowsAzureADJoin", "desktop"),
                 Row.WINDOWS, "Windows", id="windows-11-entra-joined"),
    pytest.param(intune("Windows", "10.0.19045.4170", "windowsCoManagement", "desktop",
                        agent="configurationManagerClientMdm"),
                 Row.WINDOWS, "Windows", id="windows-10-co-managed"),
    pytest.param(intune("", "10.0.22621.1", "azureAdJoinUsingAzureVmExtension", "cloudPC"),
                 Row.WINDOWS, "Windows", id="windows-365-cloud-pc"),
    pytest.param(intune("Windows", "10.0.19045", "windowsBulkUserless", "holoLens"),
                 Row.WINDOWS, "Windows", id="hololens"),
    pytest.param(intune("Android", "13", "userEnrollment", "", owner="personal"), Row.UNKNOWN,
                 "not one this bot knows", id="android-v1.0-without-device-type"),
    pytest.param(intune("Android", "13", "unknown", "", agent="eas"), Row.UNKNOWN,
                 "not one this bot knows", id="android-exchange-activesync-only"),
    pytest.param(intune("Android", "14", "userEnrollment", "androidEnterprise"), Row.UNKNOWN,
                 "not one this bot knows", id="android-enterprise-without-enrollment-type"),
    pytest.param(intune("Linux", "22.04", "", "linux"), Row.UNKNOWN, "not one this bot knows",
                 id="linux"),
    pytest.param(intune("ChromeOS", "120.0", "", "chromeOS"), Row.UNKNOWN,
                 "not one this bot knows", id="chromeos"),
    pytest.param(intune(""), Row.UNKNOWN, "not one this bot knows", id="nothing-reported"),
]
# fmt: on


def _rows(params: Iterable[Any]) -> set[Row]:
    """The rows a table of pytest.param cases reaches (the second value of each)."""
    return {p.values[1] for p in params}


def test_the_tables_reach_every_row_of_the_matrix() -> None:
    assert _rows(ALLOWED) | _rows(REFUSED) == set(Row)
    assert set(MATRIX) == set(Row)


@pytest.mark.parametrize(("facts", "row", "scope", "result"), ALLOWED)
def test_supported_devices_are_allowed_with_the_rows_scope_and_result(
    facts: DeviceFacts, row: Row, scope: Scope, result: Result
) -> None:
    decision = decide(facts)

    assert classify(facts) is row
    assert decision.allowed
    assert (decision.row, decision.scope, decision.result) == (row, scope, result)
    assert decision.refusal is None
    assert t("en", f"platform.{row.value}")


@pytest.mark.parametrize(("facts", "row", "said"), REFUSED)
def test_unsupported_devices_are_refused_with_a_reason_and_a_hint(
    facts: DeviceFacts, row: Row, said: str
) -> None:
    decision = decide(facts)

    assert classify(facts) is row
    assert (decision.row, decision.allowed, decision.result) == (row, False, None)
    assert decision.scope is MATRIX[row].scope
    assert decision.refusal is not None
    if said == "8.0":  # too old an Android for the row
        assert decision.refusal.code == "old_os_version"
        assert decision.refusal.params["min"] == 8
    elif row is Row.UNKNOWN:  # named with the values Intune reported (issue 12 point 9)
        assert decision.refusal == Refusal("row.unknown", seen_values(facts))
    else:  # the row itself is unsupported
        assert decision.refusal == Refusal(f"row.{row.value}")


@pytest.mark.parametrize(
    ("make", "version", "allowed"),
    [
        pytest.param(device_admin, "6.0.1", True, id="device-admin-6.0.1"),
        pytest.param(device_admin, "6", True, id="device-admin-6"),
        pytest.param(device_admin, "7.0", False, id="device-admin-7.0"),
        pytest.param(device_admin, "7", False, id="device-admin-7"),
        pytest.param(work_profile, "7.1.1", False, id="work-profile-7.1.1"),
        pytest.param(work_profile, "8", True, id="work-profile-8"),
        pytest.param(work_profile, "8.0", True, id="work-profile-8.0"),
        pytest.param(corporate_work_profile, "7.1.1", False, id="corporate-work-profile-7.1.1"),
        pytest.param(corporate_work_profile, "8.0", True, id="corporate-work-profile-8.0"),
        pytest.param(fully_managed, "7.1.1", False, id="fully-managed-7.1.1"),
        pytest.param(fully_managed, "8", True, id="fully-managed-8"),
        pytest.param(fully_managed, "8.0", True, id="fully-managed-8.0"),
        pytest.param(dedicated, "7.1.1", False, id="dedicated-7.1.1"),
        pytest.param(dedicated, "8", True, id="dedicated-8"),
        pytest.param(dedicated, "8.0", True, id="dedicated-8.0"),
    ],
)
def test_android_version_boundaries(
    make: Callable[[str], DeviceFacts], version: str, allowed: bool
) -> None:
    decision = decide(make(version))

    assert decision.allowed is allowed
    assert (decision.refusal is None) is allowed


@pytest.mark.parametrize(
    ("version", "major"),
    [
        pytest.param("6.0.1", 6, id="android-6.0.1"),
        pytest.param("7.1.1", 7, id="android-7.1.1"),
        pytest.param("8", 8, id="android-8"),
        pytest.param("13", 13, id="android-13"),
        pytest.param("17.4.1", 17, id="ios-17.4.1"),
        pytest.param("10.0.22631.2861", 10, id="windows-build"),
        pytest.param(" 8.1.0 ", 8, id="surrounding-spaces"),
        pytest.param("", None, id="empty"),
        pytest.param("  ", None, id="blank"),
        pytest.param("garbage", None, id="garbage"),
        pytest.param("1.2.3beta", None, id="suffix"),
        pytest.param("8.", None, id="trailing-dot"),
        pytest.param("None", None, id="none-as-text"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_major(version: str | None, major: int | None) -> None:
    assert parse_major(version) == major


@pytest.mark.parametrize(
    "facts",
    [
        pytest.param(fully_managed(""), id="fully-managed-no-version"),
        pytest.param(work_profile("garbage"), id="work-profile-garbage-version"),
        pytest.param(dedicated("8.x"), id="dedicated-8.x"),
        pytest.param(device_admin(""), id="device-admin-no-version"),
        pytest.param(device_admin("Marshmallow"), id="device-admin-codename"),
    ],
)
def test_an_unreadable_os_version_is_refused_not_guessed(facts: DeviceFacts) -> None:
    decision = decide(facts)

    assert not decision.allowed
    assert decision.refusal == Refusal("unknown_os_version",
                                       {"version": facts.os_version.strip()})


def test_a_device_level_reset_of_a_work_profile_points_to_the_work_profile_reset() -> None:
    decision = decide(work_profile("13"), Scope.DEVICE)

    assert (decision.allowed, decision.row) == (False, Row.AE_WORK_PROFILE_PERSONAL)
    assert decision.refusal == Refusal("scope.device_on_work_profile")


def test_a_work_profile_reset_of_a_fully_managed_device_points_to_the_device_reset() -> None:
    decision = decide(fully_managed("14"), Scope.WORK_PROFILE)

    assert not decision.allowed
    assert decision.refusal == Refusal("scope.no_work_profile")


@pytest.mark.parametrize(
    ("facts", "scope"),
    [
        pytest.param(work_profile("13"), Scope.WORK_PROFILE, id="work-profile"),
        pytest.param(fully_managed("14"), Scope.DEVICE, id="fully-managed"),
    ],
)
def test_asking_for_the_rows_own_scope_is_allowed(facts: DeviceFacts, scope: Scope) -> None:
    assert decide(facts, scope).allowed


@pytest.mark.parametrize(
    "enrollment",
    ["androidAOSPUserOwnedDeviceEnrollment", "androidAOSPUserlessDeviceEnrollment"],
    ids=["user-associated", "userless"],
)
def test_aosp_resets_warn_that_a_passcode_policy_is_needed(enrollment: str) -> None:
    assert decide(aosp(enrollment)).warning == NEEDS_PASSCODE_POLICY


@pytest.mark.parametrize(("facts", "row", "scope", "result"), ALLOWED)
def test_only_aosp_rows_carry_a_warning(
    facts: DeviceFacts, row: Row, scope: Scope, result: Result
) -> None:
    needs_policy = row in {Row.AOSP_USER_ASSOCIATED, Row.AOSP_USERLESS}
    assert bool(decide(facts).warning) is needs_policy


@pytest.mark.parametrize(
    ("facts", "userless"),
    [
        pytest.param(dedicated("13"), True, id="dedicated"),
        pytest.param(aosp("androidAOSPUserlessDeviceEnrollment"), True, id="aosp-userless"),
        pytest.param(aosp("androidAOSPUserOwnedDeviceEnrollment"), False, id="aosp-user"),
        pytest.param(fully_managed("13"), False, id="fully-managed"),
    ],
)
def test_userless_rows(facts: DeviceFacts, userless: bool) -> None:
    assert decide(facts).userless is userless


@pytest.mark.parametrize(
    ("shouting", "quiet"),
    [
        pytest.param(
            intune("ANDROID", "13", "USERENROLLMENT", "ANDROIDFORWORK"),
            work_profile("13"),
            id="work-profile-upper-case",
        ),
        pytest.param(
            intune(" android ", "6.0.1", " UserEnrollment ", " Android "),
            device_admin("6.0.1"),
            id="device-admin-padded",
        ),
        pytest.param(
            intune("IOS", "17.4", "APPLEUSERENROLLMENT", "IPHONE"),
            intune("iOS", "17.4", "appleUserEnrollment", "iPhone"),
            id="ios-upper-case",
        ),
        pytest.param(intune("MACOS", "14.4"), intune("macOS", "14.4"), id="macos-upper-case"),
        pytest.param(
            intune("android", "14", "ANDROIDENTERPRISEFULLYMANAGED"),
            fully_managed("14"),
            id="fully-managed-upper-case-enrollment",
        ),
    ],
)
def test_fields_are_compared_case_insensitively(shouting: DeviceFacts, quiet: DeviceFacts) -> None:
    assert decide(shouting) == decide(quiet)


@pytest.mark.parametrize("row", [r for r in Row if MATRIX[r].result is None])
def test_every_unsupported_row_explains_itself(row: Row) -> None:
    """In every language: a reason and a hint, filed under the row's refusal code."""
    for lang in LANGUAGES:
        assert t(lang, f"refused.row.{row.value}") and t(lang, f"refused.row.{row.value}.hint")
