"""The built-in demo fleet (every support-matrix row, its users in Entra's shape) and the
synthetic fleets of the load tests and benchmarks."""

from __future__ import annotations

import base64
import itertools
import random
import string
from collections.abc import Mapping
from dataclasses import dataclass

from bot.backends.fleet import FleetEntry
from policy.membership import DirectoryEntry

# -- the demo fleet -----------------------------------------------------------------------------

_DEMO_USERS = {
    "alice": "Alice Lindqvist",
    "bob": "Bob Marino",
    "carol": "Carol Popescu",
    "dave": "Dave Okafor",
    "erin": "Erin Walsh",
}


# The demo users' Entra object ids (made up, GUID-shaped as Entra's are).
_DEMO_IDS = {
    "alice": "5f0c2a4e-1b7d-4e8a-9c3f-0a1b2c3d4e01",
    "bob": "5f0c2a4e-1b7d-4e8a-9c3f-0a1b2c3d4e02",
    "carol": "5f0c2a4e-1b7d-4e8a-9c3f-0a1b2c3d4e03",
    "dave": "5f0c2a4e-1b7d-4e8a-9c3f-0a1b2c3d4e04",
    "erin": "5f0c2a4e-1b7d-4e8a-9c3f-0a1b2c3d4e05",
}


def demo_users() -> list[DirectoryEntry]:
    """The demo fleet's users as the directory lists them; devices belong to them by their
    addresses (the fleet's devices name no primaryUserId)."""
    return [DirectoryEntry(_DEMO_IDS[u], f"{u}@example.com", f"{u}@example.com", name)
            for u, name in _DEMO_USERS.items()]


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

