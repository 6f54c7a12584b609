"""The simulated fleet, held compactly: 100,000 devices in tens of megabytes, not gigabytes.

The fleet never changes once loaded (every process loads the same one), so nothing needs a
per-device object: each text column (ids, names, serials) is one string with an array of
offsets, what a device is (its facts, passcode policy and ``simulate`` marks) and whose it is
(the user fields it shows, its primary user) are indexes into small tables of the distinct
ones, and a ``Device`` is made when an answer needs it. The answers are DeviceIndex's
(bot/backends/index.py), in its name order and by its rules (``exact_keys``, ``contains``,
``owned_by``); exact lookups are binary searches over positions sorted by id and by serial
(the names are in order), and the picker's substring search is a ``str.find`` scan over one
case-folded string, a C loop over ~5 MB at 100,000 devices.
"""

from __future__ import annotations

import itertools
from array import array
from collections.abc import Iterable, Iterator
from datetime import datetime

from bot.backends.compact import (
    FIELD,
    RECORD,
    SPECIAL,
    Column,
    Groups,
    exact,
    folded,
    records_with,
    with_id,
)
from bot.backends.fleet import Marks
from bot.backends.index import contains, name_order, owned_by
from bot.ports import Device, DeviceFilter
from policy.membership import email_key
from policy.platforms import DeviceFacts

_Profile = tuple[DeviceFacts, bool | None, Marks]
_User = tuple[str, str, str]  # primary_email, primary_name, primary_user_id


class CompactFleet:
    """Devices by id, by exact key, by owner, and searchable by substring in name order."""

    def __init__(self, devices: Iterable[tuple[Device, str, Marks]]) -> None:
        """Index ``devices``, each with its primary user's id (which it answers with as
        ``primary_user_id``) and its marks; their ids are unique, case-insensitive (the
        caller checks)."""
        profiles: dict[_Profile, int] = {}
        users: dict[_User, int] = {}
        rows: list[tuple[tuple[str, str], str, str, str, int, int, datetime | None]] = []
        for device, owner, marks in devices:
            profile = (device.facts, device.has_passcode_policy, marks)
            user = (device.primary_email, device.primary_name, owner)
            rows.append((name_order(device), device.id, device.name, device.serial,
                         profiles.setdefault(profile, len(profiles)),
                         users.setdefault(user, len(users)), device.last_sync))
        rows.sort(key=lambda row: row[0])
        self._profiles = list(profiles)
        self._emails = Column(u[0] for u in users)
        self._user_names = Column(u[1] for u in users)
        self._owners = Column(u[2] for u in users)
        del users
        self._ids = Column(r[1] for r in rows)
        self._names = Column(r[2] for r in rows)
        self._serials = Column(r[3] for r in rows)
        self._profile = array("I", (r[4] for r in rows))
        self._user = array("I", (r[5] for r in rows))
        self._last_sync = {i: r[6] for i, r in enumerate(rows) if r[6] is not None}
        # "\n" name "\x1f" serial "\n" name ..., folded: the picker's substring search.
        records = [f"{folded(r[2])}{FIELD}{folded(r[3])}{RECORD}" for r in rows]
        self._keys = RECORD + "".join(records)
        self._starts = array("I", itertools.accumulate(map(len, records), initial=1))
        del rows, records
        # Exact lookups by id and serial: positions sorted by each, case-folded (the names are
        # in order already); 4 bytes a device each.
        n = len(self._profile)
        self._by_id = array("I", sorted(range(n), key=lambda i: self._ids[i].casefold()))
        self._by_serial = array("I", sorted(range(n),
                                            key=lambda i: self._serials[i].casefold()))
        by_email: dict[str, list[int]] = {}
        by_owner: dict[str, list[int]] = {}
        for i, u in enumerate(self._user):
            key, owner = email_key(self._emails[u]), self._owners[u]
            if key:
                by_email.setdefault(key, []).append(i)
            if owner:
                by_owner.setdefault(owner, []).append(i)
        self._by_email = Groups(by_email)
        self._by_owner = Groups(by_owner)

    def __len__(self) -> int:
        return len(self._profile)

    def device(self, i: int) -> Device:
        facts, policy, _ = self._profiles[self._profile[i]]
        u = self._user[i]
        email, name, owner = self._emails[u], self._user_names[u], self._owners[u]
        return Device(id=self._ids[i], name=self._names[i], serial=self._serials[i],
                      facts=facts, primary_email=email, primary_name=name,
                      primary_user_id=owner, has_passcode_policy=policy,
                      last_sync=self._last_sync.get(i))

    def marks(self, i: int) -> Marks:
        return self._profiles[self._profile[i]][2]

    def __iter__(self) -> Iterator[Device]:
        """Every device, in name order."""
        return map(self.device, range(len(self)))

    # -- lookups -----------------------------------------------------------------------------

    def position(self, device_id: str) -> int | None:
        """Where the device with this id is, case-insensitive."""
        key = device_id.strip().casefold()
        return with_id(self._by_id, self._ids, key) if key else None

    def get(self, device_id: str) -> Device | None:
        i = self.position(device_id)
        return None if i is None else self.device(i)

    def find(self, query: str, *, primary_email: str | None = None, limit: int = 10
             ) -> list[Device]:
        """Devices whose id, serial or name equals ``query`` (case-insensitive), in name
        order, only ``primary_email``'s when given."""
        key = query.strip().casefold()
        if not key:
            return []
        found = exact(self._by_id, self._ids, self._by_serial, self._serials, self._names, key)
        devices = map(self.device, found)
        return list(itertools.islice(owned_by(devices, primary_email), max(limit, 0)))

    def search(self, text: str, *, primary_email: str | None = None, limit: int = 100,
               keep: DeviceFilter | None = None) -> list[Device]:
        """The first ``limit`` devices in name order whose name or serial contains ``text``
        (case-insensitive; empty text: all), only ``primary_email``'s when given, only those
        ``keep`` admits when given (asked of each candidate, before the limit; the simulated
        fleet has no scopes of its own, so a filter here is a scan)."""
        needle = text.strip().casefold()
        limit = max(limit, 0)
        if keep is not None:
            found = self.search(text, primary_email=primary_email, limit=len(self))
            return list(itertools.islice(filter(keep.admits, found), limit))
        if primary_email is not None:
            owner = email_key(primary_email)
            mine = map(self.device, self._by_email.get(owner)) if owner else iter(())
            return list(itertools.islice((d for d in mine if contains(d, needle)), limit))
        if not needle:
            return list(itertools.islice(self, limit))
        if any(c in needle for c in SPECIAL):
            return list(itertools.islice((d for d in self if contains(d, needle)), limit))
        return list(map(self.device, itertools.islice(self._scan(needle), limit)))

    def owned(self, user_id: str) -> Iterator[Device]:
        """The devices whose primary user is ``user_id``, in name order."""
        return map(self.device, self._by_owner.get(user_id))

    def _scan(self, needle: str) -> Iterator[int]:
        """The records whose name or serial contains ``needle``, in order, lazily."""
        return records_with(self._keys, self._starts, needle)

