"""The simulated device backend: a fleet of Graph-shaped managedDevice objects (FLEET_FILE or
the built-in demo fleet) that answers like Intune, so the bot runs end to end without a
tenant. Resets stay pending for a moment, then complete or fail as each device's ``simulate``
marks say.

The fleet itself is static: every process loads the same one. The resets started are what
changes, and Intune holds them for every caller: once ``share_state`` gave the backend the
bot's database (bot/bootstrap.py does), they live in the simulation's own table
(bot/storage/simulation.py), their passcodes sealed with the vault, so a reset one replica
started is read by another, and by a process started again during the execution. Without a
database (a backend used on its own), they are this object's alone."""

from __future__ import annotations

import asyncio
import itertools
import logging
import secrets
import string
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from bot.backends.devices import device_from_graph
from bot.backends.fleet import (
    MADE_UP,
    Fleet,
    FleetEntry,
    Marks,
    load_fleet,
    load_fleet_file,
    made_up_user,
    marks_of,
    primary_user,
)
from bot.backends.fleet_demo import demo_fleet, demo_users, synthetic_fleet
from bot.backends.fleet_index import CompactFleet
from bot.backends.index import contains
from bot.clock import SystemClock
from bot.ports import (
    ActionRef,
    ActionState,
    ActionStatus,
    BackendError,
    Clock,
    Device,
    DeviceFilter,
    FailureCode,
    Identity,
)
from bot.storage.connection import Database
from bot.storage.simulation import SqlSimulatedResets, StoredReset
from bot.vault import Vault, VaultError
from policy.membership import DirectoryEntry, NoDirectoryUser, email_key, match_directory_user
from policy.platforms import Decision, Result, Row, Scope, decide

log = logging.getLogger(__name__)

# Re-exported: the fleet files and fleets live in bot/backends/fleet*.py.
__all__ = ["Fleet", "FleetEntry", "SimulatedBackend", "demo_fleet", "demo_users", "load_fleet",
           "load_fleet_file", "synthetic_fleet"]
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
        "The simulated backend has no record of this reset: it was started by a process "
        "whose simulated fleet kept its resets in memory."
    ),
)
_UNREADABLE = ActionStatus(
    ActionState.FAILED,
    failure=FailureCode.BACKEND_ERROR,
    detail="The simulated backend cannot open this reset's passcode: it was sealed under a "
           "key this bot does not hold.",
)
# How long the simulation's table keeps a reset's sealed passcode: far longer than any
# execution waits for it (EXECUTION_TIMEOUT); the bot keeps its own sealed copy after that.
PASSCODE_KEPT = timedelta(days=1)
_TOKEN_NOT_ACTIVATED = (
    "The work profile's reset token was never activated. The user has to set a work-profile "
    "password and accept the notification that activates the token, then ask again."
)
_NO_PASSCODE_POLICY = (
    "No device passcode policy is assigned to this device, so Android refused the reset. "
    "Assign a passcode policy in Intune, let the device check in, then ask again."
)

@dataclass(frozen=True, slots=True)
class _Action:
    """A started reset and the status it reports once it is no longer pending."""

    ref: ActionRef
    outcome: ActionStatus


class _Resets(Protocol):
    """Where the started resets live: this process's memory, or the database."""

    async def add(self, key: str, action: _Action) -> None: ...

    async def get(self, ref: str) -> _Action | None: ...

    async def of_device(self, key: str, since: datetime | None = None) -> list[_Action]:
        """Oldest first."""


class _MemoryResets:
    """The resets of one backend object alone."""

    def __init__(self) -> None:
        self._by_ref: dict[str, _Action] = {}
        self._by_device: dict[str, list[_Action]] = {}

    async def add(self, key: str, action: _Action) -> None:
        self._by_ref[action.ref.ref] = action
        self._by_device.setdefault(key, []).append(action)

    async def get(self, ref: str) -> _Action | None:
        return self._by_ref.get(ref)

    async def of_device(self, key: str, since: datetime | None = None) -> list[_Action]:
        started = self._by_device.get(key, [])
        return [a for a in started if since is None or a.ref.started_at >= since]


class _SharedResets:
    """The resets in the simulation's table, every passcode sealed under the vault's key and
    bound to its reset's reference."""

    def __init__(self, db: Database, vault: Vault, clock: Clock) -> None:
        self._table = SqlSimulatedResets(db)
        self._vault = vault
        self._clock = clock

    async def add(self, key: str, action: _Action) -> None:
        ref, outcome = action.ref, action.outcome
        sealed = (None if outcome.passcode is None
                  else self._vault.seal(_bound(ref.ref), outcome.passcode))
        stored = StoredReset(ref.ref, ref.device_id, ref.started_at, outcome.state.value,
                             outcome.failure.value if outcome.failure else "", outcome.detail,
                             sealed)
        await self._table.add(key, stored, forget_before=self._clock.now() - PASSCODE_KEPT)

    async def get(self, ref: str) -> _Action | None:
        stored = await self._table.get(ref)
        return None if stored is None else self._action(stored)

    async def of_device(self, key: str, since: datetime | None = None) -> list[_Action]:
        return [self._action(s) for s in await self._table.of_device(key, since)]

    def _action(self, stored: StoredReset) -> _Action:
        ref = ActionRef(stored.device_id, stored.started_at, stored.ref)
        failure = FailureCode(stored.failure_code) if stored.failure_code else None
        passcode = None
        if stored.sealed_passcode is not None:
            try:
                passcode = self._vault.unseal(_bound(stored.ref), stored.sealed_passcode)
            except VaultError:
                return _Action(ref, _UNREADABLE)
        state = ActionState(stored.state)
        return _Action(ref, ActionStatus(state, passcode=passcode, failure=failure,
                                         detail=stored.failure_detail))


def _bound(ref: str) -> str:
    """What a simulated reset's sealed passcode is bound to (never a request id)."""
    return f"simulated-reset:{ref}"


class SimulatedBackend:
    """A DeviceBackend over a fleet held compactly (bot/backends/fleet_index.py), for
    100,000 devices and more."""

    name = "simulated"

    def __init__(
        self,
        devices: Iterable[Mapping[str, Any]],
        *,
        users: Iterable[DirectoryEntry] | None = None,
        clock: Clock | None = None,
        pending_for: timedelta = timedelta(seconds=1.5),
    ) -> None:
        """``users``: the fleet's directory (a fleet file's ``users:``); None: made up from
        the devices' addresses (bot/backends/fleet.py says how devices belong to users)."""
        self._clock: Clock = clock or SystemClock()
        self.pending_for = pending_for
        self.resets_started = 0
        self._listed = None if users is None else list(users)
        self._users: dict[str, DirectoryEntry] = {u.id: u for u in self._listed or ()}
        self._devices = CompactFleet(self._admitted(devices))
        self._by_address: dict[str, list[DirectoryEntry]] = {}
        for user in self._users.values():
            for key in {email_key(user.upn), email_key(user.mail)} - {""}:
                self._by_address.setdefault(key, []).append(user)
        self._resets: _Resets = _MemoryResets()
        self._mine: dict[str, list[ActionRef]] = {}  # the resets this object started
        # A reset is recorded before this process's look for it goes on: as in memory, where
        # both took no time (one execution here and its retry racing find it, not two).
        self._recording = asyncio.Lock()

    def share_state(self, db: Database, vault: Vault) -> None:
        """Keep the resets in ``db``'s simulation table from now on, where every process on
        it reads them; their passcodes sealed with ``vault``. Call before the first reset."""
        self._resets = _SharedResets(db, vault, self._clock)

    def _admitted(
        self, entries: Iterable[Mapping[str, Any]]
    ) -> Iterator[tuple[Device, str, Marks]]:
        """Each fleet entry as a Device, its primary user's id, and its simulate marks."""
        seen: set[str] = set()
        for entry in entries:
            marks = marks_of(entry)
            device = device_from_graph(entry, has_passcode_policy=marks.passcode_policy)
            key = device.id.casefold()
            if key in seen:
                raise ValueError(f"the fleet lists device id {device.id} twice")
            seen.add(key)
            yield device, primary_user(entry, self._listed), marks

    def _user(self, user_id: str) -> DirectoryEntry | None:
        """The directory's user with this id: a listed one, or the one a fleet without users
        makes up for an address (fleet.py)."""
        user = self._users.get(user_id)
        if user is None and self._listed is None and user_id:
            made_up = made_up_user(user_id.removeprefix(MADE_UP))
            user = made_up if made_up.id == user_id else None
        return user

    async def identify(self, email: str) -> Identity:
        """The fleet's user for this email: by UPN, then mail, exactly one or a refusal."""
        key = email_key(email)
        candidates = self._by_address.get(key, []) if key else []
        if not candidates and key and self._listed is None:
            # A fleet without users: every address is a user of its own (fleet.py).
            candidates = [made_up_user(key)]
        found = match_directory_user(email, candidates)
        if isinstance(found, NoDirectoryUser):
            return Identity(refusal=found.value)
        return Identity(found.id, upn=found.upn, display_name=found.display_name,
                        mail=found.mail)

    async def owner_of(self, device: Device) -> Identity:
        """The primary user the fleet names for the device (user_id "": userless)."""
        known = self._devices.get(device.id)
        owner = known.primary_user_id if known is not None else ""
        user = self._user(owner) if owner else None
        if user is None:
            return Identity(owner)
        return Identity(owner, upn=user.upn, display_name=user.display_name, mail=user.mail)

    async def devices_of(self, user_id: str, text: str = "", limit: int = 100) -> list[Device]:
        """The user's devices whose name or serial contains ``text``, in name order."""
        needle = text.strip().casefold()
        owned = self._devices.owned(user_id) if user_id else iter(())
        return list(itertools.islice((d for d in owned if contains(d, needle)), max(limit, 0)))

    async def find_devices(
        self, query: str, *, primary_email: str | None = None, limit: int = 10
    ) -> list[Device]:
        """Devices whose id, serial or name equals ``query``, case-insensitive; O(1) lookup."""
        return self._devices.find(query, primary_email=primary_email, limit=limit)

    async def search_devices(
        self, text: str, *, primary_email: str | None = None, limit: int = 100,
        keep: DeviceFilter | None = None,
    ) -> list[Device]:
        """Devices whose name or serial contains ``text``, in name order."""
        return self._devices.search(text, primary_email=primary_email, limit=limit, keep=keep)

    async def get_device(self, device_id: str) -> Device | None:
        """The device with this Intune id, case-insensitive."""
        return self._devices.get(device_id)

    async def start_reset(self, device: Device, scope: Scope) -> ActionRef:
        """Record a reset whose outcome is fixed now and reported after ``pending_for``."""
        at = self._devices.position(device.id)
        if at is None:
            raise BackendError(
                f"The device {device.id} is not in the simulated fleet.",
                failure=FailureCode.DEVICE_NOT_FOUND,
            )
        known = self._devices.device(at)
        ref = ActionRef(known.id, self._clock.now(), str(uuid.uuid4()))
        outcome = _outcome(decide(known.facts, scope), self._devices.marks(at))
        async with self._recording:
            await self._resets.add(known.id.casefold(), _Action(ref, outcome))
        self._mine.setdefault(known.id.casefold(), []).append(ref)
        self.resets_started += 1
        log.info("Simulated %s reset %s started on device %s", scope.value, ref.ref, known.id)
        return ref

    async def action_status(self, ref: ActionRef) -> ActionStatus:
        """Pending until ``pending_for`` has passed since the start, then the fixed outcome."""
        action = await self._resets.get(ref.ref)
        if action is None:
            return _FORGOTTEN
        if self._clock.now() - action.ref.started_at < self.pending_for:
            return _PENDING
        return action.outcome

    async def find_started_action(self, device_id: str, since: datetime) -> ActionRef | None:
        """The newest reset of the device started at or after ``since``, by any process
        sharing the state."""
        async with self._recording:
            started = await self._resets.of_device(device_id.strip().casefold(), since)
        return started[-1].ref if started else None

    def actions_for(self, device_id: str) -> list[ActionRef]:
        """Every reset this object started on the device, oldest first (``resets_of``:
        every process's)."""
        return list(self._mine.get(device_id.strip().casefold(), []))

    async def resets_of(self, device_id: str) -> list[ActionRef]:
        """Every reset started on the device by any process sharing the state, oldest
        first."""
        return [a.ref for a in await self._resets.of_device(device_id.strip().casefold())]

    async def aclose(self) -> None:
        """Nothing to release."""


def _outcome(decision: Decision, marks: Marks) -> ActionStatus:
    """What a reset reports once done: the failure the marks call for, or success."""
    failure = _failure(decision, marks)
    if failure is not None:
        code, detail = failure
        return ActionStatus(ActionState.FAILED, failure=code, detail=detail)
    return ActionStatus(ActionState.DONE, passcode=_new_secret(decision.result))


def _failure(decision: Decision, marks: Marks) -> tuple[FailureCode, str] | None:
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
