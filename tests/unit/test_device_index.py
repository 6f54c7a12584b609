"""The device index the Intune backend answers from (bot/backends/index.py), against a
naive scan; held compactly (bot/backends/compact.py), every field comes back as given."""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import memory
from bot.backends.compact import Builder
from bot.backends.index import DeviceIndex, matches_key, name_order, owned_by
from bot.ports import Device, DeviceFilter
from policy.membership import same_email
from policy.platforms import DeviceFacts

FACTS = DeviceFacts(operating_system="Android", os_version="14")


def device(id_: str, name: str, serial: str = "", email: str = "") -> Device:
    return Device(id=id_, name=name, serial=serial, facts=FACTS, primary_email=email)


FLEET = [
    device("id-3", "Pixel 8", "SER-P8", "alice@example.com"),
    device("id-1", "iPhone", "SERIAL-B", "bob@example.com"),
    device("id-2", "iPhone", "SERIAL-A", "Alice@Example.com"),
    device("id-4", "KIOSK-LOBBY", "R9PT30"),
]


def naive_search(devices: list[Device], text: str, email: str | None, limit: int) -> list[Device]:
    """What search must answer, written the slow and obvious way."""
    needle = text.strip().casefold()
    hits = [
        d for d in sorted(devices, key=name_order)
        if (email is None or same_email(email, d.primary_email))
        and (needle in d.name.casefold() or needle in d.serial.casefold())
    ]  # fmt: skip
    return hits[: max(limit, 0)]


def naive_find(devices: list[Device], query: str, email: str | None, limit: int) -> list[Device]:
    wanted = query.strip().casefold()
    hits = [
        d for d in sorted(devices, key=name_order)
        if wanted and wanted in {d.id.casefold(), d.serial.casefold(), d.name.casefold()}
        and (email is None or same_email(email, d.primary_email))
    ]  # fmt: skip
    return hits[: max(limit, 0)]


def test_search_finds_a_substring_of_name_or_serial_in_name_order() -> None:
    index = DeviceIndex(FLEET)

    assert [d.id for d in index.search("ser")] == ["id-1", "id-2", "id-3"]
    assert [d.id for d in index.search(" IPHONE ")] == ["id-1", "id-2"]
    assert [d.id for d in index.search("r9pt")] == ["id-4"]
    assert [d.id for d in index.search("", limit=2)] == ["id-1", "id-2"]
    assert index.search("no such device") == []


def test_search_keeps_to_one_owner_by_the_same_email_rule() -> None:
    index = DeviceIndex(FLEET)

    assert [d.id for d in index.search("", primary_email=" ALICE@example.com")] == ["id-2", "id-3"]
    assert [d.id for d in index.search("pixel", primary_email="alice@example.com")] == ["id-3"]
    assert index.search("", primary_email="") == []
    assert index.search("kiosk", primary_email="bob@example.com") == []


def test_find_matches_id_serial_or_name_exactly_and_case_insensitively() -> None:
    index = DeviceIndex(FLEET)

    assert [d.id for d in index.find("IPHONE")] == ["id-1", "id-2"]
    assert [d.id for d in index.find("iphone", limit=1)] == ["id-1"]
    assert [d.id for d in index.find("ser-p8")] == ["id-3"]
    assert [d.id for d in index.find(" ID-4 ")] == ["id-4"]
    assert [d.id for d in index.find("iphone", primary_email="bob@example.com")] == ["id-1"]
    assert index.find("iphon") == []
    assert index.find("") == []


def test_get_is_by_id_only() -> None:
    index = DeviceIndex(FLEET)

    assert index.get(" ID-3 ") == FLEET[0]
    assert index.get("Pixel 8") is None


def test_a_device_added_later_is_found_without_a_rebuild_in_name_order() -> None:
    index = DeviceIndex(FLEET)
    new = device("id-5", "iPad", "SER-NEW", "bob@example.com")

    index.add(new)

    assert index.search("ser-new") == [new]
    assert [d.id for d in index.search("i")] == ["id-5", "id-1", "id-2", "id-4", "id-3"]
    assert index.find("ipad") == [new]
    assert index.get("id-5") == new
    assert [d.id for d in index.search("", primary_email="bob@example.com")] == ["id-5", "id-1"]
    assert len(index) == 5


def test_a_refreshed_device_replaces_the_old_one_everywhere() -> None:
    index = DeviceIndex(FLEET)
    renamed = replace(FLEET[0], name="Galaxy S24", serial="SER-G", primary_email="bob@x.org")

    index.add(renamed)

    assert index.search("pixel") == index.find("pixel 8") == index.find("ser-p8") == []
    assert index.search("galaxy") == [renamed] and index.find("ser-g") == [renamed]
    assert index.search("", primary_email="alice@example.com") == [FLEET[2]]
    assert index.search("", primary_email="bob@x.org") == [renamed]
    assert len(index) == 4


def test_a_removed_device_is_gone_from_every_lookup() -> None:
    index = DeviceIndex(FLEET)

    assert index.remove("ID-1") == FLEET[1]
    assert index.remove("id-1") is None

    assert index.get("id-1") is None
    assert [d.id for d in index.find("iphone")] == ["id-2"]
    assert [d.id for d in index.search("serial")] == ["id-2"]
    assert index.search("", primary_email="bob@example.com") == []
    assert len(index) == 3


def test_of_two_devices_with_one_id_the_later_is_kept() -> None:
    index = DeviceIndex([device("x", "old"), device("X", "new")])

    assert [d.name for d in index.search("")] == ["new"]


def test_a_separator_in_a_name_neither_hides_it_nor_matches_a_space() -> None:
    odd = device("id-9", "line\nbreak\x1funit", "S\n1")
    index = DeviceIndex([odd, *FLEET])

    assert index.search("line\nbreak") == [odd]
    assert index.search("break\x1funit") == [odd]
    assert index.search("break") == [odd]
    assert index.search("e b") == []  # the newline is not stored as a space


def test_the_helpers_are_the_same_rules() -> None:
    assert matches_key(FLEET[0], " ser-P8 ")
    assert not matches_key(device("", "a"), "")
    mine = list(owned_by(FLEET, "alice@EXAMPLE.com"))
    assert [d.id for d in mine] == ["id-3", "id-2"]
    assert list(owned_by(FLEET, None)) == FLEET


# -- against a naive scan -----------------------------------------------------------------------

# Characters that make matching hard: case folding that changes length (ß -> ss), the Kelvin
# sign (folds to k), a dotted capital I, the index's own separators, spaces.
TEXT = st.text(alphabet="aAkßs\u212a\u0130 \n\x1f", max_size=5)
EMAILS = st.sampled_from([
    "alice@example.com", "ALICE@example.com ", "bob@example.com", "", "ålice@example.com",
    "a@b@c", "no-at-sign", "\u212aim@example.com", "kim@example.com",
])  # fmt: skip
IDS = st.sampled_from(["d1", "D1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"])
DEVICES = st.builds(device, IDS, TEXT, TEXT, EMAILS)


def unique(devices: list[Device]) -> list[Device]:
    return list({d.id.casefold(): d for d in devices}.values())


@settings(max_examples=300, deadline=None)
@given(
    devices=st.lists(DEVICES, max_size=12),
    text=TEXT,
    email=st.none() | EMAILS,
    limit=st.integers(-1, 6),
)
def test_search_and_find_answer_what_a_naive_scan_does(
    devices: list[Device], text: str, email: str | None, limit: int
) -> None:
    index = DeviceIndex(devices)
    kept = unique(devices)

    assert index.search(text, primary_email=email, limit=limit) == naive_search(
        kept, text, email, limit
    )
    assert index.find(text, primary_email=email, limit=limit) == naive_find(
        kept, text, email, limit
    )


CHANGE = st.tuples(st.sampled_from(["add", "remove"]), DEVICES)


@settings(max_examples=300, deadline=None)

def changed_index(devices: list[Device], changes: list[tuple[str, Device]], rebuild_after: int
                  ) -> tuple[DeviceIndex, dict[str, Device]]:
    """An index of ``devices`` after ``changes`` (adds and removes), and a dict of what it
    should then hold by case-folded id; each remove takes out what the dict says it holds."""
    index = DeviceIndex(devices, rebuild_after=rebuild_after)
    model = {d.id.casefold(): d for d in devices}
    for what, changed in changes:
        if what == "add":
            index.add(changed)
            model[changed.id.casefold()] = changed
        else:
            assert index.remove(changed.id) == model.pop(changed.id.casefold(), None)
    return index, model

@given(
    devices=st.lists(DEVICES, max_size=8),
    changes=st.lists(CHANGE, max_size=12),
    rebuild_after=st.integers(1, 6),
    text=TEXT,
    email=st.none() | EMAILS,
)
def test_after_adds_and_removes_it_answers_as_a_fresh_scan_would(
    devices: list[Device],
    changes: list[tuple[str, Device]],
    rebuild_after: int,
    text: str,
    email: str | None,
) -> None:
    """Whether the search string was rebuilt since (small ``rebuild_after``) or not."""
    index, model = changed_index(devices, changes, rebuild_after)
    kept = list(model.values())

    assert len(index) == len(kept)
    assert list(index) == sorted(kept, key=name_order)
    assert index.search(text, primary_email=email) == naive_search(kept, text, email, 100)
    assert index.find(text, primary_email=email) == naive_find(kept, text, email, 10)
    for d in kept:
        assert index.get(d.id.upper()) == d


@pytest.mark.parametrize("limit", [0, 1, 3])
def test_search_stops_at_the_limit(limit: int) -> None:
    fleet = [device(f"id-{i}", f"phone-{i:02d}", f"S{i}") for i in range(20)]
    index = DeviceIndex(fleet)

    assert index.search("phone", limit=limit) == fleet[:limit]


# -- a scope filter (an Intune RBAC scope): bounded lookups answer as a filtered scan does ------


def _scoped_fleet(n: int) -> list[Device]:
    return [replace(device(f"id-{i}", f"DEV-{i % 7}-{i:04d}", f"SN{i:05d}"),
                    scope_tags=frozenset({"7"}) if i % 13 == 0 else frozenset(),
                    entra_device_id=f"aad-{i}", listed_user_id=f"u{i % 50}")
            for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(
    entra=st.frozensets(st.integers(0, 399), max_size=120),
    users=st.frozensets(st.integers(0, 49), max_size=8),
    tags=st.sampled_from([None, frozenset({"7"}), frozenset({"0"}), frozenset({"0", "7"})]),
    grouped=st.booleans(),
    text=st.sampled_from(["", "dev-3", "sn001", "-1-", "zz"]),
    limit=st.integers(0, 40),
    churn=st.booleans(),
)
def test_a_bounded_scope_search_answers_as_the_filtered_scan(
    entra: frozenset[int], users: frozenset[int], tags: frozenset[str] | None,
    grouped: bool, text: str, limit: int, churn: bool,
) -> None:
    fleet = _scoped_fleet(400)
    index = DeviceIndex(fleet)
    aad = frozenset(f"aad-{i}" for i in entra)
    who = frozenset(f"u{i}" for i in users)

    def admits(d: Device) -> bool:
        in_tags = tags is None or bool(tags & (d.scope_tags or {"0"}))
        in_groups = not grouped or d.entra_device_id in aad or d.listed_user_id in who
        return in_tags and in_groups

    keep = DeviceFilter(admits, tags, aad if grouped else None, who if grouped else frozenset())
    assert index.search(text, limit=limit, keep=keep) == [
        d for d in naive_search(fleet, text, None, 10_000) if admits(d)][:limit]
    if churn:  # a device moves out, another comes in: the kept bound is not reused stale
        moved = replace(fleet[13], entra_device_id="aad-elsewhere", scope_tags=frozenset())
        index.add(moved)
        index.remove(fleet[26].id)
        now = [moved if d.id == moved.id else d for d in fleet if d.id != fleet[26].id]
        assert index.search(text, limit=limit, keep=keep) == [
            d for d in naive_search(now, text, None, 10_000) if admits(d)][:limit]


# -- held compactly (bot/backends/compact.py): every field comes back as given -----------------

UTC_SYNC = datetime(2026, 11, 30, 8, 15, 1, 123456, tzinfo=UTC)
OTHER_SYNC = datetime(2026, 11, 30, 9, 15, tzinfo=timezone(timedelta(hours=1)))
FULL = st.builds(
    Device, id=IDS, name=TEXT, serial=TEXT,
    facts=st.sampled_from([FACTS, DeviceFacts("iOS", "17.5", "appleBulkWithUser")]),
    primary_email=EMAILS, primary_name=st.sampled_from(["", "Alice A", "Bob\n"]),
    primary_user_id=st.sampled_from(["", "u-1", "u-2"]),
    has_passcode_policy=st.sampled_from([None, True, False]),
    last_sync=st.sampled_from([None, UTC_SYNC, OTHER_SYNC, datetime(1999, 1, 1)]),
    scope_tags=st.sampled_from([frozenset(), frozenset({"0"}), frozenset({"0", "7"})]),
    entra_device_id=st.sampled_from(["", "aad-1", "aad-2"]),
    listed_user_id=st.sampled_from(["", "u-1", "u-3"]),
)


@settings(max_examples=200, deadline=None)
@given(devices=st.lists(FULL, max_size=10), changes=st.lists(CHANGE, max_size=6),
       rebuild_after=st.integers(1, 4))
def test_every_field_of_every_device_comes_back_as_given(
    devices: list[Device], changes: list[tuple[str, Device]], rebuild_after: int
) -> None:
    """Equal, and so are the last syncs' time zones: the Intune backend's learn() keeps a
    device found again only when it differs from the one held."""
    index, model = changed_index(devices, changes, rebuild_after)
    assert list(index) == sorted(model.values(), key=name_order)
    for d in model.values():
        held = index.get(d.id)
        assert held == d
        assert held is not None and held.last_sync == d.last_sync
        assert (held.last_sync.utcoffset() if held.last_sync else None) == (
            d.last_sync.utcoffset() if d.last_sync else None)


def test_a_builder_fed_page_by_page_keeps_the_later_of_two_with_one_id() -> None:
    """The Intune backend's full load: devices found live while the list was read come after
    it, and win."""
    built = Builder()
    old = device("ID-9", "Pixel", "S9", "alice@example.com")
    new = replace(old, id="id-9", name="Pixel 9")
    for d in [old, *FLEET, new]:
        built.add(d)
    index = DeviceIndex(built)

    assert len(index) == len(FLEET) + 1
    assert [d.name for d in index.search("pixel")] == ["Pixel 8", "Pixel 9"]
    assert index.get("ID-9") == new
    assert index.find("pixel") == []  # the old name is gone with it
    assert index.find("s9") == [new]


def test_a_builder_keeps_no_device_object() -> None:
    """What keeps a full load's freed memory from staying with the allocator: no device
    taken in lives on until the build."""
    built = Builder()
    phone = device("id-9", "Phone", "S9")
    held = sys.getrefcount(phone)
    built.add(phone)
    assert sys.getrefcount(phone) == held


def test_giving_memory_back_forgets_the_split_urls_of_the_pages_read() -> None:
    urlsplit("https://graph.example/v1.0/deviceManagement/managedDevices?$skiptoken=1")
    assert urlsplit.cache_info().currsize > 0  # type: ignore[attr-defined]
    memory.give_back()
    assert urlsplit.cache_info().currsize == 0  # type: ignore[attr-defined]
