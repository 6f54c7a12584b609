"""FLEET_FILE read one device at a time (bot/backends/fleet_stream.py): the same devices,
users, checks and messages as the whole-file reader, whatever the JSON's shape and key order,
and a file that is not JSON of a fleet's shape still read (or refused) as the full reader
does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bot.backends.fleet import load_fleet_file
from bot.backends.fleet_demo import demo_fleet, demo_users
from bot.backends.fleet_stream import open_fleet_file
from bot.bootstrap import build_backend
from bot.clock import ManualClock
from bot.config import ConfigError, Settings

USERS = [{"id": u.id, "userPrincipalName": u.upn, "mail": u.mail, "displayName": u.display_name}
         for u in demo_users()]


def read(path: Path) -> tuple[Any, list[dict[str, Any]]]:
    stream = open_fleet_file(path)
    return stream.users, list(stream.devices)


def whole(path: Path) -> tuple[Any, list[dict[str, Any]]]:
    fleet = load_fleet_file(path)
    return fleet.users, fleet.devices


@pytest.mark.parametrize("document", [
    pytest.param(demo_fleet(), id="list"),
    pytest.param({"devices": demo_fleet()}, id="devices"),
    pytest.param({"devices": demo_fleet(), "users": USERS}, id="users-after"),
    pytest.param({"users": USERS, "other": [1, {"devices": 2}], "devices": demo_fleet()},
                 id="users-before"),
])
def test_json_reads_as_the_whole_file_does(tmp_path: Path, document: object) -> None:
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")
    assert read(path) == whole(path)
    path.write_text(json.dumps(document, separators=(",", ":")), encoding="utf-8")
    assert read(path) == whole(path)


def test_of_a_key_given_twice_the_last_counts(tmp_path: Path) -> None:
    path = tmp_path / "fleet.json"
    path.write_text(f'{{"devices": "not these", "users": {json.dumps(USERS)}, "devices":'
                    f' {json.dumps(demo_fleet())}}}', encoding="utf-8")
    assert read(path) == whole(path)
    assert len(read(path)[1]) == len(demo_fleet())


@pytest.mark.parametrize("text", [
    pytest.param("- {id: a, deviceName: A}\n- {id: b, deviceName: B}", id="yaml"),
    pytest.param("[{id: a, deviceName: A}]", id="yaml-flow"),
    pytest.param('{"devices": [{"id": "a", "deviceName": "A"}],}', id="trailing-comma"),
    pytest.param('[{"id": "a", "deviceName": "A"}] # said', id="yaml-comment"),
])
def test_what_is_not_json_is_read_as_yaml(tmp_path: Path, text: str) -> None:
    path = tmp_path / "fleet.json"
    path.write_text(text, encoding="utf-8")
    assert read(path) == whole(path)


@pytest.mark.parametrize(("text", "said"), [
    pytest.param("[]", "lists no devices", id="no-devices"),
    pytest.param('{"devices": []}', "lists no devices", id="no-devices-mapping"),
    pytest.param('{"devices": 3}', "expected a list of devices", id="devices-not-a-list"),
    pytest.param('[{"id": "a", "deviceName": "A"}, {"id": "A", "deviceName": "B"}]',
                 "device 2 repeats the id A of device 1", id="duplicate-id"),
    pytest.param('[{"id": "a", "deviceName": "A"}, 7]', "device 2 is not a mapping",
                 id="not-a-mapping"),
    pytest.param('{"devices": [{"id": "a", "deviceName": "A", "primaryUserId": "nobody"}],'
                 ' "users": [{"id": "u1", "userPrincipalName": "u1@example.com"}]}',
                 "primaryUserId 'nobody' is not the id of a user", id="unknown-owner"),
    pytest.param('{"devices": [{"id": "a", "deviceName": "A"}], "users": [{"id": "u1"}]}',
                 "user 1 needs an id and a userPrincipalName", id="bad-user"),
    pytest.param('[{"id": "a", "deviceName": "A"', "not valid YAML or JSON", id="cut-short"),
])
def test_a_bad_json_file_is_refused_with_the_whole_file_message(
    tmp_path: Path, text: str, said: str
) -> None:
    path = tmp_path / "fleet.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError) as streamed:
        read(path)
    with pytest.raises(ValueError) as loaded:
        whole(path)
    assert str(streamed.value) == str(loaded.value)
    assert said in str(streamed.value) and str(streamed.value).startswith(f"{path}: ")


def test_a_bad_device_late_in_a_big_file_stops_the_start(tmp_path: Path) -> None:
    """The backend takes devices in as they are read: a bad one late in the file still
    refuses the whole FLEET_FILE, in one line, and nothing half-built is used."""
    devices: list[object] = [{"id": f"id-{i}", "deviceName": f"D{i}"} for i in range(5_000)]
    devices.append({"id": "id-7", "deviceName": "again"})
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(devices), encoding="utf-8")
    settings = Settings(_env_file=None, fleet_file=path)  # type: ignore[call-arg]
    with pytest.raises(ConfigError) as raised:
        build_backend(settings, ManualClock())
    assert str(raised.value) == (f"FLEET_FILE: {path}: device 5001 repeats the id id-7 of "
                                 "device 8")


def test_a_missing_file_says_so(tmp_path: Path) -> None:
    path = tmp_path / "none.json"
    with pytest.raises(ValueError, match="cannot read the fleet file"):
        read(path)
