"""Policy says which rule refused as a code and its values (``Refusal``), so the words can live
in the catalogs and a caller never parses policy's English."""

from __future__ import annotations

from policy.platforms import DeviceFacts, Refusal, Row, Scope, decide

ANDROID_DA = dict(operating_system="Android", device_type="android",
                  enrollment_type="deviceEnrollmentManager")


def test_an_unsupported_row_refuses_with_the_row_as_its_code() -> None:
    decision = decide(DeviceFacts(operating_system="macOS"))
    assert decision.row is Row.MACOS
    assert decision.refusal == Refusal("row.macos")


def test_an_unreadable_os_version_refuses_with_the_version_it_read() -> None:
    decision = decide(DeviceFacts(**ANDROID_DA, os_version="banana"))
    assert decision.refusal == Refusal("unknown_os_version", {"version": "banana"})


def test_an_old_os_version_refuses_with_the_version_and_the_minimum() -> None:
    decision = decide(DeviceFacts(operating_system="Android", os_version=" 7.1 ",
                                  enrollment_type="androidEnterpriseFullyManaged"))
    assert decision.refusal == Refusal("old_os_version", {"version": "7.1", "min": 8})


def test_the_wrong_scope_refuses_with_a_scope_code() -> None:
    work_profile = DeviceFacts(operating_system="Android", os_version="14",
                               enrollment_type="androidEnterpriseCorporateWorkProfile")
    assert decide(work_profile, Scope.DEVICE).refusal == Refusal("scope.device_on_work_profile")
    phone = DeviceFacts(operating_system="iOS", os_version="17")
    assert decide(phone, Scope.WORK_PROFILE).refusal == Refusal("scope.no_work_profile")


def test_an_allowed_reset_carries_no_refusal() -> None:
    phone = DeviceFacts(operating_system="iOS", os_version="17")
    assert decide(phone).allowed and decide(phone).refusal is None
