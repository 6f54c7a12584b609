"""Classification robustness (issue 12 point 9): odd version strings, enum values Intune added
later, Apple platforms without the action: each gets a decision, or a refusal naming what Intune
reported; never a crash, never a silent default row."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.backends.devices import device_from_graph
from policy.platforms import MATRIX, DeviceFacts, Refusal, Row, classify, decide, parse_major


def facts(os_: str = "Android", version: str = "14", enrollment: str = "",
          device_type: str = "", agent: str = "mdm") -> DeviceFacts:
    return DeviceFacts(os_, version, enrollment, device_type, agent, "company")


@pytest.mark.parametrize(("version", "major"), [
    ("14 (UQ1A.240205.004)", 14),
    ("13 (TQ3A.230901.001)", 13),
    ("17.4 (21E219)", 17),
    ("6.0.1 (MOB31E)", 6),
])
def test_a_leading_integer_with_a_build_in_parentheses_is_read(version: str, major: int) -> None:
    assert parse_major(version) == major


@pytest.mark.parametrize("version", ["14abc", "(14)", "14 (", "fourteen (14)", "14 (a) (b)"])
def test_other_trailing_text_is_still_unreadable(version: str) -> None:
    assert parse_major(version) is None


def test_fully_managed_with_a_build_suffix_is_allowed() -> None:
    decision = decide(facts(version="14 (UQ1A.240205.004)",
                            enrollment="androidEnterpriseFullyManaged",
                            device_type="androidEnterprise"))
    assert decision.allowed and decision.row is Row.AE_FULLY_MANAGED


def test_device_admin_with_a_build_suffix_is_split_on_its_major() -> None:
    old = decide(facts(version="6.0.1 (MOB31E)", enrollment="userEnrollment",
                       device_type="android"))
    new = decide(facts(version="7.0 (NRD90M)", enrollment="userEnrollment",
                       device_type="android"))
    assert old.row is Row.ANDROID_DA_LEGACY and old.allowed
    assert new.row is Row.ANDROID_DA_MODERN and not new.allowed


def _unknown(decision: Any, **expected: str) -> None:
    assert decision.row is Row.UNKNOWN and not decision.allowed
    assert decision.refusal is not None and decision.refusal.code == "row.unknown"
    for key, value in expected.items():
        assert decision.refusal.params[key] == value, key


def test_android_for_work_with_an_unknown_enrollment_type_names_both() -> None:
    decision = decide(facts(enrollment="appleBulkWithUser", device_type="androidForWork"))
    _unknown(decision, device_type="androidForWork", enrollment_type="appleBulkWithUser",
             operating_system="Android")


@pytest.mark.parametrize(("os_", "device_type"), [
    ("tvOS", "tvOS"), ("visionOS", "visionOS"), ("iOS", "visionOS"), ("", "tvOS"),
])
def test_tvos_and_visionos_are_refused_by_name(os_: str, device_type: str) -> None:
    decision = decide(facts(os_=os_, version="2.0", enrollment="appleBulkWithoutUser",
                            device_type=device_type))
    _unknown(decision, device_type=device_type, operating_system=os_)


def test_ios_with_an_enrollment_type_nobody_documented_is_not_taken_for_device_enrollment() -> None:
    decision = decide(facts(os_="iOS", version="18.1", enrollment="appleFutureUserEnrollment",
                            device_type="iPhone"))
    _unknown(decision, enrollment_type="appleFutureUserEnrollment")


@pytest.mark.parametrize("enrollment", ["", "unknown", "appleBulkWithoutUser",
                                        "appleACMEDEPUDAModernAuth"])
def test_documented_ios_device_enrollments_stay_allowed(enrollment: str) -> None:
    assert decide(facts(os_="iOS", version="17", enrollment=enrollment)).allowed


def test_an_unknown_future_enum_value_is_named() -> None:
    decision = decide(facts(enrollment="unknownFutureValue", device_type="androidFuturePhone",
                            agent="unknownFutureValue"))
    _unknown(decision, enrollment_type="unknownFutureValue",
             device_type="androidFuturePhone", management_agent="unknownFutureValue")


@pytest.mark.parametrize("odd", [15, 3.5, True, {"value": "android"}, ["android"]])
def test_a_non_string_enum_from_graph_is_refused_by_what_it_is(odd: object) -> None:
    device = device_from_graph({"id": "d1", "operatingSystem": "Android", "osVersion": "14",
                                "deviceEnrollmentType": odd, "deviceType": "androidForWork"})
    decision = decide(device.facts)
    _unknown(decision)
    assert decision.refusal is not None and decision.refusal.params["enrollment_type"]


TEXT = st.text(max_size=40)
KNOWN = st.sampled_from(["", "Android", "iOS", "iPadOS", "macOS", "Windows", "tvOS",
                         "visionOS", "androidForWork", "android", "androidEnterprise",
                         "userEnrollment", "appleBulkWithUser", "androidnGMS", "iPhone",
                         "androidEnterpriseFullyManaged", "unknownFutureValue"])


@given(os_=KNOWN | TEXT, version=TEXT | st.sampled_from(["14 (UQ1A)", "6.0", "17.4"]),
       enrollment=KNOWN | TEXT, device_type=KNOWN | TEXT, agent=KNOWN | TEXT)
def test_any_values_get_a_decision_or_a_named_refusal(
    os_: str, version: str, enrollment: str, device_type: str, agent: str
) -> None:
    f = DeviceFacts(os_, version, enrollment, device_type, agent, "")
    decision = decide(f)
    assert decision.row is classify(f)
    if decision.allowed:
        assert decision.refusal is None and decision.result is not None
        assert MATRIX[decision.row].result is not None
        return
    assert isinstance(decision.refusal, Refusal)
    if decision.row is Row.UNKNOWN and decision.refusal.code == "row.unknown":
        # The refusal carries what was seen, exactly as reported (cut to 60 characters).
        assert decision.refusal.params["device_type"] == device_type.strip()[:60]
        assert decision.refusal.params["enrollment_type"] == enrollment.strip()[:60]
        assert decision.refusal.params["operating_system"] == os_.strip()[:60]
