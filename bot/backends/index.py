"""The device index both backends answer from: exact lookup by Intune id, serial number or
name, the picker's substring search in name order, and the owner filter, each defined once.

Pure (no I/O): the simulated backend fills it from its fleet, the Intune backend from Graph's
device list; either can put one refreshed or newly found device in, or take one out, without
a rebuild.

How it is fast at 100,000 devices:

- Exact lookups, the owner's devices and ids are dicts of lists kept in name order: O(1).
- Substring search scans one string holding "name<US>serial<LF>" of every device in name
  order with ``str.find``: a C loop over ~4 MB at 100,000 devices rather than 100,000 Python
  comparisons. Worst case O(total characters), stopping at the ``limit``-th hit; each hit
  finds its device by bisecting the record start offsets, O(log n).
- That string is built once; a device added or replaced later waits in a short list in name
  order (scanned in Python and merged in), a removed or replaced one is skipped by position,
  and after ``rebuild_after`` such changes (or one per 128 devices, if more) the string is
  built again.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from collections.abc import Iterable, Iterator

from bot.ports import Device, DeviceFilter
from policy.intune_rbac import DEFAULT_TAG
from policy.membership import email_key, same_email

# A separator in a name or serial is stored as the field separator, so a needle without one
# (the check below) matches the string exactly where it matches a name or a serial.
_FIELD_END = "\x1f"
_RECORD_END = "\n"
# Changes since the search string was built before it is built again: at least this many, or
# one per this share of the devices, so a rebuild (O(n)) stays rare next to the changes.
REBUILD_AFTER = 256
_REBUILD_SHARE = 128
# A filter bound to at most one device in SPARSE of the index (a small RBAC scope) is searched
# over its own devices: scanning the fleet for its few would ask it of every device (the
# devices ahead of its first in name order may all be out of it).
SPARSE = 4
WITHIN_CACHED = 64  # filters (approvers' scopes) whose bounded devices are kept


def name_order(device: Device) -> tuple[str, str]:
    """The order every answer comes in: by name, case-insensitive, then by id."""
    return device.name.casefold(), device.id


def exact_keys(device: Device) -> set[str]:
    """What an exact lookup matches: the id, serial and name, case-insensitive."""
    keys = (device.id.casefold(), device.serial.casefold(), device.name.casefold())
    return {key for key in keys if key}


def matches_key(device: Device, key: str) -> bool:
    """Whether ``key`` names the device exactly: its id, serial or name, case-insensitive."""
    return key.strip().casefold() in exact_keys(device)


def contains(device: Device, needle: str) -> bool:
    """Whether the name or serial contains ``needle`` (already case-folded)."""
    return needle in device.name.casefold() or needle in device.serial.casefold()


def owned_by(devices: Iterable[Device], primary_email: str | None) -> Iterator[Device]:
    """The devices whose primary user is ``primary_email`` (``same_email``); all when None."""
    if primary_email is None:
        return iter(devices)
    return (d for d in devices if same_email(primary_email, d.primary_email))


class DeviceIndex:
    """Devices by id, by exact key, by owner, and searchable by substring in name order."""

    def __init__(self, devices: Iterable[Device] = (), *, rebuild_after: int = REBUILD_AFTER):
        """Index ``devices``; of two with the same id (case-insensitive) the later is kept."""
        self._rebuild_after = max(rebuild_after, 1)
        latest = {d.id.casefold(): d for d in devices}
        ordered = sorted(latest.values(), key=name_order)
        self._by_id: dict[str, Device] = {}
        self._by_key: dict[str, list[Device]] = {}
        self._by_owner: dict[str, list[Device]] = {}
        # Scope facts (bounded searches, below): by Entra device and by listed user (a few
        # devices each); by scope tag other than Default, id -> device (tags can be big).
        self._by_entra: dict[str, list[Device]] = {}
        self._by_user: dict[str, list[Device]] = {}
        self._by_tag: dict[str, dict[str, Device]] = {}
        self._changes = 0  # adds and removes so far: a cached bound is stale once it moves
        self._within_cache: dict[int, tuple[DeviceFilter, int, list[Device] | None]] = {}
        for device in ordered:  # in name order, so every list is in name order too
            self._scope_add(device)
            self._by_id[device.id.casefold()] = device
            for key in exact_keys(device):
                self._by_key.setdefault(key, []).append(device)
            owner = email_key(device.primary_email)  # "" for none, or one that matches nobody
            if owner:
                self._by_owner.setdefault(owner, []).append(device)
        self._build(ordered)

    def _build(self, ordered: list[Device]) -> None:
        """The search string over ``ordered`` (all devices, in name order)."""
        records = [
            f"{_searchable(d.name)}{_FIELD_END}{_searchable(d.serial)}{_RECORD_END}"
            for d in ordered
        ]
        self._base = ordered
        self._haystack = "".join(records)
        self._starts = list(itertools.accumulate(map(len, records), initial=0))
        self._position = {d.id.casefold(): i for i, d in enumerate(ordered)}
        self._gone: set[int] = set()  # positions in _base removed or replaced since the build
        self._fresh: list[Device] = []  # devices added since the build, in name order

    def __len__(self) -> int:
        return len(self._by_id)

    # -- changes -----------------------------------------------------------------------------

    def add(self, device: Device) -> None:
        """Put one device in, replacing the one with its id if there is one."""
        self.remove(device.id)
        self._by_id[device.id.casefold()] = device
        for key in exact_keys(device):
            bisect.insort(self._by_key.setdefault(key, []), device, key=name_order)
        owner = email_key(device.primary_email)
        if owner:
            bisect.insort(self._by_owner.setdefault(owner, []), device, key=name_order)
        self._scope_add(device)
        self._changes += 1
        bisect.insort(self._fresh, device, key=name_order)
        self._rebuild_if_due()

    def remove(self, device_id: str) -> Device | None:
        """Take the device with this id out; the device, or None when there was none."""
        key = device_id.strip().casefold()
        device = self._by_id.pop(key, None)
        if device is None:
            return None
        self._changes += 1
        for exact in exact_keys(device):
            _drop(self._by_key, exact, device)
        _drop(self._by_owner, email_key(device.primary_email), device)
        _drop(self._by_entra, device.entra_device_id, device)
        _drop(self._by_user, device.listed_user_id, device)
        for tag in device.scope_tags - {DEFAULT_TAG}:
            held = self._by_tag.get(tag, {})
            if held.pop(key, None) is not None and not held:
                del self._by_tag[tag]
        position = self._position.pop(key, None)
        if position is None:
            self._fresh = [d for d in self._fresh if d is not device]
        else:
            self._gone.add(position)
        self._rebuild_if_due()
        return device

    def _rebuild_if_due(self) -> None:
        changes = len(self._fresh) + len(self._gone)
        if changes >= max(self._rebuild_after, len(self._base) // _REBUILD_SHARE):
            self._build(sorted(self._by_id.values(), key=name_order))

    # -- lookups -----------------------------------------------------------------------------

    def get(self, device_id: str) -> Device | None:
        """The device with this id, case-insensitive."""
        return self._by_id.get(device_id.strip().casefold())

    def find(self, query: str, *, primary_email: str | None = None, limit: int = 10
             ) -> list[Device]:
        """Devices whose id, serial or name equals ``query`` (``matches_key``), in name order,
        only ``primary_email``'s when given; O(1)."""
        matches = self._by_key.get(query.strip().casefold(), [])
        return list(itertools.islice(owned_by(matches, primary_email), max(limit, 0)))

    def search(self, text: str, *, primary_email: str | None = None, limit: int = 100,
               keep: DeviceFilter | None = None) -> list[Device]:
        """The first ``limit`` devices in name order whose name or serial contains ``text``
        (case-insensitive; empty text: all), only ``primary_email``'s when given, only those
        ``keep`` admits when given (asked of each candidate, before the limit)."""
        needle = text.strip().casefold()
        limit = max(limit, 0)
        hits: Iterator[Device]
        within = self._within(keep) if primary_email is None else None
        if within is not None:  # a small scope: look at its devices only
            hits = (d for d in within if contains(d, needle))
        elif primary_email is not None:
            owner = email_key(primary_email)
            mine = self._by_owner.get(owner, []) if owner else []
            hits = (d for d in mine if contains(d, needle))
        elif not needle:
            hits = iter(self)
        elif _FIELD_END in needle or _RECORD_END in needle:  # no record can hold it: each
            hits = (d for d in self if contains(d, needle))
        else:
            hits = self._scan(needle)
            if self._fresh:
                fresh = (d for d in self._fresh if contains(d, needle))
                hits = heapq.merge(hits, fresh, key=name_order)
        if keep is not None:
            hits = filter(keep.admits, hits)
        return list(itertools.islice(hits, limit))

    def _scope_add(self, device: Device) -> None:
        if device.entra_device_id:
            self._by_entra.setdefault(device.entra_device_id, []).append(device)
        if device.listed_user_id:
            self._by_user.setdefault(device.listed_user_id, []).append(device)
        for tag in device.scope_tags:
            if tag != DEFAULT_TAG:
                self._by_tag.setdefault(tag, {})[device.id.casefold()] = device

    def _within(self, keep: DeviceFilter | None) -> list[Device] | None:
        """The devices a bound of ``keep`` holds, in name order, when they are few (at most
        one in SPARSE of the index); None otherwise (the search scans, asking ``keep``).
        Kept for the next keystroke with the same filter until the index changes."""
        if keep is None:
            return None
        cached = self._within_cache.get(id(keep))
        if cached is not None and cached[0] is keep and cached[1] == self._changes:
            return cached[2]
        within = self._bounded(keep)
        if len(self._within_cache) >= WITHIN_CACHED:
            self._within_cache.pop(next(iter(self._within_cache)))
        self._within_cache[id(keep)] = (keep, self._changes, within)
        return within

    def _bounded(self, keep: DeviceFilter) -> list[Device] | None:
        bound = len(self._by_id) // SPARSE
        bounds: list[Iterable[Iterable[Device]]] = []
        # Default is on most devices (and not indexed): a bound with it is no small one.
        if keep.tags is not None and len(keep.tags) <= bound and DEFAULT_TAG not in keep.tags:
            bounds.append(self._by_tag.get(t, {}).values() for t in keep.tags)
        if keep.entra_devices is not None and (
                len(keep.entra_devices) + len(keep.users) <= bound):
            bounds.append(itertools.chain((self._by_entra.get(d, ()) for d in keep.entra_devices),
                                          (self._by_user.get(u, ()) for u in keep.users)))
        for groups in bounds:
            found: dict[int, Device] = {}
            for held in groups:
                found.update((id(d), d) for d in held)
                if len(found) > bound:
                    break
            else:
                return sorted(found.values(), key=name_order)
        return None

    def __iter__(self) -> Iterator[Device]:
        """Every device, in name order."""
        gone = self._gone
        base = (d for i, d in enumerate(self._base) if i not in gone) if gone else self._base
        if not self._fresh:
            return iter(base)
        return heapq.merge(base, self._fresh, key=name_order)

    def _scan(self, needle: str) -> Iterator[Device]:
        """The built string's matches, in name order, lazily."""
        haystack, starts, gone = self._haystack, self._starts, self._gone
        at = haystack.find(needle)
        while at != -1:
            i = bisect.bisect_right(starts, at) - 1
            if i not in gone:
                yield self._base[i]
            at = haystack.find(needle, starts[i + 1])


def _searchable(text: str) -> str:
    return text.casefold().replace(_RECORD_END, _FIELD_END)


def _drop(lists: dict[str, list[Device]], key: str, device: Device) -> None:
    """Remove ``device`` (this very object) from ``lists[key]``, and the key once empty."""
    found = lists.get(key)
    if not found:
        return
    found[:] = [d for d in found if d is not device]
    if not found:
        del lists[key]
