"""The passcode-reset support matrix, as data, and the decision for one device.

Devices are described with Intune's own managedDevice vocabulary (``operatingSystem``,
``deviceEnrollmentType``, beta ``deviceType``, ...), so the simulated fleet and the Graph
adapter are classified by the same code. The mapping follows the fact sheet's §3.2
(shared/docs/intune-graph.md): evaluated top to bottom, first match wins, and anything it does
not recognise is refused as "unknown", never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Row(StrEnum):
    """One row of the consolidated support matrix (product.md)."""

    ANDROID_DA_LEGACY = "android_device_admin_6"
    ANDROID_DA_MODERN = "android_device_admin_7_plus"
    AE_FULLY_MANAGED = "android_enterprise_fully_managed"
    AE_DEDICATED = "android_enterprise_dedicated"
    AE_WORK_PROFILE_PERSONAL = "android_enterprise_work_profile_personal"
    AE_WORK_PROFILE_CORPORATE = "android_enterprise_work_profile_corporate"
    AOSP_USER_ASSOCIATED = "aosp_user_associated"
    AOSP_USERLESS = "aosp_userless"
    IOS_DEVICE_ENROLLMENT = "ios_device_enrollment"
    IOS_USER_ENROLLMENT = "ios_user_enrollment"
    MACOS = "macos"
    WINDOWS = "windows"
    WINDOWS_MOBILE = "windows_10_mobile"
    UNKNOWN = "unknown"


class Scope(StrEnum):
    DEVICE = "device"
    WORK_PROFILE = "work_profile"


class Result(StrEnum):
    """What the requester ends up with after a successful reset."""

    TEMPORARY_PASSCODE = "temporary_passcode"
    NEW_PASSCODE = "new_passcode"
    PASSCODE_REMOVED = "passcode_removed"
    NEW_PIN = "new_pin"

    @property
    def carries_secret(self) -> bool:
        return self is not Result.PASSCODE_REMOVED


@dataclass(frozen=True, slots=True)
class DeviceFacts:
    """The managedDevice properties that decide the matrix row. Enum-like fields are plain
    strings compared case-insensitively: Graph returns values outside its own metadata."""

    operating_system: str = ""
    os_version: str = ""
    enrollment_type: str = ""
    device_type: str = ""
    management_agent: str = ""
    owner_type: str = ""


@dataclass(frozen=True, slots=True)
class RowInfo:
    """A row's facts (its words, the platform's name included, live in the catalogs under
    ``platform.<row>`` and ``refused.row.<row>``)."""

    scope: Scope
    result: Result | None  # None: unsupported
    min_major: int | None = None  # lowest supported OS major version, where the row has one
    needs_passcode_policy: bool = False
    userless: bool = False


MATRIX: dict[Row, RowInfo] = {
    Row.ANDROID_DA_LEGACY: RowInfo(
        Scope.DEVICE,
        Result.NEW_PASSCODE,
    ),
    Row.ANDROID_DA_MODERN: RowInfo(
        Scope.DEVICE,
        None,
    ),
    Row.AE_FULLY_MANAGED: RowInfo(
        Scope.DEVICE,
        Result.TEMPORARY_PASSCODE,
        min_major=8,
    ),
    Row.AE_DEDICATED: RowInfo(
        Scope.DEVICE,
        Result.TEMPORARY_PASSCODE,
        min_major=8,
        userless=True,
    ),
    Row.AE_WORK_PROFILE_PERSONAL: RowInfo(
        Scope.WORK_PROFILE,
        Result.TEMPORARY_PASSCODE,
        min_major=8,
    ),
    Row.AE_WORK_PROFILE_CORPORATE: RowInfo(
        Scope.WORK_PROFILE,
        Result.TEMPORARY_PASSCODE,
        min_major=8,
    ),
    Row.AOSP_USER_ASSOCIATED: RowInfo(
        Scope.DEVICE,
        Result.NEW_PASSCODE,
        needs_passcode_policy=True,
    ),
    Row.AOSP_USERLESS: RowInfo(
        Scope.DEVICE,
        Result.NEW_PASSCODE,
        needs_passcode_policy=True,
        userless=True,
    ),
    Row.IOS_DEVICE_ENROLLMENT: RowInfo(
        Scope.DEVICE,
        Result.PASSCODE_REMOVED,
    ),
    Row.IOS_USER_ENROLLMENT: RowInfo(
        Scope.DEVICE,
        None,
    ),
    Row.MACOS: RowInfo(
        Scope.DEVICE,
        None,
    ),
    Row.WINDOWS: RowInfo(
        Scope.DEVICE,
        None,
    ),
    Row.WINDOWS_MOBILE: RowInfo(
        Scope.DEVICE,
        Result.NEW_PIN,
    ),
    Row.UNKNOWN: RowInfo(
        Scope.DEVICE,
        None,
    ),
}

_IOS = {"ios", "ipados"}
_APPLE_USER_ENROLLMENT = {
    "appleuserenrollment",
    "appleuserenrollmentwithserviceaccount",
    "appleaccountdrivenuserenrollment",
}
# Every other enrollment type an iOS/iPadOS device is documented (or observed) to carry: the
# Company Portal, the enrollment manager, automated device enrollment and the legacy ACME
# values (fact sheet §3.1, §3.2 row 2); "unknown" and empty are what v1.0 hands back for a
# value it has no name for. A value outside this list may be a new kind of User Enrollment,
# where the reset is forbidden: it is refused with the value named, never taken as device
# enrollment (issue 12 point 9).
_APPLE_DEVICE_ENROLLMENT = {
    "", "unknown", "userenrollment", "deviceenrollmentmanager", "applebulkwithuser",
    "applebulkwithoutuser", "appleacmebasicbyod", "appleacmedepuserless",
    "appleacmedepudacompanyportal", "appleacmedepudasetupasstlegacy", "appleacmedepudamodernauth",
}
_APPLE_DEVICE_TYPES = {"iphone", "ipad", "ipod"}
# Apple platforms with no passcode reset in Intune (beta deviceType has tvOS and visionOS,
# "Checked 2026-12"): refused as unknown, with the values named.
_APPLE_OTHER = {"tvos", "visionos", "watchos"}
_WINDOWS_DEVICE_TYPES = {
    "desktop",
    "windowsrt",
    "winembedded",
    "surfacehub",
    "hololens",
    "cloudpc",
    "windows10x",
}
_WINDOWS_MOBILE_DEVICE_TYPES = {"windowsphone", "winmo6"}
_ANDROID_BY_ENROLLMENT = {
    "androidenterprisededicateddevice": Row.AE_DEDICATED,
    "androidenterprisefullymanaged": Row.AE_FULLY_MANAGED,
    "androidenterprisecorporateworkprofile": Row.AE_WORK_PROFILE_CORPORATE,
    "androidaospuserowneddeviceenrollment": Row.AOSP_USER_ASSOCIATED,
    "androidaospuserlessdeviceenrollment": Row.AOSP_USERLESS,
}
_BYOD_ENROLLMENTS = {"userenrollment", "deviceenrollmentmanager"}


def classify(facts: DeviceFacts) -> Row:
    """Place a device in exactly one row of the matrix (fact sheet §3.2, first match wins).
    A combination the table does not name (a new enum value, androidForWork with an
    enrollment type no personally-owned work profile carries, tvOS) is UNKNOWN, which
    ``decide`` refuses naming the values it saw; nothing falls through to a default row."""
    os_ = facts.operating_system.strip().lower()
    enrollment = facts.enrollment_type.strip().lower()
    device_type = facts.device_type.strip().lower()

    if os_ in _APPLE_OTHER or device_type in _APPLE_OTHER:
        return Row.UNKNOWN
    if os_ in _IOS or device_type in _APPLE_DEVICE_TYPES:
        if enrollment in _APPLE_USER_ENROLLMENT:
            return Row.IOS_USER_ENROLLMENT
        if enrollment in _APPLE_DEVICE_ENROLLMENT:
            return Row.IOS_DEVICE_ENROLLMENT
        return Row.UNKNOWN
    if os_ in {"macos", "mac os x", "osx"} or device_type in {"macmdm", "mac"}:
        return Row.MACOS
    if device_type in _WINDOWS_MOBILE_DEVICE_TYPES or os_ == "windows mobile":
        return Row.WINDOWS_MOBILE
    if (
        os_.startswith("windows")
        or enrollment.startswith(("windows", "azureadjoin"))
        or device_type in _WINDOWS_DEVICE_TYPES
    ):
        return Row.WINDOWS
    if enrollment in _ANDROID_BY_ENROLLMENT:
        return _ANDROID_BY_ENROLLMENT[enrollment]
    if os_ == "android" or device_type.startswith("android"):
        if device_type == "androidforwork" and enrollment in _BYOD_ENROLLMENTS | {""}:
            return Row.AE_WORK_PROFILE_PERSONAL
        if _is_device_admin(facts):
            major = parse_major(facts.os_version)
            if major is None:
                return Row.UNKNOWN
            return Row.ANDROID_DA_LEGACY if major <= 6 else Row.ANDROID_DA_MODERN
    return Row.UNKNOWN


def _is_device_admin(facts: DeviceFacts) -> bool:
    """Android device administrator (fact sheet §3.2 row 11), whatever its OS version."""
    enrollment = facts.enrollment_type.strip().lower()
    return facts.device_type.strip().lower() == "android" and enrollment in _BYOD_ENROLLMENTS | {""}


# "6.0.1", "13", "v10.0.22631.2861", and Android's "14 (UQ1A.240205.004)" or iOS's
# "17.4 (21E219)": a version, then at most a build in parentheses (fact sheet §3.1: parse the
# leading integer leniently). Anything else is unreadable, never guessed.
_VERSION = re.compile(r"\s*v?(\d{1,4})(?:\.(\d{1,6}))*(?:\s*\([^()]{0,80}\))?\s*",
                      re.IGNORECASE)


def parse_major(version: str | None) -> int | None:
    """The major number of an OS version string ("6.0.1" -> 6, "13" -> 13,
    "10.0.22631.2861" -> 10, "14 (UQ1A.240205.004)" -> 14); None for empty or garbage
    input, never a guess."""
    match = _VERSION.fullmatch(version or "")
    if match is None:
        return None
    return int(match.group(1))


def seen_values(facts: DeviceFacts) -> dict[str, str | int]:
    """The managedDevice values a refusal of an unknown platform names (issue 12 point 9):
    each as reported, cut to 60 characters."""
    return {
        "operating_system": facts.operating_system.strip()[:60],
        "device_type": facts.device_type.strip()[:60],
        "enrollment_type": facts.enrollment_type.strip()[:60],
        "management_agent": facts.management_agent.strip()[:60],
        "os_version": facts.os_version.strip()[:60],
    }


@dataclass(frozen=True, slots=True)
class Refusal:
    """Which rule refused, as a code and the values its wording needs; the words live in the
    catalogs (handlers/locale), filed under the code. Codes: ``row.<row>`` (the row itself is
    unsupported), ``unknown_os_version`` (``version``), ``old_os_version`` (``version``,
    ``min``), ``scope.device_on_work_profile``, ``scope.no_work_profile``. A new rule is a new
    code here and its words in the catalogs, nothing else."""

    code: str
    params: Mapping[str, str | int] = field(default_factory=dict)


# The warning an approver reads before approving a row that ``needs_passcode_policy``.
NEEDS_PASSCODE_POLICY = "needs_passcode_policy"


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a passcode reset may be requested for a device, and what it would do."""

    row: Row
    allowed: bool
    scope: Scope
    result: Result | None
    warning: str = ""  # a warning's code (NEEDS_PASSCODE_POLICY), for the approver
    refusal: Refusal | None = None  # set exactly when not allowed

    @property
    def userless(self) -> bool:
        return MATRIX[self.row].userless


def decide(facts: DeviceFacts, scope: Scope | None = None) -> Decision:
    """Classify a device and decide whether a passcode reset of ``scope`` (default: the
    row's own scope) is supported, and if not, which rule refused (``Refusal``)."""
    row = classify(facts)
    info = MATRIX[row]

    def refuse(code: str, **params: str | int) -> Decision:
        return Decision(row, False, info.scope, None, refusal=Refusal(code, params))

    version = facts.os_version.strip()
    if row is Row.UNKNOWN and _is_device_admin(facts):
        # Device administrator is split on the OS version; say that it is unreadable, rather
        # than calling the platform unknown.
        return refuse("unknown_os_version", version=version)
    if row is Row.UNKNOWN:
        # Names what Intune reported, so whoever reads the refusal can see which value the
        # bot did not recognise (the catalogs word it; the params are the values).
        return refuse(f"row.{row.value}", **seen_values(facts))
    if info.result is None:
        return refuse(f"row.{row.value}")
    if scope is not None and scope is not info.scope:
        if info.scope is Scope.WORK_PROFILE:
            return refuse("scope.device_on_work_profile")
        return refuse("scope.no_work_profile")
    if info.min_major is not None:
        major = parse_major(facts.os_version)
        if major is None:
            return refuse("unknown_os_version", version=version)
        if major < info.min_major:
            return refuse("old_os_version", version=version, min=info.min_major)
    warning = NEEDS_PASSCODE_POLICY if info.needs_passcode_policy else ""
    return Decision(row, True, info.scope, info.result, warning=warning)
