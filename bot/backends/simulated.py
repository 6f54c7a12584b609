"""The simulated device backend: an in-memory fleet of Graph-shaped managedDevice objects
(FLEET_FILE or the built-in demo fleet) that answers like Intune, so the bot runs end to end
without a tenant. Resets stay pending for a moment, then complete or fail as each device's
``simulate`` marks say."""

from __future__ import annotations

import base64
import itertools
import logging
import random
import secrets
import string
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from bot.backends.devices import device_from_graph
from bot.backends.index import DeviceIndex
from bot.clock import SystemClock
from bot.ports import ActionRef, ActionState, ActionStatus, BackendError, Clock, Device, FailureCode
from policy.platforms import Decision, Result, Row, Scope, decide

log = logging.getLogger(__name__)

FleetEntry = dict[str, Any]

_MARKS = frozenset({"fail", "resetTokenActivated", "passcodePolicy"})
_ANDROID_ROWS = frozenset(
    {
        Row.ANDROID_DA_LEGACY,
        Row.ANDROID_DA_MODERN,
        Row.AE_FULLY_MANAGED,
        Row.AE_DEDICATED,
        Row.AE_WORK_PROFILE_PERSONAL,
        Row.AE_WORK_PROFILE_CORPORATE,
        Row.AOSP_USER_ASSOCIATED,
        Row.AOSP_USERLESS,
    }
)
# Digits in the secret each kind of result hands back (Windows Mobile PINs are 4-6 digits).
_SECRET_DIGITS = {Result.TEMPORARY_PASSCODE: 8, Result.NEW_PASSCODE: 6, Result.NEW_PIN: 6}
_PENDING = ActionStatus(ActionState.PENDING)
_FORGOTTEN = ActionStatus(
    ActionState.FAILED,
    failure=FailureCode.BACKEND_ERROR,
    detail=(
        "The simulated backend has no record of this reset: it keeps actions in memory, "
        "so a restart forgets them."
    ),
)
_TOKEN_NOT_ACTIVATED = (
    "The work profile's reset token was never activated. The user has to set a work-profile "
    "password and accept the notification that activates the token, then ask again."
)
_NO_PASSCODE_POLICY = (
    "No device passcode policy is assigned to this device, so Android refused the reset. "
    "Assign a passcode policy in Intune, let the device check in, then ask again."
)

@dataclass(frozen=True, slots=True)
class _Marks:
    """How a device's reset should go wrong, from its ``simulate`` mapping."""

    fail: str | None = None
    reset_token_activated: bool = True
    passcode_policy: bool | None = None


_UNMARKED = _Marks()


@dataclass(frozen=True, slots=True)
class _Action:
    """A started reset and the status it reports once it is no longer pending."""

    ref: ActionRef
    outcome: ActionStatus


class SimulatedBackend:
    """A DeviceBackend over an in-memory fleet, indexed for 100,000 devices."""

    name = "simulated"

    def __init__(
        self,
        devices: Iterable[Mapping[str, Any]],
        *,
        clock: Clock | None = None,
        pending_for: timedelta = timedelta(seconds=1.5),
    ) -> None:
        self._clock: Clock = clock or SystemClock()
        self.pending_for = pending_for
        self.resets_started = 0
        self._marks: dict[str, _Marks] = {}
        self._devices = DeviceIndex(map(self._admit, devices))
        self._actions: dict[str, list[ActionRef]] = {}
        self._outcomes: dict[str, _Action] = {}

    def _admit(self, entry: Mapping[str, Any]) -> Device:
        """Map one fleet entry to a Device, keeping its simulate marks aside."""
        marks = _marks_of(entry)
        device = device_from_graph(entry, has_passcode_policy=marks.passcode_policy)
        if device.id.casefold() in self._marks:
            raise ValueError(f"the fleet lists device id {device.id} twice")
        self._marks[device.id.casefold()] = marks
        return device

    async def find_devices(
        self, query: str, *, primary_email: str | None = None, limit: int = 10
    ) -> list[Device]:
        """Devices whose id, serial or name equals ``query``, case-insensitive; O(1) lookup."""
        return self._devices.find(query, primary_email=primary_email, limit=limit)

    async def search_devices(
        self, text: str, *, primary_email: str | None = None, limit: int = 100
    ) -> list[Device]:
        """Devices whose name or serial contains ``text``, in name order."""
        return self._devices.search(text, primary_email=primary_email, limit=limit)

    async def get_device(self, device_id: str) -> Device | None:
        """The device with this Intune id, case-insensitive."""
        return self._devices.get(device_id)

    async def start_reset(self, device: Device, scope: Scope) -> ActionRef:
        """Record a reset whose outcome is fixed now and reported after ``pending_for``."""
        known = self._devices.get(device.id)
        if known is None:
            raise BackendError(
                f"The device {device.id} is not in the simulated fleet.",
                failure=FailureCode.DEVICE_NOT_FOUND,
            )
        ref = ActionRef(known.id, self._clock.now(), str(uuid.uuid4()))
        outcome = _outcome(decide(known.facts, scope), self._marks[known.id.casefold()])
        self._outcomes[ref.ref] = _Action(ref, outcome)
        self._actions.setdefault(known.id.casefold(), []).append(ref)
        self.resets_started += 1
        log.info("Simulated %s reset %s started on device %s", scope.value, ref.ref, known.id)
        return ref

    async def action_status(self, ref: ActionRef) -> ActionStatus:
        """Pending until ``pending_for`` has passed since the start, then the fixed outcome."""
        action = self._outcomes.get(ref.ref)
        if action is None:
            return _FORGOTTEN
        if self._clock.now() - action.ref.started_at < self.pending_for:
            return _PENDING
        return action.outcome

    async def find_started_action(self, device_id: str, since: datetime) -> ActionRef | None:
        """The newest reset of the device started at or after ``since``."""
        started = self._actions.get(device_id.strip().casefold(), [])
        return next((ref for ref in reversed(started) if ref.started_at >= since), None)

    def actions_for(self, device_id: str) -> list[ActionRef]:
        """Every reset started on the device, oldest first."""
        return list(self._actions.get(device_id.strip().casefold(), []))

    async def aclose(self) -> None:
        """Nothing to release."""


def _outcome(decision: Decision, marks: _Marks) -> ActionStatus:
    """What a reset reports once done: the failure the marks call for, or success."""
    failure = _failure(decision, marks)
    if failure is not None:
        code, detail = failure
        return ActionStatus(ActionState.FAILED, failure=code, detail=detail)
    return ActionStatus(ActionState.DONE, passcode=_new_secret(decision.result))


def _failure(decision: Decision, marks: _Marks) -> tuple[FailureCode, str] | None:
    """Why this reset fails, as Intune would report it, or None when it succeeds."""
    if not decision.allowed:
        return FailureCode.NOT_SUPPORTED, ""  # policy refused it: the service words it
    if marks.fail:
        ios = decision.row is Row.IOS_DEVICE_ENROLLMENT
        return (FailureCode.IOS_UNLOCK_TOKEN if ios else FailureCode.BACKEND_ERROR), marks.fail
    if decision.scope is Scope.WORK_PROFILE and not marks.reset_token_activated:
        return FailureCode.RESET_TOKEN_NOT_ACTIVATED, _TOKEN_NOT_ACTIVATED
    if decision.row in _ANDROID_ROWS and marks.passcode_policy is False:
        return FailureCode.NO_PASSCODE_POLICY, _NO_PASSCODE_POLICY
    return None


def _new_secret(result: Result | None) -> str | None:
    """A fresh random passcode or PIN, or None when the result carries no secret."""
    if result is None or not result.carries_secret:
        return None
    return "".join(secrets.choice(string.digits) for _ in range(_SECRET_DIGITS[result]))


def _marks_of(entry: Mapping[str, Any]) -> _Marks:
    """Read an entry's ``simulate`` mapping; a ValueError names the mark that is wrong."""
    raw = entry.get("simulate")
    if raw is None:
        return _UNMARKED
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
    return _Marks(fail.strip() if fail else None, token, policy)


# -- fleet files ------------------------------------------------------------------------------

_SHAPE = "expected a list of devices, or a mapping with a 'devices:' list"


def load_fleet(path: str | Path) -> list[FleetEntry]:
    """Read a FLEET_FILE (YAML or JSON); a ValueError names the file and what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def _where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    if mark is None:
        return ""
    return f" (line {mark.line + 1}, column {mark.column + 1}: {getattr(exc, 'problem', '')})"


def _check_fleet(data: object) -> list[FleetEntry]:
    """The devices of a parsed fleet file, checked; ValueError says what is wrong."""
    if data is None:
        raise ValueError(f"the file is empty; {_SHAPE}")
    devices = data.get("devices") if isinstance(data, Mapping) else data
    if not isinstance(devices, list):
        raise ValueError(_SHAPE)
    if not devices:
        raise ValueError("the fleet lists no devices")
    seen: dict[str, int] = {}
    for number, entry in enumerate(devices, 1):
        _check_entry(entry, number, seen)
    return [dict(entry) for entry in devices]


def _check_entry(entry: object, number: int, seen: dict[str, int]) -> None:
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
        _marks_of(entry)
    except ValueError as exc:
        raise ValueError(f"device {number} ({entry['id']}): {exc}") from None


# -- the demo fleet -----------------------------------------------------------------------------

_DEMO_USERS = {
    "alice": "Alice Lindqvist",
    "bob": "Bob Marino",
    "carol": "Carol Popescu",
    "dave": "Dave Okafor",
    "erin": "Erin Walsh",
}


def _demo(
    id_: str,
    name: str,
    serial: str,
    platform: tuple[str, str, str, str],
    user: str = "",
    *,
    owner: str = "company",
    agent: str = "mdm",
    simulate: Mapping[str, object] | None = None,
) -> FleetEntry:
    """One demo device; ``platform`` is (operatingSystem, osVersion, enrollment, deviceType)."""
    os_, version, enrollment, device_type = platform
    email = f"{user}@example.com" if user else ""
    entry: FleetEntry = {
        "id": id_,
        "deviceName": name,
        "serialNumber": serial,
        "operatingSystem": os_,
        "osVersion": version,
        "deviceEnrollmentType": enrollment,
        "deviceType": device_type,
        "managementAgent": agent,
        "managedDeviceOwnerType": owner,
        "emailAddress": email,
        "userPrincipalName": email,
        "userDisplayName": _DEMO_USERS.get(user, ""),
    }
    if simulate:
        entry["simulate"] = dict(simulate)
    return entry


_AE = "androidEnterprise"
_AOSP_USER = ("Android", "11", "androidAOSPUserOwnedDeviceEnrollment", "androidnGMS")


def demo_fleet() -> list[FleetEntry]:
    """The built-in fleet: every support-matrix row, plus one device per failure mark."""
    return [
        _demo("19011799-603f-4bac-bcc2-5d2cc5ceaf21", "SM-G930F-DAVE", "R28H70Q4KLM",
              ("Android", "6.0.1", "userEnrollment", "android"), "dave", owner="personal"),
        _demo("9b603422-2994-4f9e-b308-74e366426a70", "SM-G950F-BOB", "R58K31B2XQZ",
              ("Android", "9", "userEnrollment", "android"), "bob", owner="personal"),
        _demo("d7d2d617-9d12-4bb2-bb9c-9a4a1a9923be", "PIXEL8-ALICE", "38011FDJH002NK",
              ("Android", "14", "androidEnterpriseFullyManaged", _AE), "alice"),
        _demo("09783e57-dd7c-4a32-99a8-66d90ede5b0f", "KIOSK-LOBBY-01", "R9PT30CQ7LW",
              ("Android", "13", "androidEnterpriseDedicatedDevice", _AE)),
        _demo("482330c7-3817-467b-bc48-3168da777071", "carol_AndroidForWork_3/14/2024_9:41 AM",
              "RFCW20N3ABX", ("Android", "14", "userEnrollment", "androidForWork"), "carol",
              owner="personal"),
        _demo("cb0534d0-57d8-4899-ba87-bd40ce0a4f62", "COPE-ALICE-A54", "RZCW11ALT8J",
              ("Android", "14", "androidEnterpriseCorporateWorkProfile", _AE), "alice"),
        _demo("e96e2a75-a919-4793-908c-6543263b85eb", "NAVIGATOR-BOB", "RW520-4K7Q9A", _AOSP_USER,
              "bob", agent="intuneAosp", simulate={"passcodePolicy": True}),
        _demo("a5efcaab-914f-4aed-b400-b347e8a9ef7b", "QUEST3-TRAINING-02", "2G0YC1ZF8M0123",
              ("Android", "12", "androidAOSPUserlessDeviceEnrollment", "androidnGMS"),
              agent="intuneAosp", simulate={"passcodePolicy": True}),
        _demo("a682d288-dfb8-4897-9202-ddabbcbb2e4f", "Alice's iPhone", "F2LZK3T8N72Q",
              ("iOS", "17.4.1", "appleBulkWithUser", "iPhone"), "alice"),
        _demo("ad153f24-9a87-4452-946d-4a3af5761769", "Dave's iPhone", "G6TDL9X2PLJ7",
              ("iOS", "17.5", "appleAccountDrivenUserEnrollment", "iPhone"), "dave",
              owner="personal"),
        _demo("b514de1b-4c88-4e19-8e88-1d804d25203b", "Carol's MacBook Pro", "C02FN3Q8MD6T",
              ("macOS", "14.4.1", "appleBulkWithUser", "macMDM"), "carol"),
        _demo("f3e23824-aefc-4dd2-861e-e7731d295ed0", "DESKTOP-7F3K2QL", "PF3K2QLT",
              ("Windows", "10.0.22631.2861", "windowsAzureADJoin", "desktop"), "bob"),
        _demo("d210c6bd-f041-40c0-88d1-276c58daa259", "Lumia950-ERIN", "356789081234567",
              ("Windows", "10.0.15254.603", "userEnrollment", "windowsPhone"), "erin"),
        _demo("e74c956a-098c-41d1-9346-055a3d8b5ca1", "erin-ubuntu-dev", "PC2F4K9M",
              ("Linux", "22.04", "", "linux"), "erin"),
        _demo("c13d05f8-194f-4285-87a7-36b0297a14c5", "Erin's Galaxy A14", "R9TW507MZPE",
              ("Android", "13", "userEnrollment", ""), "erin", owner="personal"),
        _demo("60328651-5594-45d2-b079-815cce6c7e80", "Bob's Pixel 7", "28201FDH3004QX",
              ("Android", "14", "userEnrollment", "androidForWork"), "bob", owner="personal",
              simulate={"resetTokenActivated": False}),
        _demo("72f883ed-5b25-4152-aa46-c9a1e1626024", "Erin's iPad", "DMPXK2Q1LM8R",
              ("iPadOS", "17.3", "appleBulkWithUser", "iPad"), "erin",
              simulate={"fail": "The iPad did not accept the passcode removal: Intune holds an "
                                "unlock token that does not match the device."}),
        _demo("764b93c6-3663-41aa-a5f7-b9cf7d4cfbe7", "NAVIGATOR-DAVE", "RW520-9M2X4C",
              _AOSP_USER, "dave", agent="intuneAosp", simulate={"passcodePolicy": False}),
    ]  # fmt: skip


# -- synthetic fleets for load tests ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Kind:
    """One kind of device in a synthetic fleet, with the managedDevice fields it reports."""

    weight: int  # how common the kind is, roughly as in a corporate fleet
    model: str
    platform: tuple[str, str, str]  # operatingSystem, deviceEnrollmentType, deviceType
    versions: tuple[str, ...]
    owner: str = "company"
    agent: str = "mdm"
    userless: bool = False


_KINDS = (
    _Kind(8, "IPHONE15", ("iOS", "appleBulkWithUser", "iPhone"), ("17.4.1", "17.5", "16.7.8")),
    _Kind(2, "IPAD-AIR", ("iPadOS", "appleBulkWithUser", "iPad"), ("17.4", "16.2")),
    _Kind(1, "IPHONE-BYOD", ("iOS", "appleAccountDrivenUserEnrollment", "iPhone"), ("17.5",),
          "personal"),
    _Kind(4, "PIXEL8", ("Android", "androidEnterpriseFullyManaged", _AE), ("14", "13")),
    _Kind(4, "GALAXY-S23", ("Android", "userEnrollment", "androidForWork"), ("14", "13"),
          "personal"),
    _Kind(2, "GALAXY-A54", ("Android", "androidEnterpriseCorporateWorkProfile", _AE), ("14",)),
    _Kind(2, "KIOSK-TABA8", ("Android", "androidEnterpriseDedicatedDevice", _AE), ("13", "12"),
          userless=True),
    _Kind(1, "GALAXY-S7", ("Android", "userEnrollment", "android"), ("6.0.1", "7.0", "8.0.0"),
          "personal"),
    _Kind(1, "NAVIGATOR", ("Android", "androidAOSPUserOwnedDeviceEnrollment", "androidnGMS"),
          ("11",), agent="intuneAosp"),
    _Kind(1, "QUEST3", ("Android", "androidAOSPUserlessDeviceEnrollment", "androidnGMS"),
          ("12",), agent="intuneAosp", userless=True),
    _Kind(6, "DESKTOP", ("Windows", "windowsAzureADJoin", "desktop"),
          ("10.0.22631.2861", "10.0.19045.4170")),
    _Kind(2, "MACBOOK", ("macOS", "appleBulkWithUser", "macMDM"), ("14.4.1", "13.6.7")),
    _Kind(1, "LUMIA950", ("Windows", "userEnrollment", "windowsPhone"), ("10.0.15254.603",)),
    _Kind(1, "LINUX", ("Linux", "", "linux"), ("22.04",)),
)  # fmt: skip
_KIND_WEIGHTS = list(itertools.accumulate(kind.weight for kind in _KINDS))
_FIRST = (
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
    "mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yusuf",
)  # fmt: skip
_LAST = (
    "andersson", "berg", "costa", "dumitru", "eriksson", "ferrari", "gallo", "holm", "ionescu",
    "johansson", "karlsson", "lindqvist", "marino", "nilsson", "olsen", "popescu", "ricci",
    "stan", "torres", "walsh",
)  # fmt: skip
_SERIAL_CHARS = string.ascii_uppercase + string.digits


def synthetic_fleet(n: int, seed: int = 0) -> list[FleetEntry]:
    """``n`` varied, realistic devices, two per user, the same for the same seed."""
    rng = random.Random(seed)
    kinds = rng.choices(_KINDS, cum_weights=_KIND_WEIGHTS, k=n)
    # Random bytes drawn in bulk: per-device uuid4() and choices() would take seconds at 100k.
    ids = rng.randbytes(16 * n).hex()
    serials = base64.b32encode(rng.randbytes(8 * n)).decode()  # 12.8 characters per device
    return [
        _synthetic(i, kind, _guid(ids[32 * i : 32 * i + 32]), serials[12 * i : 12 * i + 12], rng)
        for i, kind in enumerate(kinds)
    ]


def _guid(hex32: str) -> str:
    """A version-4 GUID, as Intune's ids are, from 32 random hex digits."""
    variant = "89ab"[int(hex32[16], 16) & 3]
    return f"{hex32[:8]}-{hex32[8:12]}-4{hex32[13:16]}-{variant}{hex32[17:20]}-{hex32[20:]}"


def _synthetic(i: int, kind: _Kind, id_: str, serial: str, rng: random.Random) -> FleetEntry:
    """The ``i``-th device of a synthetic fleet."""
    os_, enrollment, device_type = kind.platform
    person = i // 2
    first = _FIRST[person % len(_FIRST)]
    last = _LAST[person // len(_FIRST) % len(_LAST)]
    number = person // (len(_FIRST) * len(_LAST)) or ""
    email = "" if kind.userless else f"{first}.{last}{number}@example.com"
    return {
        "id": id_,
        "deviceName": f"{kind.model}-{i:06d}",
        "serialNumber": serial,
        "operatingSystem": os_,
        "osVersion": rng.choice(kind.versions),
        "deviceEnrollmentType": enrollment,
        "deviceType": device_type,
        "managementAgent": kind.agent,
        "managedDeviceOwnerType": kind.owner,
        "emailAddress": email,
        "userPrincipalName": email,
        "userDisplayName": "" if kind.userless else f"{first.title()} {last.title()}",
    }
