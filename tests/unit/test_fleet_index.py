"""The simulated fleet's compact index (bot/backends/fleet_index.py) answers as DeviceIndex,
the index both backends' rules are defined in, for any fleet and any query: fields and queries
drawn from an alphabet full of case pairs and of the separators the compact string uses."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.backends.devices import device_from_graph
from bot.backends.fleet import UNMARKED, Marks
from bot.backends.fleet_demo import synthetic_fleet
from bot.backends.fleet_index import CompactFleet
from bot.backends.index import DeviceIndex
from bot.ports import Device, DeviceFilter
from policy.platforms import DeviceFacts

ALPHABET = "aAbB-1ßSs\n\x1f\x1e K"
FACTS = (DeviceFacts("Android", "14"), DeviceFacts("iOS", "17.5"))
EMAILS = ("", "alice@example.com", "Alice@Example.COM", "bob@example.com", "not an address")
text = st.text(ALPHABET, max_size=4)


@st.composite
def fleets(draw: st.DrawFn) -> list[Device]:
    ids = draw(st.lists(text.filter(lambda t: t.strip() != ""), max_size=12,
                        unique_by=lambda t: t.casefold()))
    return [Device(id=id_, name=draw(text), serial=draw(text), facts=draw(st.sampled_from(FACTS)),
                   primary_email=draw(st.sampled_from(EMAILS)),
                   primary_user_id=draw(st.sampled_from(("", "u1", "u2"))),
                   has_passcode_policy=draw(st.sampled_from((None, True, False))),
                   last_sync=draw(st.sampled_from((None, datetime(2026, 1, 2, tzinfo=UTC)))))
            for id_ in ids]


def both(devices: list[Device]) -> tuple[DeviceIndex, CompactFleet]:
    return DeviceIndex(devices), CompactFleet((d, d.primary_user_id, UNMARKED) for d in devices)


@settings(max_examples=300, deadline=None)
@given(fleets(), text, st.sampled_from((None, *EMAILS)), st.integers(0, 5))
def test_answers_as_the_device_index(devices: list[Device], query: str, email: str | None,
                                     limit: int) -> None:
    index, compact = both(devices)
    assert list(compact) == list(index)
    assert compact.find(query, primary_email=email, limit=limit) == index.find(
        query, primary_email=email, limit=limit)
    assert compact.search(query, primary_email=email, limit=limit) == index.search(
        query, primary_email=email, limit=limit)
    # An approver's scope filter (RoleDirectory.device_filter) keeps the same devices.
    keep = DeviceFilter(lambda d: d.primary_user_id == "u1")
    assert compact.search(query, primary_email=email, limit=limit, keep=keep) == index.search(
        query, primary_email=email, limit=limit, keep=keep)
    assert compact.get(query) == index.get(query)
    for device in devices:
        assert compact.get(f" {device.id.upper()} ") == index.get(device.id.upper())
        assert compact.find(device.name) == index.find(device.name)
        assert compact.find(device.serial) == index.find(device.serial)
        owned = [d for d in index if d.primary_user_id == device.primary_user_id]
        if device.primary_user_id:
            assert list(compact.owned(device.primary_user_id)) == owned


def test_a_synthetic_fleet_answers_as_the_device_index() -> None:
    devices = [device_from_graph(e) for e in synthetic_fleet(3_000, seed=3)]
    index, compact = both(devices)
    assert list(compact) == list(index)
    for query in ("iphone", "PIXEL8-0000", "-00", "a", "zzz", devices[7].serial.lower()):
        assert compact.search(query, limit=50) == index.search(query, limit=50)
    for device in devices[::97]:
        for key in (device.id, device.serial, device.name.lower()):
            assert compact.find(key) == index.find(key)
        email = device.primary_email or None
        assert compact.search("", primary_email=email) == index.search("", primary_email=email)


def test_marks_stay_with_their_device() -> None:
    failing = Marks(fail="The device said no.")
    devices = [device_from_graph(e) for e in synthetic_fleet(50)]
    compact = CompactFleet((d, d.primary_user_id, failing if i % 7 == 0 else UNMARKED)
                           for i, d in enumerate(devices))
    for i, device in enumerate(devices):
        at = compact.position(device.id)
        assert at is not None and compact.device(at) == device
        assert compact.marks(at) == (failing if i % 7 == 0 else UNMARKED)
    assert compact.position("no such id") is None
