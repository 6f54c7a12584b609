"""The boundaries of the core: what a device backend, a role directory, a notifier and a
clock must offer. Adapters implement these; the service layer only talks to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Protocol

from policy.platforms import DeviceFacts, Scope

if TYPE_CHECKING:
    from bot.domain import ResetRequest


@dataclass(frozen=True, slots=True)
class Device:
    """A managed device as the backend reports it."""

    id: str
    name: str
    serial: str
    facts: DeviceFacts
    primary_email: str = ""  # empty: userless (kiosk, AOSP userless)
    primary_name: str = ""
    # True / False when the backend can tell whether a device passcode policy is assigned;
    # None when it cannot (then the approver is warned for rows that need one).
    has_passcode_policy: bool | None = None

    @property
    def model_label(self) -> str:
        return f"{self.name} (serial {self.serial or 'unknown'})"


class ActionState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class FailureCode(StrEnum):
    """Why a reset failed, in terms the requester's message can explain."""

    RESET_TOKEN_NOT_ACTIVATED = "reset_token_not_activated"
    NO_PASSCODE_POLICY = "no_passcode_policy"
    IOS_UNLOCK_TOKEN = "ios_unlock_token"
    NOT_SUPPORTED = "not_supported"
    DEVICE_NOT_FOUND = "device_not_found"
    TIMED_OUT = "timed_out"
    BACKEND_ERROR = "backend_error"


@dataclass(frozen=True, slots=True)
class ActionRef:
    """What the backend hands back when a reset starts: enough to read its outcome later."""

    device_id: str
    started_at: datetime
    ref: str = ""


@dataclass(frozen=True, slots=True)
class ActionStatus:
    state: ActionState
    passcode: str | None = field(default=None, repr=False)  # never in a repr, so never in a log
    failure: FailureCode | None = None
    detail: str = ""  # a sentence a person understands; never a stack trace


class BackendError(Exception):
    """A backend call failed. ``message`` is fit to show a person; ``retryable`` says whether
    trying again later may succeed (outage, throttling) or not (bad request, forbidden)."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        failure: FailureCode = FailureCode.BACKEND_ERROR,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.failure = failure


class DeviceBackend(Protocol):
    """Intune (through Graph) or the simulated fleet."""

    name: str

    async def find_devices(
        self, query: str, *, primary_email: str | None = None, limit: int = 10
    ) -> list[Device]:
        """Devices whose Intune id, serial number or name equals ``query`` (case-insensitive),
        limited to those whose primary user is ``primary_email`` when given."""

    async def search_devices(
        self, text: str, *, primary_email: str | None = None, limit: int = 100
    ) -> list[Device]:
        """Devices whose name or serial contains ``text`` (case-insensitive), for the picker;
        empty text lists the first ``limit``."""

    async def get_device(self, device_id: str) -> Device | None: ...

    async def start_reset(self, device: Device, scope: Scope) -> ActionRef:
        """Queue the passcode reset. Not idempotent: call once per approved request."""

    async def action_status(self, ref: ActionRef) -> ActionStatus: ...

    async def find_started_action(self, device_id: str, since: datetime) -> ActionRef | None:
        """A reset of this device started at or after ``since``, if the backend knows one:
        how a restart after a crash finds the action instead of starting a second one."""

    async def aclose(self) -> None: ...


class RoleDirectory(Protocol):
    """Where approver roles come from: ROLES_FILE, or Entra ID / Intune RBAC."""

    async def roles_for(self, user_id: str, email: str) -> frozenset[str]: ...


class NotifyEvent(StrEnum):
    APPROVAL_REQUESTED = "approval_requested"
    DECIDED = "decided"  # approved or denied
    CANCELLED = "cancelled"
    APPROVAL_EXPIRED = "approval_expired"
    RESULT = "result"  # completed or failed
    PASSCODE_EXPIRED = "passcode_expired"


class Later(Exception):  # not an error: a request to be called again
    """Raised by a notifier that must wait its turn (a channel's rate limit) for longer than
    is worth holding a task for: the job queue runs the job again in ``seconds``, without
    counting a failed attempt."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"again in {seconds:.1f} s")
        self.seconds = seconds


class Notifier(Protocol):
    """Tells people what happened to a request (Slack messages, or the demo's console).
    Called from the durable job queue: raising makes the job retry later (Later: at a given
    time), so an implementation must tolerate being called again for the same event."""

    async def notify(self, event: NotifyEvent, request: ResetRequest) -> None: ...

    async def delivery_failed(self, event: NotifyEvent, request: ResetRequest, error: str) -> None:
        """Telling someone has kept failing for a while: raise the alarm elsewhere (the
        approvals channel). Called once per stuck notification; retries go on after it."""


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now."""
