"""Warnings before the click (issue 12 point 8): said when the backend can tell, stored as codes
with values, worded from the four catalogs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.backends.devices import device_from_graph
from bot.domain import ResetRequest, State
from bot.usecases.warnings import (
    IOS_UNLOCK_TOKEN,
    STALE_CHECKIN,
    UNCONFIRMED_EARLIER,
    combine,
    warning_codes,
)
from handlers.views.i18n import t
from handlers.views.words import warning_text
from policy.platforms import NEEDS_PASSCODE_POLICY, Result, Row, Scope, decide

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def graph_device(**extra: object) -> dict[str, object]:
    return {"id": "d1", "deviceName": "pixel", "operatingSystem": "Android", "osVersion": "14",
            "deviceEnrollmentType": "androidEnterpriseFullyManaged",
            "deviceType": "androidEnterprise", **extra}


def warned(codes: str, params: dict[str, str | int]) -> ResetRequest:
    return ResetRequest("PR-ABCDEF", "UALICE", "alice@example.com", "d1", "pixel", "S1",
                        "alice@example.com", Row.AE_FULLY_MANAGED, Scope.DEVICE,
                        Result.TEMPORARY_PASSCODE, State.AWAITING_APPROVAL, NOW, NOW,
                        warning=codes, warning_params=params)


def test_every_warning_has_words_in_the_four_languages() -> None:
    for code in (STALE_CHECKIN, IOS_UNLOCK_TOKEN, UNCONFIRMED_EARLIER):
        english = t("en", f"warning.{code}", days=12, id="PR-X")
        for locale in ("sv", "it", "ro"):
            assert t(locale, f"warning.{code}", days=12, id="PR-X") != english


def test_several_warnings_are_stored_as_codes_and_worded_together() -> None:
    codes, params = combine(NEEDS_PASSCODE_POLICY, [(STALE_CHECKIN, {"days": 30}),
                                                    (UNCONFIRMED_EARLIER, {"id": "PR-OLD"})])
    assert codes == "needs_passcode_policy stale_checkin unconfirmed_earlier"
    assert params == {"days": 30, "id": "PR-OLD"}
    text = warning_text(warned(codes, params))
    assert "passcode policy" in text and "30 days ago" in text and "PR-OLD" in text
    assert "30" in warning_text(warned(codes, params), "sv")
    assert combine("", []) == ("", {})


def test_a_device_that_has_not_checked_in_for_long_is_named() -> None:
    old = device_from_graph(graph_device(lastSyncDateTime="2026-11-01T08:00:00.1234567Z"))
    assert old.last_sync is not None
    assert warning_codes(old, decide(old.facts), NOW, 7) == [(STALE_CHECKIN, {"days": 30})]
    assert warning_codes(old, decide(old.facts), NOW, 0) == []  # switched off


def test_a_recent_unknown_or_never_check_in_says_nothing() -> None:
    for value in ("2026-11-30T08:00:00Z", None, "", "0001-01-01T00:00:00Z", "garbage"):
        device = device_from_graph(graph_device(lastSyncDateTime=value))
        assert warning_codes(device, decide(device.facts), NOW, 7) == []


def test_ios_removal_warns_about_the_unlock_token() -> None:
    phone = device_from_graph({"id": "i1", "operatingSystem": "iOS", "osVersion": "17.4",
                               "deviceEnrollmentType": "appleBulkWithUser",
                               "lastSyncDateTime": (NOW - timedelta(hours=1)).isoformat()})
    assert warning_codes(phone, decide(phone.facts), NOW, 7) == [(IOS_UNLOCK_TOKEN, {})]
