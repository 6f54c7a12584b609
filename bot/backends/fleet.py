"""The FLEET_FILE: Graph-shaped managedDevice entries (with ``simulate`` marks) and the
directory's users they belong to, read and checked; a ValueError names what is wrong.

A fleet file is a list of devices, or a mapping with ``devices:`` and optionally ``users:``
(each ``{id, userPrincipalName, mail, displayName}``, as Graph's /users lists them). A device
names its primary user by ``primaryUserId`` (what Intune's managedDevices/{id}/users says);
its ``userPrincipalName`` / ``emailAddress`` are shown, never trusted for ownership. A device
without ``primaryUserId`` belongs to the listed user whose UPN (then mail) is the device's
address, the rule of policy.membership.match_directory_user; when the file lists no users,
to a user made up for that address (the older fleet format, where nothing else names one).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from policy.membership import DirectoryEntry, email_key, match_directory_user

FleetEntry = dict[str, Any]
PRIMARY_USER = "primaryUserId"  # the fleet file's own key: not a managedDevice property

_MARKS = frozenset({"fail", "resetTokenActivated", "passcodePolicy"})


@dataclass(frozen=True, slots=True)
class Marks:
    """How a device's reset should go wrong, from its ``simulate`` mapping."""

    fail: str | None = None
    reset_token_activated: bool = True
    passcode_policy: bool | None = None


UNMARKED = Marks()



def marks_of(entry: Mapping[str, Any]) -> Marks:
    """Read an entry's ``simulate`` mapping; a ValueError names the mark that is wrong."""
    raw = entry.get("simulate")
    if raw is None:
        return UNMARKED
    if not isinstance(raw, Mapping):
        raise ValueError("'simulate' must be a mapping of marks")
    unknown = sorted(set(raw) - _MARKS)
    if unknown:
        raise ValueError(
            f"unknown simulate mark {unknown[0]!r} (known: {', '.join(sorted(_MARKS))})"
        )
    fail = raw.get("fail")
    if fail is not None and not (isinstance(fail, str) and fail.strip()):
        raise ValueError("simulate.fail must be a sentence saying why the reset fails")
    token = raw.get("resetTokenActivated", True)
    policy = raw.get("passcodePolicy")
    if not isinstance(token, bool) or not isinstance(policy, bool | None):
        raise ValueError(
            "simulate.resetTokenActivated and simulate.passcodePolicy are true or false"
        )
    return Marks(fail.strip() if fail else None, token, policy)



@dataclass(frozen=True, slots=True)
class Fleet:
    devices: list[FleetEntry]
    users: list[DirectoryEntry] | None = None  # None: the file lists no users


def user_of(entry: Mapping[str, Any]) -> DirectoryEntry:
    """A ``users:`` entry as a directory user."""
    def text(key: str) -> str:
        value = entry.get(key)
        return "" if value is None else str(value).strip()

    return DirectoryEntry(text("id"), text("userPrincipalName"), text("mail"),
                          text("displayName"))


MADE_UP = "fleet-user:"  # how the id of a user made up for an address begins


def made_up_user(address: str) -> DirectoryEntry:
    """The user an older fleet file implies by a device's address (no ``users:`` list)."""
    key = email_key(address)
    return DirectoryEntry(f"{MADE_UP}{key}", key, key, "") if key else DirectoryEntry("")


def primary_user(entry: Mapping[str, Any], users: Iterable[DirectoryEntry] | None) -> str:
    """The device's primary user's id, by the rules above ("" for userless)."""
    named = entry.get(PRIMARY_USER)
    if isinstance(named, str) and named.strip():
        return named.strip()
    address = ""
    for key in ("userPrincipalName", "emailAddress"):
        value = entry.get(key)
        if isinstance(value, str) and value.strip():
            address = value
            break
    if not address:
        return ""
    if users is None:
        return made_up_user(address).id
    found = match_directory_user(address, users)
    return found.id if isinstance(found, DirectoryEntry) else ""


_SHAPE = "expected a list of devices, or a mapping with a 'devices:' list"


def load_fleet(path: str | Path) -> list[FleetEntry]:
    """The devices of a FLEET_FILE (see ``load_fleet_file``)."""
    return load_fleet_file(path).devices


# libyaml's parser when PyYAML was built with it (the wheels are): a few times faster.
_YAML_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_fleet_file(path: str | Path) -> Fleet:
    """Read a FLEET_FILE (YAML or JSON); a ValueError names the file and what is wrong.

    JSON is YAML too, so either is read as YAML; but a file that opens like JSON is read by
    the json module first (100,000 devices: about a second, against minutes for a YAML
    parse in Python), and as YAML only if it is not JSON after all."""
    path = Path(path)
    try:
        data = _parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValueError(f"{path}: cannot read the fleet file ({exc.strerror or exc})") from None
    except UnicodeDecodeError:
        raise ValueError(f"{path}: the fleet file is not UTF-8 text") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML or JSON{_where(exc)}") from None
    try:
        return _check_fleet(data)
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None


def _parse(text: str) -> object:
    if text.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(text)
        except ValueError:  # YAML's flow style, or not JSON at all: YAML says which
            pass
    try:
        return yaml.load(text, Loader=_YAML_LOADER)  # a safe loader, in C or in Python
    except yaml.YAMLError:
        if _YAML_LOADER is yaml.SafeLoader:
            raise
    # libyaml found the error: the Python parser says where in the words people know.
    return yaml.safe_load(text)


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return ""
    return f" (line {mark.line + 1}, column {mark.column + 1}: {getattr(exc, 'problem', '')})"


def _check_fleet(data: object) -> Fleet:
    """The devices and users of a parsed fleet file, checked; ValueError says what is wrong."""
    if data is None:
        raise ValueError(f"the file is empty; {_SHAPE}")
    devices = data.get("devices") if isinstance(data, Mapping) else data
    if not isinstance(devices, list):
        raise ValueError(_SHAPE)
    if not devices:
        raise ValueError("the fleet lists no devices")
    users = check_users(data.get("users") if isinstance(data, Mapping) else None)
    seen: dict[str, int] = {}
    known = None if users is None else {u.id for u in users}
    for number, entry in enumerate(devices, 1):
        check_entry(entry, number, seen)
        named = entry.get(PRIMARY_USER)
        if named is not None and (not isinstance(named, str) or (
                known is not None and named.strip() not in known)):
            raise ValueError(f"device {number} ({entry['id']}): {PRIMARY_USER} {named!r} is "
                             "not the id of a user in 'users:'")
    return Fleet([dict(entry) for entry in devices], users)


def check_users(raw: object) -> list[DirectoryEntry] | None:
    """The ``users:`` list: each with an id (once), a userPrincipalName; None when absent."""
    if raw is None:
        return None
    if not isinstance(raw, list):
        raise ValueError("'users' must be a list of {id, userPrincipalName, mail, displayName}")
    users: list[DirectoryEntry] = []
    for number, entry in enumerate(raw, 1):
        user = user_of(entry) if isinstance(entry, Mapping) else DirectoryEntry("")
        if not user.id or not user.upn:
            raise ValueError(f"user {number} needs an id and a userPrincipalName")
        if any(u.id == user.id for u in users):
            raise ValueError(f"user {number} repeats the id {user.id}")
        users.append(user)
    return users


def check_entry(entry: object, number: int, seen: dict[str, int]) -> None:
    """Check one device of a fleet file, remembering its id in ``seen``."""
    if not isinstance(entry, Mapping):
        raise ValueError(f"device {number} is not a mapping of managedDevice fields")
    for key in ("id", "deviceName"):
        value = entry.get(key)
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"device {number} has no {key} (a non-empty text is required)")
    key = entry["id"].strip().casefold()
    if key in seen:
        raise ValueError(f"device {number} repeats the id {entry['id']} of device {seen[key]}")
    seen[key] = number
    try:
        marks_of(entry)
    except ValueError as exc:
        raise ValueError(f"device {number} ({entry['id']}): {exc}") from None

