"""What the approvals post warns about before anyone clicks, when the backend can tell (issue 12
point 8). Each warning is a code and its values; the surface words them from the catalogs
(``warning.<code>``, handlers/views/words.py). A request stores its warnings' codes in
``warning``, space-separated, and their values in ``warning_params`` (no two codes share a
value's name).

Android "no passcode policy assigned" is said only from what the backend knows
(``Device.has_passcode_policy``, request.py): Graph documents no single read that tells
whether a device has a passcode policy, so on Intune nothing is guessed beyond the row's own
rule (policy/platforms.py: the reset needs a policy)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.ports import Device
from policy.platforms import Decision, Result

STALE_CHECKIN = "stale_checkin"  # values: days
IOS_UNLOCK_TOKEN = "ios_unlock_token"
UNCONFIRMED_EARLIER = "unconfirmed_earlier"  # values: id (the earlier request)


def warning_codes(device: Device, decision: Decision, now: datetime, stale_days: int,
                  unconfirmed: str = "") -> list[tuple[str, dict[str, int | str]]]:
    """The warnings for this device, as codes and values; ``unconfirmed``: the id of an
    earlier request for it whose reset Intune never confirmed."""
    found: list[tuple[str, dict[str, int | str]]] = []
    if unconfirmed:
        found.append((UNCONFIRMED_EARLIER, {"id": unconfirmed}))
    if stale_days > 0 and device.last_sync is not None:
        # lastSyncDateTime: the device's last check-in; the queued reset waits for the next.
        age = now - device.last_sync
        if age > timedelta(days=stale_days):
            found.append((STALE_CHECKIN, {"days": age.days}))
    if decision.allowed and decision.result is Result.PASSCODE_REMOVED:
        # Intune's remove-passcode page: a wrong unlock token makes removal fail; then wipe.
        found.append((IOS_UNLOCK_TOKEN, {}))
    return found


def combine(first: str, more: list[tuple[str, dict[str, int | str]]]
            ) -> tuple[str, dict[str, str | int]]:
    """``first`` (policy's warning code, or "") and ``more`` as a request stores them: the
    codes space-separated, their values in one mapping."""
    codes = [first] if first else []
    params: dict[str, str | int] = {}
    for code, values in more:
        codes.append(code)
        params.update(values)
    return " ".join(codes), params
