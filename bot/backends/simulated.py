"""The simulated device backend: an in-memory fleet of Graph-shaped managedDevice objects
(FLEET_FILE or the built-in demo fleet) that answers like Intune, so the bot runs end to end
without a tenant. Resets stay pending for a moment, then complete or fail as each device's
``simulate`` marks say."""

from __future__ import annotations

import dataclasses
import logging
import secrets
import string
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.backends.devices import device_from_graph
from bot.backends.fleet import (
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
from bot.backends.index import DeviceIndex, contains
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
        users: Iterable[DirectoryEntry] | None = None,
        clock: Clock | None = None,
        pending_for: timedelta = timedelta(seconds=1.5),
    ) -> None:
        """``users``: the fleet's directory (a fleet file's ``users:``); None: made up from
        the devices' addresses (bot/backends/fleet.py says how devices belong to users)."""
        self._clock: Clock = clock or SystemClock()
        self.pending_for = pending_for
        self.resets_started = 0
        self._marks: dict[str, Marks] = {}
        self._listed = None if users is None else list(users)
        self._users: dict[str, DirectoryEntry] = {u.id: u for u in self._listed or ()}
        self._owned: dict[str, list[Device]] = {}
        self._devices = DeviceIndex(map(self._admit, devices))
        for owned in self._owned.values():
            owned.sort(key=lambda d: (d.name.casefold(), d.id))
        self._by_address: dict[str, list[DirectoryEntry]] = {}
        for user in self._users.values():
            for key in {email_key(user.upn), email_key(user.mail)} - {""}:
                self._by_address.setdefault(key, []).append(user)
        self._actions: dict[str, list[ActionRef]] = {}
        self._outcomes: dict[str, _Action] = {}

    def _admit(self, entry: Mapping[str, Any]) -> Device:
        """Map one fleet entry to a Device with its primary user, keeping its simulate marks
        aside."""
        marks = marks_of(entry)
        device = device_from_graph(entry, has_passcode_policy=marks.passcode_policy)
        if device.id.casefold() in self._marks:
            raise ValueError(f"the fleet lists device id {device.id} twice")
        self._marks[device.id.casefold()] = marks
        owner = primary_user(entry, self._listed)
        if owner and self._listed is None and owner not in self._users:
            made_up = made_up_user(device.primary_email)
            self._users[owner] = made_up if made_up.id == owner else DirectoryEntry(owner)
        device = dataclasses.replace(device, primary_user_id=owner)
        if owner:
            self._owned.setdefault(owner, []).append(device)
        return device

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
        user = self._users.get(owner) if owner else None
        if user is None:
            return Identity(owner)
        return Identity(owner, upn=user.upn, display_name=user.display_name, mail=user.mail)

    async def devices_of(self, user_id: str, text: str = "", limit: int = 100) -> list[Device]:
        """The user's devices whose name or serial contains ``text``, in name order."""
        needle = text.strip().casefold()
        owned = self._owned.get(user_id, []) if user_id else []
        return [d for d in owned if contains(d, needle)][: max(limit, 0)]

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
