"""Migration 4's data step: the English that versions before it stored (refusal reasons and
hints, approver warnings, the failures the service worded itself) becomes codes with values.

The English here is history, frozen as those versions wrote it: it is read once, by the
migration, and never written again. A text this table does not know is kept whole, as a
value of a generic code (``legacy``) that the surface shows as a literal."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.storage.connection import Tx


LEGACY = "legacy"  # a stored text no rule is known for: {"text": ..., "hint": ...}

_ROW_REASONS = {
    "Google removed passcode reset from device-administrator apps on Android 7.0 and later, "
    "for every device-management vendor.": "row.android_device_admin_7_plus",
    "Apple does not allow an MDM to clear the passcode of a User Enrollment device.":
        "row.ios_user_enrollment",
    "Intune cannot reset or remove a passcode on macOS.": "row.macos",
    "Intune cannot reset a Windows password or Windows Hello PIN remotely.": "row.windows",
    "The device's platform or enrollment type is not one this bot knows how to reset.":
        "row.unknown",
}
_EXACT_REFUSALS = {
    **_ROW_REASONS,
    "This is a shared device with no primary user; only the helpdesk can request a passcode "
    "reset for it.": "userless",
    "This device is not registered to you. You can request a reset only for a device whose "
    "primary user is you; ask the helpdesk to request it for someone else.": "not_yours",
    "A device-level passcode reset is not supported on Android work-profile devices.":
        "scope.device_on_work_profile",
}
_NO_WORK_PROFILE = re.compile(r"(?s).+ devices have no separate work profile to reset\.")
_UNKNOWN_VERSION = re.compile(r"(?s)The device reports an unknown OS version \((.*)\)\.")
_OLD_VERSION = re.compile(r"(?s)A (?:device|work-profile) passcode reset on .+ needs Android "
                          r"(\d+)\.0 or later; this device runs (.*)\.")

_WARNINGS = {
    "This reset only works when a device passcode policy is assigned to the device; without "
    "one it fails.": "needs_passcode_policy",
    "No device passcode policy is assigned to this device, so the reset will fail.":
        "no_passcode_policy",
}

_FAILURES = {
    "The device is no longer managed by Intune.": "device_gone",
    "The device's primary user changed after this request was made, so nothing was reset. "
    "Ask again if you still need it.": "owner_changed",
    "The device did not confirm the reset in time. It may still apply when the device next "
    "checks in; ask the helpdesk to look in the Intune admin center before trying again.":
        "unconfirmed",
}
_UNREACHABLE = re.compile(
    r"Intune, the device-management service, could not be reached for (\d+) "
    r"(hours|minutes|seconds), so (the passcode was not reset|the result of the passcode reset "
    r"is unknown|the bot cannot tell whether the passcode was reset)\..*", re.DOTALL)
_UNREACHABLE_ENDINGS = {
    "the passcode was not reset": "unreachable.not_started",
    "the result of the passcode reset is unknown": "unreachable.started",
    "the bot cannot tell whether the passcode was reset": "unreachable.unknown",
}
_SECONDS = {"hours": 3600, "minutes": 60, "seconds": 1}


def refusal(reason: str, hint: str) -> tuple[str, dict[str, Any]]:
    """A stored refusal's code and values, from the English reason it was stored as."""
    if not reason:
        return "", {}
    if reason in _EXACT_REFUSALS:
        return _EXACT_REFUSALS[reason], {}
    if _NO_WORK_PROFILE.fullmatch(reason):
        return "scope.no_work_profile", {}
    if found := _UNKNOWN_VERSION.fullmatch(reason):
        version = found.group(1)
        return "unknown_os_version", {"version": "" if version == "none" else version}
    if found := _OLD_VERSION.fullmatch(reason):
        return "old_os_version", {"version": found.group(2), "min": int(found.group(1))}
    return LEGACY, {"text": reason, "hint": hint}


def warning(text: str) -> tuple[str, dict[str, Any]]:
    if not text:
        return "", {}
    if text in _WARNINGS:
        return _WARNINGS[text], {}
    return LEGACY, {"text": text}


def failure(code: str, detail: str) -> tuple[str, dict[str, Any]]:
    """A failure's backend detail (kept) and our words' code and values (the detail goes)."""
    if code == "not_supported" and detail in _ROW_REASONS:  # the simulated fleet's words
        return "", {"words": "not_supported"}
    if code not in {"timed_out", "device_not_found", "owner_changed"}:
        return detail, {}
    if detail in _FAILURES:
        return "", {"words": _FAILURES[detail]}
    if found := _UNREACHABLE.fullmatch(detail):
        seconds = int(found.group(1)) * _SECONDS[found.group(2)]
        return "", {"words": _UNREACHABLE_ENDINGS[found.group(3)], "seconds": seconds}
    return detail, {}  # shown as the literal it is


async def convert(tx: Tx) -> None:
    """Every stored row's English as codes with values; then the English columns are emptied
    (not dropped: migrations only add, so a replica of the previous release keeps working)."""
    rows = await tx.fetch(
        "SELECT id, reason, hint, warning, failure_code, failure_detail FROM requests"
        " WHERE reason != '' OR hint != '' OR warning != '' OR failure_detail != ''"
    )
    for row in rows:
        code, params = refusal(row["reason"], row["hint"])
        warn, warn_params = warning(row["warning"])
        detail, failure_params = failure(row["failure_code"], row["failure_detail"])
        await tx.execute(
            "UPDATE requests SET refusal = ?, refusal_params = ?, warning = ?,"
            " warning_params = ?, failure_detail = ?, failure_params = ? WHERE id = ?",
            (code, _json(params), warn, _json(warn_params), detail, _json(failure_params),
             row["id"]),
        )
    await tx.execute("UPDATE requests SET reason = '', hint = '' WHERE reason != '' OR hint != ''")


def _json(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True)
