"""What the approvals post warns about before anyone clicks, when the backend can tell (issue 12
point 8). Each warning is a catalog key, its values, and its English words (the approvals post
is English; tests/unit/test_warnings.py checks these words are the en catalog's).

Android "no passcode policy assigned" is said only from what the backend knows
(``Device.has_passcode_policy``, request.py): Graph documents no single read that tells
whether a device has a passcode policy, so on Intune nothing is guessed beyond the row's own
rule (policy/platforms.py: the reset needs a policy)."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.ports import Device
from policy.platforms import Decision, Result

ENGLISH = {
    "warn.stale_checkin": ("The device last checked in with Intune {days} days ago: the reset "
                           "runs only when it next connects."),
    "warn.ios_unlock_token": ("If removing the passcode fails, Intune may hold a wrong unlock "
                              "token for this device; then only a wipe gives access back."),
    "warn.unconfirmed_earlier": ("An earlier reset of this device ({id}) is unconfirmed: check "
                                 "the device's actions in Intune first, so it is not reset "
                                 "twice."),
}


def warning_codes(device: Device, decision: Decision, now: datetime, stale_days: int,
                  unconfirmed: str = "") -> list[tuple[str, dict[str, int | str]]]:
    """The warnings for this device, as catalog keys and values; ``unconfirmed``: the id of
    an earlier request for it whose reset Intune never confirmed."""
    found: list[tuple[str, dict[str, int | str]]] = []
    if unconfirmed:
        found.append(("warn.unconfirmed_earlier", {"id": unconfirmed}))
    if stale_days > 0 and device.last_sync is not None:
        # lastSyncDateTime: the device's last check-in; the queued reset waits for the next.
        age = now - device.last_sync
        if age > timedelta(days=stale_days):
            found.append(("warn.stale_checkin", {"days": age.days}))
    if decision.allowed and decision.result is Result.PASSCODE_REMOVED:
        # Intune's remove-passcode page: a wrong unlock token makes removal fail; then wipe.
        found.append(("warn.ios_unlock_token", {}))
    return found


def before_click(device: Device, decision: Decision, now: datetime, stale_days: int,
                 unconfirmed: str = "") -> list[str]:
    """The warnings in English, for the request's ``warning``."""
    return [ENGLISH[key].format(**values)
            for key, values in warning_codes(device, decision, now, stale_days, unconfirmed)]
