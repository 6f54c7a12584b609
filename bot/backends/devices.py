"""managedDevice JSON (Graph's shape, also the FLEET_FILE's) -> Device: one mapping for both
backends, so a device is classified the same whether it is simulated or real."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.ports import Device
from policy.platforms import DeviceFacts

# The managedDevice properties the bot reads; Graph calls $select with these (beta: deviceType
# and ownerType exist only there, and tell Android device administrator from a work profile).
SELECT_FIELDS = (
    "id",
    "deviceName",
    "serialNumber",
    "operatingSystem",
    "osVersion",
    "deviceEnrollmentType",
    "deviceType",
    "managementAgent",
    "managedDeviceOwnerType",
    "ownerType",
    "userPrincipalName",
    "emailAddress",
    "userDisplayName",
    "lastSyncDateTime",  # the approvals post warns about a device that has not checked in
    # What places it in an Intune RBAC scope (the picker's scope filter, bot/roles_graph.py).
    "roleScopeTagIds",
    "azureADDeviceId",
    "userId",
)


def _text(obj: Mapping[str, Any], key: str) -> str:
    """A property as text. Graph's enums are strings, but a number (an enum's ordinal) or
    an object where a string belongs is kept as what it is, so classification refuses it by
    name instead of crashing or reading it as empty (issue 12 point 9)."""
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value).strip()[:200]
    return f"<{type(value).__name__}>"


def device_from_graph(obj: Mapping[str, Any], has_passcode_policy: bool | None = None) -> Device:
    facts = DeviceFacts(
        operating_system=_text(obj, "operatingSystem"),
        os_version=_text(obj, "osVersion"),
        enrollment_type=_text(obj, "deviceEnrollmentType"),
        device_type=_text(obj, "deviceType"),
        management_agent=_text(obj, "managementAgent"),
        owner_type=_text(obj, "managedDeviceOwnerType") or _text(obj, "ownerType"),
    )
    return Device(
        id=_text(obj, "id"),
        name=_text(obj, "deviceName"),
        serial=_text(obj, "serialNumber"),
        facts=facts,
        primary_email=_text(obj, "emailAddress") or _text(obj, "userPrincipalName"),
        primary_name=_text(obj, "userDisplayName"),
        has_passcode_policy=has_passcode_policy,
        last_sync=_moment(obj.get("lastSyncDateTime")),
        scope_tags=_tags(obj.get("roleScopeTagIds")),
        entra_device_id=_text(obj, "azureADDeviceId").lower(),
        listed_user_id=_text(obj, "userId"),
    )


_TAG_SETS: dict[frozenset[str], frozenset[str]] = {}  # one object per distinct set of tags


def _tags(value: object) -> frozenset[str]:
    """roleScopeTagIds as a set; a fleet has few distinct ones, so each is kept once (100,000
    devices' copies of {"0"} would be ~20 MB)."""
    if not isinstance(value, list):
        return frozenset()
    tags = frozenset(v.strip()[:64] for v in value if isinstance(v, str) and v.strip())
    if len(_TAG_SETS) >= 4096:
        return tags
    return _TAG_SETS.setdefault(tags, tags)


def _moment(value: object) -> datetime | None:
    """A Graph DateTimeOffset; None when absent, unreadable, or Intune's "never"
    (0001-01-01)."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None or moment.year < 2000:
        return None
    return moment
