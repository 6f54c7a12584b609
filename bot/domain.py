"""A passcode reset request and the states it moves through. No I/O."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from policy.platforms import Result, Row, Scope


class State(StrEnum):
    REQUESTED = "requested"
    REFUSED = "refused"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    DENIED = "denied"
    CANCELLED = "cancelled"
    EXPIRED = "expired"  # no decision within APPROVAL_TIMEOUT
    EXECUTING = "executing"
    COMPLETED = "completed"
    FAILED = "failed"
    REVEALED = "revealed"  # the passcode was shown to the requester (any number of times)
    PASSCODE_EXPIRED = "passcode_expired"  # 7 days after issue; the sealed value is gone

    @property
    def is_open(self) -> bool:
        """Still heading for a reset: blocks a second request for the same device."""
        return self in OPEN_STATES

    @property
    def label(self) -> str:
        return _LABELS[self]


OPEN_STATES = frozenset({State.AWAITING_APPROVAL, State.APPROVED, State.EXECUTING})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.REQUESTED: frozenset({State.REFUSED, State.AWAITING_APPROVAL}),
    State.AWAITING_APPROVAL: frozenset(
        {State.APPROVED, State.DENIED, State.CANCELLED, State.EXPIRED}
    ),
    State.APPROVED: frozenset({State.EXECUTING}),
    State.EXECUTING: frozenset({State.COMPLETED, State.FAILED}),
    State.COMPLETED: frozenset({State.REVEALED, State.PASSCODE_EXPIRED}),
    State.REVEALED: frozenset({State.REVEALED, State.PASSCODE_EXPIRED}),
}

_LABELS = {
    State.REQUESTED: "requested",
    State.REFUSED: "refused",
    State.AWAITING_APPROVAL: "awaiting approval",
    State.APPROVED: "approved",
    State.DENIED: "denied",
    State.CANCELLED: "cancelled",
    State.EXPIRED: "expired without a decision",
    State.EXECUTING: "resetting",
    State.COMPLETED: "completed",
    State.FAILED: "failed",
    State.REVEALED: "completed (passcode shown)",
    State.PASSCODE_EXPIRED: "completed (passcode expired)",
}


class IllegalTransition(Exception):
    def __init__(self, current: State, target: State) -> None:
        super().__init__(f"a request that is {current.label} cannot become {target.label}")
        self.current = current
        self.target = target


def check_transition(current: State, target: State) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)


def sources_of(target: State) -> frozenset[State]:
    """Every state from which ``target`` may be reached."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on a helpdesk call


def new_request_id() -> str:
    return "PR-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))


@dataclass(slots=True)
class ResetRequest:
    id: str
    requester_id: str
    requester_email: str
    device_id: str
    device_name: str
    device_serial: str
    device_owner_email: str
    row: Row
    scope: Scope
    expected: Result | None
    state: State
    created_at: datetime
    updated_at: datetime
    reason: str = ""  # why it was refused
    hint: str = ""  # what the requester can do instead
    warning: str = ""  # shown to the approver before they click
    approval_deadline: datetime | None = None
    decided_by: str = ""
    decided_at: datetime | None = None
    action_ref: str = ""
    action_started_at: datetime | None = None  # when execution claimed it (before the backend)
    action_recorded_at: datetime | None = None  # when the backend's action was recorded
    completed_at: datetime | None = None
    passcode_expires_at: datetime | None = None
    has_passcode: bool = False
    failure_code: str = ""
    failure_detail: str = ""
    reveal_count: int = 0
    # Where the notifier put its messages (channel ids, timestamps): opaque to the core.
    surface: dict[str, Any] = field(default_factory=dict)

    @property
    def device_label(self) -> str:
        return f"{self.device_name} (serial {self.device_serial or 'unknown'})"

    def passcode_available(self, now: datetime) -> bool:
        return (
            self.has_passcode
            and self.state in {State.COMPLETED, State.REVEALED}
            and self.passcode_expires_at is not None
            and now < self.passcode_expires_at
        )
