"""Devices held compactly: 100,000 devices in tens of megabytes instead of a `Device` object
(and a dozen dict entries) each. Each text field is one string with an array of offsets
(``Column``), what many devices share (their facts and scope tags, their user's fields) an
index into a small table of the distinct values, and a ``Device`` is made when an answer
needs it; ``Device``s made again are equal to those given.

``CompactDevices`` is immutable and pure; bot/backends/index.py's DeviceIndex puts the changes
since it was built beside it. Every lookup gives positions (name order):

- by exact id, serial or name (case-insensitive): a bisection over the positions sorted by
  that field, O(log n);
- by owner's email key, listed user, Entra device or scope tag (``Groups``): a bisection
  over the distinct keys, O(log n);
- by substring of the name or serial: ``str.find`` over one case-folded string of
  "name<US>serial<LF>" records, a C loop over ~3 MB at 100,000 devices.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

from bot.ports import Device
from policy.intune_rbac import DEFAULT_TAG
from policy.membership import email_key
from policy.platforms import DeviceFacts

# Between the fields of the case-folded string: a record is "<RECORD>name<FIELD>serial"
# (then the next record). Any of them in a field is stored as ``HIDDEN``, and a query
# holding one is answered by looking at every device instead, so the string matches a query
# exactly where a field does.
FIELD = "\x1f"
RECORD = "\n"
HIDDEN = "\x1e"
SPECIAL = (FIELD, RECORD, HIDDEN)


def has_special(text: str) -> bool:
    return any(c in text for c in SPECIAL)


class Column:
    """Texts in one string, by position. Built a chunk at a time, so no more than a chunk of
    the texts exists as objects of their own at once."""

    def __init__(self, texts: Iterable[str]) -> None:
        chunks: list[str] = []
        lengths = array("I")
        for chunk in _chunked(texts):
            lengths.extend(map(len, chunk))
            chunks.append("".join(chunk))
        self._text = "".join(chunks)
        self._starts = array("I", itertools.accumulate(lengths, initial=0))

    def __len__(self) -> int:
        return len(self._starts) - 1

    def __getitem__(self, i: int) -> str:
        return self._text[self._starts[i] : self._starts[i + 1]]


_CHUNK = 1024
_LOOKS_PER_KEY = 30  # what a bisection costs, in looks at one device


def _chunked(texts: Iterable[str]) -> Iterator[list[str]]:
    it = iter(texts)
    while chunk := list(itertools.islice(it, _CHUNK)):
        yield chunk


class Groups:
    """Positions by key (an email, an owner's id): the keys in order in one column, their
    positions in one array; a lookup bisects the keys."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        keys = sorted(groups)
        self._keys = Column(keys)
        self._count = len(keys)
        self._from = array("I", itertools.accumulate((len(groups[k]) for k in keys), initial=0))
        self._positions = array("I", itertools.chain.from_iterable(groups[k] for k in keys))

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> str:
        if not 0 <= i < self._count:
            raise IndexError(i)
        return self._keys[i]

    def get(self, key: str) -> array[int]:
        i = bisect.bisect_left(self, key)
        if i == self._count or self[i] != key:
            return array("I")
        return self._positions[self._from[i] : self._from[i + 1]]


def folded(text: str) -> str:
    """A field as the search string holds it: case-folded, separators hidden."""
    text = text.casefold()
    if FIELD in text or RECORD in text:
        text = text.replace(FIELD, HIDDEN).replace(RECORD, HIDDEN)
    return text


_NO_SYNC = -(2**63)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)

_Profile = tuple[DeviceFacts, bool | None, frozenset[str]]
_TEXTS = ("id", "name", "serial", "primary_email", "primary_name", "primary_user_id",
          "entra_device_id", "listed_user_id")


def _grouped(keys: Iterable[str]) -> Groups:
    groups: dict[str, list[int]] = {}
    for i, key in enumerate(keys):
        if key:
            groups.setdefault(key, []).append(i)
    return Groups(groups)


class Builder:
    """Devices taken in one at a time (a Graph page after another) and held as the store
    holds them: their text in a few strings per column, their facts, policy and tags as an
    index into a table of the distinct ones. No object per device outlives its ``add``: 100,000
    ``Device``s kept until the build left ~100 MB with the allocator after they were freed."""

    def __init__(self) -> None:
        self._done: dict[str, list[str]] = {name: [] for name in _TEXTS}  # a chunk each
        self._pending: dict[str, list[str]] = {name: [] for name in _TEXTS}
        self._lengths: dict[str, array[int]] = {name: array("I") for name in _TEXTS}
        self._profiles: dict[_Profile, int] = {}
        self._profile = array("I")
        self._sync = array("q")  # microseconds since the epoch, UTC; _NO_SYNC: see _synced
        self._synced: dict[int, datetime] = {}  # a last_sync not in UTC, as given
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, device: Device) -> None:
        """Take ``device`` in; of two with one id (case-insensitive) the later is kept."""
        for name in _TEXTS:
            text: str = getattr(device, name)
            self._pending[name].append(text)
            self._lengths[name].append(len(text))
        profile = (device.facts, device.has_passcode_policy, device.scope_tags)
        self._profile.append(self._profiles.setdefault(profile, len(self._profiles)))
        moment = device.last_sync
        if moment is not None and moment.tzinfo is UTC:
            self._sync.append((moment - _EPOCH) // _MICRO)
        else:
            self._sync.append(_NO_SYNC)
            if moment is not None:
                self._synced[self._count] = moment
        self._count += 1
        if self._count % _CHUNK == 0:
            self._flush()

    def _flush(self) -> None:
        for name in _TEXTS:
            self._done[name].append("".join(self._pending[name]))
            self._pending[name].clear()

    def build(self) -> CompactDevices:
        """The store: in name order, one device per id."""
        self._flush()
        columns = {name: _Joined("".join(self._done[name]), self._lengths[name])
                   for name in _TEXTS}
        self._done.clear()
        ids, names = columns["id"], columns["name"]
        n = self._count
        # Of two with one id the later: a stable sort by id puts it last among its equals.
        by_id = sorted(range(n), key=lambda i: ids[i].casefold())
        dropped = {a for a, b in itertools.pairwise(by_id)
                   if ids[a].casefold() == ids[b].casefold()}
        del by_id
        order = [i for i in sorted(range(n), key=lambda i: (names[i].casefold(), ids[i]))
                 if i not in dropped]
        return CompactDevices(self, columns, order)


class _Joined:
    """A column as the builder joined it (in the order added)."""

    def __init__(self, text: str, lengths: array[int]) -> None:
        self._text = text
        self._starts = array("I", itertools.accumulate(lengths, initial=0))

    def __getitem__(self, i: int) -> str:
        return self._text[self._starts[i] : self._starts[i + 1]]


class CompactDevices:
    """Devices in name order, one per id (case-insensitive), held compactly; made by
    ``Builder.build`` (or ``of``)."""

    def __init__(self, built: Builder, columns: dict[str, _Joined], order: list[int]) -> None:
        def column(name: str) -> Column:
            given = columns.pop(name)
            return Column(given[i] for i in order)

        self._ids, self._names, self._serials = column("id"), column("name"), column("serial")
        self._emails, self._user_names = column("primary_email"), column("primary_name")
        self._owners, self._entra = column("primary_user_id"), column("entra_device_id")
        self._listed = column("listed_user_id")
        self._profiles = list(built._profiles)
        self._profile = array("I", (built._profile[i] for i in order))
        self._sync = array("q", (built._sync[i] for i in order))
        self._synced = {at: built._synced[i] for at, i in enumerate(order) if i in built._synced}
        n = len(order)
        records = (f"{folded(self._names[i])}{FIELD}{folded(self._serials[i])}{RECORD}"
                   for i in range(n))
        search = Column(records)
        self._keys = RECORD + search._text
        self._starts = array("I", (start + 1 for start in search._starts))
        del search
        self._by_id = array("I", sorted(range(n), key=lambda i: self._ids[i].casefold()))
        self._by_serial = array("I", sorted(range(n),
                                            key=lambda i: self._serials[i].casefold()))
        self._by_email = _grouped(email_key(self._emails[i]) for i in range(n))
        self._by_owner = _grouped(self._owners[i] for i in range(n))
        self._by_listed = _grouped(self._listed[i] for i in range(n))
        self._by_entra = _grouped(self._entra[i] for i in range(n))
        tags: dict[str, list[int]] = {}
        for i in range(n):
            for tag in self._profiles[self._profile[i]][2]:
                if tag != DEFAULT_TAG:
                    tags.setdefault(tag, []).append(i)
        self._by_tag = Groups(tags)

    @classmethod
    def of(cls, devices: Iterable[Device]) -> CompactDevices:
        builder = Builder()
        for device in devices:
            builder.add(device)
        return builder.build()

    def __len__(self) -> int:
        return len(self._profile)

    def device(self, i: int) -> Device:
        facts, policy, tags = self._profiles[self._profile[i]]
        sync = self._sync[i]
        return Device(id=self._ids[i], name=self._names[i], serial=self._serials[i],
                      facts=facts, primary_email=self._emails[i],
                      primary_name=self._user_names[i], primary_user_id=self._owners[i],
                      has_passcode_policy=policy,
                      last_sync=(self._synced.get(i) if sync == _NO_SYNC
                                 else _EPOCH + sync * _MICRO),
                      scope_tags=tags, entra_device_id=self._entra[i],
                      listed_user_id=self._listed[i])

    # -- lookups: positions ------------------------------------------------------------------

    def with_id(self, key: str) -> int | None:
        """The position of the device whose case-folded id is ``key``."""
        return with_id(self._by_id, self._ids, key)

    def exact(self, key: str) -> list[int]:
        """Positions whose case-folded id, serial or name is ``key`` (non-empty), in order."""
        return exact(self._by_id, self._ids, self._by_serial, self._serials, self._names, key)

    def with_email(self, key: str) -> array[int]:
        """Positions whose primary email's key (policy.membership.email_key) is ``key``."""
        return self._by_email.get(key)

    def owned(self, user_id: str) -> array[int]:
        """Positions whose primary user's id is ``user_id``."""
        return self._by_owner.get(user_id)

    def of_entra(self, entra_device_ids: frozenset[str]) -> Iterable[int]:
        """Positions whose Entra device is one of ``entra_device_ids``."""
        return self._of_any(entra_device_ids, self._by_entra, self._entra)

    def of_listed(self, user_ids: frozenset[str]) -> Iterable[int]:
        """Positions whose listed user is one of ``user_ids``."""
        return self._of_any(user_ids, self._by_listed, self._listed)

    def _of_any(self, keys: frozenset[str], groups: Groups, column: Column) -> Iterable[int]:
        # A bisection per key (~12 us) or one look at every device (~0.4 us each): 25,000
        # Entra devices of a scope at 100,000 devices took 310 ms the first way.
        if len(keys) * _LOOKS_PER_KEY < len(self):
            return itertools.chain.from_iterable(groups.get(k) for k in keys if k)
        return (i for i in range(len(self)) if column[i] and column[i] in keys)

    def tagged(self, tag: str) -> array[int]:
        """Positions carrying scope tag ``tag`` (any but Default, which is not indexed)."""
        return self._by_tag.get(tag)

    def contains(self, i: int, needle: str) -> bool:
        """Whether the name or serial at ``i`` contains ``needle`` (case-folded), as
        bot/backends/index.py ``contains`` says, without making the Device."""
        if has_special(needle):
            name, serial = self._names[i].casefold(), self._serials[i].casefold()
            return needle in name or needle in serial
        return needle in self._keys[self._starts[i] : self._starts[i + 1]]

    def scan(self, needle: str) -> Iterator[int]:
        """Positions whose name or serial contains ``needle`` (case-folded, no separator),
        in order, lazily."""
        return records_with(self._keys, self._starts, needle)


def records_with(keys: str, starts: Sequence[int], needle: str) -> Iterator[int]:
    """The records of ``keys`` (record i from ``starts[i]`` to ``starts[i + 1]``) holding
    ``needle``, in order, lazily: one ``str.find`` per hit, the next from the record after."""
    at = keys.find(needle)
    while at != -1:
        i = bisect.bisect_right(starts, at) - 1
        yield i
        at = keys.find(needle, starts[i + 1])


def with_id(by_id: Sequence[int], ids: Column, key: str) -> int | None:
    """The position whose case-folded id (``ids``, positions ``by_id`` in their order) is
    ``key``."""
    found = positions_equal(by_id, key, lambda i: ids[i].casefold())
    return found[0] if found else None


def exact(by_id: Sequence[int], ids: Column, by_serial: Sequence[int], serials: Column,
          names: Column, key: str) -> list[int]:
    """Positions whose case-folded id, serial or name is ``key``, in order: ids and serials
    through positions sorted by them, names through the positions themselves (name order)."""
    found = set(positions_equal(by_id, key, lambda i: ids[i].casefold()))
    found.update(positions_equal(by_serial, key, lambda i: serials[i].casefold()))
    found.update(positions_equal(range(len(names)), key, lambda i: names[i].casefold()))
    return sorted(found)


def positions_equal(order: Sequence[int], key: str, field: Callable[[int], str]
                    ) -> list[int]:
    """The positions in ``order`` (sorted by ``field``) whose ``field`` is ``key``: O(log n)."""
    at = bisect.bisect_left(order, key, key=field)
    found = []
    while at < len(order) and field(order[at]) == key:
        found.append(order[at])
        at += 1
    return found
