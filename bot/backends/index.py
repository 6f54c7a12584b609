"""The device index the Intune backend answers the picker from (the simulated backend's
fleet answers by the same rules: bot/backends/fleet_index.py): exact lookup by Intune id,
serial number or name, the picker's substring search in name order, and the owner filter,
each defined once.

Pure (no I/O): the Intune backend fills it from Graph's device list; it can put one refreshed
or newly found device in, or take one out, without a rebuild.

How it stays small and fast at 100,000 devices:

- The devices are held compactly (bot/backends/compact.py: columns of text, tables of the
  distinct facts and users; ~25 MB where a ``Device`` and dict entries per device took ~140
  MB), and a ``Device`` is made when an answer needs it.
- Exact lookups, the owner's devices and the scope facts bisect sorted keys: O(log n).
- Substring search scans one string holding "name<US>serial<LF>" of every device in name
  order with ``str.find``: a C loop over ~3 MB at 100,000 devices rather than 100,000 Python
  comparisons, stopping at the ``limit``-th hit.
- That store is built once; a device added or replaced later waits in a short list in name
  order (scanned in Python and merged in), a removed or replaced one is skipped by position,
  and after ``rebuild_after`` such changes (or one per 16 devices, if more) the store is
  built again.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
from array import array
from collections.abc import Callable, Iterable, Iterator

from bot.backends.compact import Builder, CompactDevices, has_special
from bot.ports import Device, DeviceFilter
from policy.intune_rbac import DEFAULT_TAG
from policy.membership import email_key, same_email

# Changes since the store was built before it is built again: at least this many, or one per
# this share of the devices, so a rebuild (O(n), ~1.5 s at 100,000 devices, on the caller's
# thread) stays rare next to the changes; meanwhile each search also scans the changed ones
# (6,000 at 100,000 devices: ~2 ms). The Intune backend's full reload (every 15 minutes, in
# a thread) starts afresh anyway.
REBUILD_AFTER = 256
_REBUILD_SHARE = 16
# A filter bound to at most one device in SPARSE of the index (a small RBAC scope) is searched
# over its own devices: scanning the fleet for its few would ask it of every device (the
# devices ahead of its first in name order may all be out of it).
SPARSE = 4
WITHIN_CACHED = 64  # filters (approvers' scopes) whose bounded devices are kept
_Within = tuple["array[int]", list[Device]]  # a bound's base positions, its fresh devices


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

    def __init__(self, devices: Iterable[Device] | Builder = (), *,
                 rebuild_after: int = REBUILD_AFTER):
        """Index ``devices`` (or what a Builder took in: the Intune backend's full load, a
        page at a time); of two with the same id (case-insensitive) the later is kept."""
        self._rebuild_after = max(rebuild_after, 1)
        self._changes = 0  # adds and removes so far: a cached bound is stale once it moves
        self._within_cache: dict[int, tuple[DeviceFilter, int, _Within | None]] = {}
        self._build(devices.build() if isinstance(devices, Builder)
                    else CompactDevices.of(devices))

    def _build(self, base: CompactDevices) -> None:
        self._base = base
        self._gone: set[int] = set()  # positions in _base removed or replaced since the build
        self._fresh: list[Device] = []  # devices added since the build, in name order
        self._fresh_by_id: dict[str, Device] = {}

    def __len__(self) -> int:
        return len(self._base) - len(self._gone) + len(self._fresh)

    # -- changes -----------------------------------------------------------------------------

    def add(self, device: Device) -> None:
        """Put one device in, replacing the one with its id if there is one."""
        self.remove(device.id)
        self._fresh_by_id[device.id.casefold()] = device
        bisect.insort(self._fresh, device, key=name_order)
        self._changes += 1
        self._rebuild_if_due()

    def remove(self, device_id: str) -> Device | None:
        """Take the device with this id out; the device, or None when there was none."""
        key = device_id.strip().casefold()
        device = self._fresh_by_id.pop(key, None)
        if device is not None:
            self._fresh = [d for d in self._fresh if d is not device]
        else:
            at = self._base.with_id(key)
            if at is None or at in self._gone:
                return None
            device = self._base.device(at)
            self._gone.add(at)
        self._changes += 1
        self._rebuild_if_due()
        return device

    def _rebuild_if_due(self) -> None:
        changes = len(self._fresh) + len(self._gone)
        if changes >= max(self._rebuild_after, len(self._base) // _REBUILD_SHARE):
            self._build(CompactDevices.of(iter(self)))

    # -- lookups -----------------------------------------------------------------------------

    def get(self, device_id: str) -> Device | None:
        """The device with this id, case-insensitive."""
        key = device_id.strip().casefold()
        device = self._fresh_by_id.get(key)
        if device is not None:
            return device
        at = self._base.with_id(key)
        return None if at is None or at in self._gone else self._base.device(at)

    def find(self, query: str, *, primary_email: str | None = None, limit: int = 10
             ) -> list[Device]:
        """Devices whose id, serial or name equals ``query`` (``matches_key``), in name order,
        only ``primary_email``'s when given; O(log n)."""
        key = query.strip().casefold()
        if not key:
            return []
        matches: Iterator[Device] = self._devices(self._base.exact(key))
        if self._fresh:
            fresh = (d for d in self._fresh if key in exact_keys(d))
            matches = heapq.merge(matches, fresh, key=name_order)
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
            held, fresh_held = within
            hits = heapq.merge(
                self._devices(i for i in held if self._base.contains(i, needle)),
                (d for d in fresh_held if contains(d, needle)), key=name_order)
        elif primary_email is not None:
            owner = email_key(primary_email)
            mine = self._merged(self._base.with_email(owner),
                                lambda d: email_key(d.primary_email) == owner
                                ) if owner else iter(())
            hits = (d for d in mine if contains(d, needle))
        elif not needle:
            hits = iter(self)
        elif has_special(needle):  # no record can hold it: each device is asked
            hits = (d for d in self if contains(d, needle))
        else:
            hits = self._merged(self._base.scan(needle), lambda d: contains(d, needle))
        if keep is not None:
            hits = filter(keep.admits, hits)
        return list(itertools.islice(hits, limit))

    def _devices(self, positions: Iterable[int]) -> Iterator[Device]:
        """The base's devices at ``positions`` (in order), those removed since skipped."""
        gone, device = self._gone, self._base.device
        if gone:
            return (device(i) for i in positions if i not in gone)
        return map(device, positions)

    def _merged(self, positions: Iterable[int], fresh: Callable[[Device], bool]
                ) -> Iterator[Device]:
        """The base's devices at ``positions`` and the fresh ones ``fresh`` admits, in name
        order."""
        found = self._devices(positions)
        if not self._fresh:
            return found
        return heapq.merge(found, (d for d in self._fresh if fresh(d)), key=name_order)

    def _within(self, keep: DeviceFilter | None) -> _Within | None:
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

    def _bounded(self, keep: DeviceFilter) -> _Within | None:
        """The base's positions and the fresh devices a bound holds (kept as positions: a
        scope of 25,000 devices, as Device objects, took ~10 MB per approver cached)."""
        bound = len(self) // SPARSE
        base = self._base
        bounds: list[tuple[Iterable[Iterable[int]], Callable[[Device], bool]]] = []
        # Default is on most devices (and not indexed): a bound with it is no small one.
        if keep.tags is not None and len(keep.tags) <= bound and DEFAULT_TAG not in keep.tags:
            tags = keep.tags
            bounds.append(((base.tagged(t) for t in tags), lambda d: bool(d.scope_tags & tags)))
        if keep.entra_devices is not None and (
                len(keep.entra_devices) + len(keep.users) <= bound):
            entra, users = keep.entra_devices, keep.users
            bounds.append(((base.of_entra(entra), base.of_listed(users)),
                           lambda d: bool((d.entra_device_id and d.entra_device_id in entra)
                                          or (d.listed_user_id and d.listed_user_id in users))))
        for groups, holds in bounds:
            fresh = [d for d in self._fresh if holds(d)]
            found: set[int] = set()
            for held in groups:
                found.update(i for i in held if i not in self._gone)
                if len(found) + len(fresh) > bound:
                    break
            else:
                if len(found) + len(fresh) <= bound:
                    return array("I", sorted(found)), fresh
        return None

    def __iter__(self) -> Iterator[Device]:
        """Every device, in name order."""
        base = self._devices(range(len(self._base)))
        if not self._fresh:
            return base
        return heapq.merge(base, self._fresh, key=name_order)
