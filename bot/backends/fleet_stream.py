"""A FLEET_FILE read one device at a time, for big fleets: ``open_fleet_file`` gives the users
and the devices as they are checked, so the backend takes each in before the next is parsed
and the whole file never exists as Python objects at once (100,000 devices parsed whole: some
120 MB of dicts; one at a time: a few kilobytes beside the compact fleet).

A JSON file (a list of devices, or a mapping with ``devices`` and optionally ``users``, in any
order) is read in two passes of the json module: the first checks the syntax, finds the
devices and reads the users; the second hands the devices out one by one. Anything else
(YAML, or JSON of another shape, which the full reader words an error for) is read whole by
``load_fleet_file``; its devices are still handed out one by one, and let go as they are.
The checks and the messages are ``load_fleet_file``'s.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bot.backends.fleet import (
    PRIMARY_USER,
    FleetEntry,
    check_entry,
    check_users,
    load_fleet_file,
)
from policy.membership import DirectoryEntry

_SPACE = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


@dataclass
class FleetStream:
    """A fleet file's users (None: it lists none), and its devices as they are read; a
    ValueError, raised while they are, names the file and the device."""

    users: list[DirectoryEntry] | None
    devices: Iterator[FleetEntry]


class _NotStreamable(Exception):
    """Not JSON of a fleet's shape: the full reader says what it is."""


def open_fleet_file(path: str | Path) -> FleetStream:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        text = ""  # the full reader words it
    try:
        at, users = _outline(text)
    except (_NotStreamable, ValueError):
        fleet = load_fleet_file(path)
        return FleetStream(fleet.users, _let_go(fleet.devices))
    try:
        checked = check_users(users)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
    return FleetStream(checked, _checked(path, text, at, checked))


def _let_go(devices: list[FleetEntry]) -> Iterator[FleetEntry]:
    """The devices in order, each dropped from the list as it is handed out."""
    devices.reverse()
    while devices:
        yield devices.pop()


def _checked(path: Path, text: str, at: int, users: list[DirectoryEntry] | None
             ) -> Iterator[FleetEntry]:
    seen: dict[str, int] = {}
    known = None if users is None else {u.id for u in users}
    for number, entry in enumerate(_elements(text, at, []), 1):
        try:
            check_entry(entry, number, seen)
        except ValueError as exc:
            raise ValueError(f"{path}: {exc}") from None
        named = entry.get(PRIMARY_USER)
        if named is not None and (not isinstance(named, str) or (
                known is not None and named.strip() not in known)):
            raise ValueError(f"{path}: device {number} ({entry['id']}): {PRIMARY_USER} "
                             f"{named!r} is not the id of a user in 'users:'")
        yield entry


def _space(text: str, at: int) -> int:
    match = _SPACE.match(text, at)
    return match.end() if match else at


def _elements(text: str, at: int, end: list[int]) -> Iterator[FleetEntry]:
    """The values of the JSON list starting at ``text[at]``, one by one; ``end`` receives
    where the list ends."""
    at = _space(text, at + 1)
    if text.startswith("]", at):
        end.append(at + 1)
        return
    while True:
        value, at = _DECODER.raw_decode(text, at)
        yield value
        at = _space(text, at)
        if text.startswith("]", at):
            end.append(at + 1)
            return
        if not text.startswith(",", at):
            raise _NotStreamable
        at = _space(text, at + 1)


def _skip(text: str, at: int) -> tuple[int, int]:
    """Where the JSON list starting at ``text[at]`` ends, and how many values it holds."""
    end: list[int] = []
    count = sum(1 for _ in _elements(text, at, end))
    return end[0], count


def _outline(text: str) -> tuple[int, object]:
    """Where the devices list begins, and the users value (None: none); _NotStreamable (or
    json's ValueError) when the text is not JSON of a fleet's shape with devices."""
    at = _space(text, 0)
    users: object = None
    devices = -1
    if text.startswith("[", at):
        devices, (at, count) = at, _skip(text, at)
    elif text.startswith("{", at):
        at, count = _space(text, at + 1), 0
        while not text.startswith("}", at):
            key, at = _DECODER.raw_decode(text, at)
            at = _space(text, at)
            if not isinstance(key, str) or not text.startswith(":", at):
                raise _NotStreamable
            at = _space(text, at + 1)
            if key == "devices" and text.startswith("[", at):
                devices, (at, count) = at, _skip(text, at)
            else:
                value, at = _DECODER.raw_decode(text, at)
                if key == "devices":
                    devices = -1  # not a list: the full reader says so
                elif key == "users":
                    users = value
            at = _space(text, at)
            if text.startswith(",", at):
                at = _space(text, at + 1)
                if text.startswith("}", at):
                    raise _NotStreamable  # a trailing comma: not JSON
            elif not text.startswith("}", at):
                raise _NotStreamable
        at += 1
    if devices < 0 or count == 0 or _space(text, at) != len(text):
        raise _NotStreamable
    return devices, users
