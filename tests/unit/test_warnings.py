"""Warnings before the click (issue 12 point 8): said when the backend can tell, in the words
of the en catalog."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.backends.devices import device_from_graph
from bot.usecases.warnings import ENGLISH, before_click, warning_codes
from handlers.i18n import t
from policy.platforms import decide

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def graph_device(**extra: object) -> dict[str, object]:
    return {"id": "d1", "deviceName": "pixel", "operatingSystem": "Android", "osVersion": "14",
            "deviceEnrollmentType": "androidEnterpriseFullyManaged",
            "deviceType": "androidEnterprise", **extra}


def test_the_english_words_are_the_catalogs() -> None:
    for key, words in ENGLISH.items():
        assert t("en", key, days=12, id="PR-X") == words.format(days=12, id="PR-X")
        for locale in ("sv", "it", "ro"):
            assert t(locale, key, days=12, id="PR-X") != t("en", key, days=12, id="PR-X")


def test_a_device_that_has_not_checked_in_for_long_is_named() -> None:
    old = device_from_graph(graph_device(lastSyncDateTime="2026-11-01T08:00:00.1234567Z"))
    assert old.last_sync is not None
    assert warning_codes(old, decide(old.facts), NOW, 7) == [("warn.stale_checkin", {"days": 30})]
    assert "30 days ago" in before_click(old, decide(old.facts), NOW, 7)[0]
    assert warning_codes(old, decide(old.facts), NOW, 0) == []  # switched off


def test_a_recent_unknown_or_never_check_in_says_nothing() -> None:
    for value in ("2026-11-30T08:00:00Z", None, "", "0001-01-01T00:00:00Z", "garbage"):
        device = device_from_graph(graph_device(lastSyncDateTime=value))
        assert warning_codes(device, decide(device.facts), NOW, 7) == []


def test_ios_removal_warns_about_the_unlock_token() -> None:
    phone = device_from_graph({"id": "i1", "operatingSystem": "iOS", "osVersion": "17.4",
                               "deviceEnrollmentType": "appleBulkWithUser",
                               "lastSyncDateTime": (NOW - timedelta(hours=1)).isoformat()})
    assert warning_codes(phone, decide(phone.facts), NOW, 7) == [("warn.ios_unlock_token", {})]
