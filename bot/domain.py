"""A passcode reset request, the states it moves through, and its transitions.

Each transition is a method of ResetRequest that returns the ``Change`` it makes (the state it
moves to and from which states, the fields it sets, its audit event, the jobs it schedules);
a RequestStore applies a Change in one transaction, conditionally, so one of any racing
callers wins. No I/O.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
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
    # The reset's POST got no certain answer and Intune's records could not show whether it
    # was queued: nothing more was sent; an approver may choose Try again (issue 12).
    UNCONFIRMED = "unconfirmed"
    REVEALED = "revealed"  # the passcode was shown to the requester (any number of times)
    PASSCODE_EXPIRED = "passcode_expired"  # 7 days after issue; the sealed value is gone

    @property
    def is_open(self) -> bool:
        """Still heading for a reset: blocks a second request for the same device."""
        return self in OPEN_STATES


OPEN_STATES = frozenset({State.AWAITING_APPROVAL, State.APPROVED, State.EXECUTING})

TRANSITIONS: dict[State, frozenset[State]] = {
    State.REQUESTED: frozenset({State.REFUSED, State.AWAITING_APPROVAL}),
    State.AWAITING_APPROVAL: frozenset(
        {State.APPROVED, State.DENIED, State.CANCELLED, State.EXPIRED}
    ),
    State.APPROVED: frozenset({State.EXECUTING}),
    State.EXECUTING: frozenset({State.COMPLETED, State.FAILED, State.UNCONFIRMED}),
    State.UNCONFIRMED: frozenset({State.APPROVED}),
    State.COMPLETED: frozenset({State.REVEALED, State.PASSCODE_EXPIRED}),
    State.REVEALED: frozenset({State.REVEALED, State.PASSCODE_EXPIRED}),
}

class IllegalTransition(Exception):
    def __init__(self, current: State, target: State) -> None:
        super().__init__(f"a request that is {current.value} cannot become {target.value}")
        self.current = current
        self.target = target


def check_transition(current: State, target: State) -> None:
    if target not in TRANSITIONS.get(current, frozenset()):
        raise IllegalTransition(current, target)


def sources_of(target: State) -> frozenset[State]:
    """Every state from which ``target`` may be reached."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


SYSTEM = "passcode-bot"  # the actor of the steps the bot takes on its own


class JobKind(StrEnum):
    EXECUTE = "execute"  # run the approved reset against the backend
    NOTIFY = "notify"  # tell people about an event (NotifyEvent)


class NotifyEvent(StrEnum):
    APPROVAL_REQUESTED = "approval_requested"
    DECIDED = "decided"  # approved or denied
    CANCELLED = "cancelled"
    APPROVAL_EXPIRED = "approval_expired"
    RESULT = "result"  # completed or failed
    PASSCODE_EXPIRED = "passcode_expired"


@dataclass(frozen=True, slots=True)
class JobSpec:
    """A job to schedule with a change: a reset to execute, or an event to notify."""

    kind: JobKind
    event: NotifyEvent | None = None
    delay_s: float = 0.0


EXECUTE = JobSpec(JobKind.EXECUTE)


def notify(event: NotifyEvent) -> JobSpec:
    return JobSpec(JobKind.NOTIFY, event)


@dataclass(frozen=True, slots=True)
class Audit:
    """The audit event a change writes: who did it, what (an action name), and a detail."""

    actor: str
    action: str
    detail: str = ""


_NO_FIELDS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Change:
    """One step of a request, as its store applies it in one transaction.

    ``to`` None: no state change (fields only, or with no fields an audit note alone).
    ``sources``: the states the request may be in for the change to apply; if it is in none
    (another caller moved it on first), nothing is written. Empty: any state (``to`` None)
    or every state that may reach ``to``. ``adds``: counters the store increases by so much
    where they stand at the change (two changes made from one read count twice).
    """

    request_id: str
    at: datetime
    audit: Audit
    to: State | None = None
    sources: frozenset[State] = frozenset()
    fields: Mapping[str, Any] = field(default_factory=lambda: _NO_FIELDS)
    jobs: tuple[JobSpec, ...] = ()
    adds: Mapping[str, int] = field(default_factory=lambda: _NO_FIELDS)

    def __post_init__(self) -> None:
        wrong = (set(self.fields) - _FIELD_NAMES) | ({"id", "state"} & set(self.fields)) | (
            set(self.adds) - COUNTERS) | (set(self.adds) & set(self.fields))
        if wrong:
            raise ValueError(f"a change cannot set {sorted(wrong)}")
        if self.to is not None:
            for source in self.from_states:
                check_transition(source, self.to)

    @property
    def from_states(self) -> frozenset[State]:
        """The states the change applies from (None-state changes: every state)."""
        if self.sources:
            return self.sources
        return sources_of(self.to) if self.to is not None else frozenset(State)

    @property
    def touches(self) -> bool:
        """Whether the request's fields change (and so its ``updated_at``); a note does not."""
        return self.to is not None or bool(self.fields) or bool(self.adds)

    def applies_to(self, request: ResetRequest) -> bool:
        return request.state in self.from_states

    def apply(self, request: ResetRequest) -> ResetRequest:
        """The request after the change (for a store that keeps objects, not rows)."""
        if not self.touches:
            return replace(request)
        values = {k: v for k, v in self.fields.items() if k not in STORED_APART}
        values |= {k: getattr(request, k) + n for k, n in self.adds.items()}
        return replace(request, state=self.to or request.state, updated_at=self.at, **values)


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A request to store for the first time, with the audit event and jobs of its first step
    (it is REQUESTED, then at once REFUSED or AWAITING_APPROVAL)."""

    request: ResetRequest
    audit: Audit
    jobs: tuple[JobSpec, ...] = ()


_ID_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud on a helpdesk call
assert len(_ID_ALPHABET) == 32  # 5 random bits a character, exactly


def new_request_id() -> str:
    """"PR-" and 6 characters: 30 random bits in one draw (an ack makes one; a draw a
    character, as secrets.choice does, is six reads of the system's random source)."""
    bits = secrets.randbits(30)
    return "PR-" + "".join(_ID_ALPHABET[(bits >> shift) & 31] for shift in range(0, 30, 5))


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
    # Words are never stored, only codes and their values (the catalogs word them):
    refusal: str = ""  # which rule refused it (policy's Refusal.code or Verdict.code)
    refusal_params: dict[str, str | int] = field(default_factory=dict)
    warning: str = ""  # a warning's code, shown to the approver before they click
    warning_params: dict[str, str | int] = field(default_factory=dict)
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
    failure_detail: str = ""  # the backend's own words, if any (shown as a literal)
    failure_params: dict[str, str | int] = field(default_factory=dict)  # our words' code, values
    reveal_count: int = 0
    # Where the notifier put its messages (channel ids, timestamps): opaque to the core.
    surface: dict[str, Any] = field(default_factory=dict)
    # The device's primary user's directory id as the backend reported it at the request
    # ("" userless); None for a request stored before the bot read it (its owner is then
    # device_owner_email). The reset runs only while the primary user is still this one.
    device_owner_id: str | None = None
    requester_principal: str = ""  # the requester's directory id, "" when not known
    # Who can approve, as the role source said at the request: role names, and (ROLES_FILE)
    # the people holding them, each one a line.
    approver_roles: str = ""
    approver_people: str = ""

    def passcode_available(self, now: datetime) -> bool:
        return (
            self.has_passcode
            and self.state in {State.COMPLETED, State.REVEALED}
            and self.passcode_expires_at is not None
            and now < self.passcode_expires_at
        )

    # -- transitions: each returns the Change; the store applies it -----------------------

    def submit(self, actor: str) -> NewRequest:
        """A new request goes to the approvers."""
        check_transition(State.REQUESTED, self.state)
        return NewRequest(self, Audit(actor, self.state.value),
                          (notify(NotifyEvent.APPROVAL_REQUESTED),))

    def refuse(self, actor: str, code: str,
               params: Mapping[str, str | int] | None = None) -> NewRequest:
        """A new request refused at once (by policy, rule ``code``): stored so that it counts
        and is audited."""
        self.state = State.REFUSED
        self.refusal = code
        self.refusal_params = dict(params or {})
        self.approval_deadline = None
        return NewRequest(self, Audit(actor, State.REFUSED.value, code))

    def approve(self, by: str, at: datetime) -> Change:
        return self._change(
            at, Audit(by, State.APPROVED.value), State.APPROVED,
            sources=frozenset({State.AWAITING_APPROVAL}),
            fields={"decided_by": by, "decided_at": at},
            jobs=(EXECUTE, notify(NotifyEvent.DECIDED)),
        )

    def deny(self, by: str, at: datetime) -> Change:
        return self._change(at, Audit(by, State.DENIED.value), State.DENIED,
                            fields={"decided_by": by, "decided_at": at},
                            jobs=(notify(NotifyEvent.DECIDED),))

    def cancel(self, by: str, at: datetime) -> Change:
        return self._change(at, Audit(by, State.CANCELLED.value), State.CANCELLED,
                            jobs=(notify(NotifyEvent.CANCELLED),))

    def expire_approval(self, at: datetime) -> Change:
        return self._change(at, Audit(SYSTEM, State.EXPIRED.value), State.EXPIRED,
                            jobs=(notify(NotifyEvent.APPROVAL_EXPIRED),))

    def start_execution(self, at: datetime) -> Change:
        """Execution claims the approved request (before the backend is called)."""
        return self._change(at, Audit(SYSTEM, State.EXECUTING.value), State.EXECUTING,
                            fields={"action_started_at": at})

    def record_action(self, ref: str, at: datetime, detail: str) -> Change:
        """The backend's action is known (started, or found after a restart)."""
        return self._change(at, Audit(SYSTEM, "backend_action", detail),
                            fields={"action_ref": ref or "started", "action_recorded_at": at})

    def complete(self, at: datetime, sealed: bytes | None = None,
                 passcode_expires_at: datetime | None = None) -> Change:
        """Done; ``sealed`` is the sealed passcode, if the backend returned one."""
        values: dict[str, Any] = {"completed_at": at}
        if sealed is not None:
            values.update(sealed_passcode=sealed, has_passcode=True,
                          passcode_expires_at=passcode_expires_at)
        detail = "passcode issued" if sealed is not None else "no passcode returned"
        return self._change(at, Audit(SYSTEM, State.COMPLETED.value, detail), State.COMPLETED,
                            fields=values, jobs=(notify(NotifyEvent.RESULT),))

    def fail(self, code: str, detail: str, at: datetime,
             params: Mapping[str, str | int] | None = None) -> Change:
        """The reset failed: ``detail`` is the backend's own words (if any), ``params`` the
        code and values of ours (``{"words": ...}``)."""
        return self._change(
            at, Audit(SYSTEM, State.FAILED.value, code), State.FAILED,
            fields={"failure_code": code, "failure_detail": detail[:1000],
                    "failure_params": dict(params or {})},
            jobs=(notify(NotifyEvent.RESULT),),
        )

    def unconfirm(self, at: datetime, params: Mapping[str, str | int] | None = None) -> Change:
        """The backend could not confirm whether the reset was queued: it ends here, and
        nothing more is sent (a second reset would replace the first passcode). ``params``:
        the code of our words for it and their values (``{"words": ...}``)."""
        return self._change(
            at, Audit(SYSTEM, State.UNCONFIRMED.value, "outcome unknown; nothing resent"),
            State.UNCONFIRMED,
            fields={"failure_code": "unconfirmed", "failure_detail": "",
                    "failure_params": dict(params or {})},
            jobs=(notify(NotifyEvent.RESULT),),
        )

    def try_again(self, by: str, at: datetime) -> Change:
        """An approver chose Try again on an unconfirmed reset: approved once more, by them
        (audited as ``try_again``); the first attempt's traces are cleared."""
        return self._change(
            at, Audit(by, "try_again", "after an unconfirmed reset"), State.APPROVED,
            sources=frozenset({State.UNCONFIRMED}),
            # action_started_at stays: execution looks for the first attempt's reset (it may
            # have shown up since) before it sends another.
            fields={"decided_by": by, "decided_at": at, "action_ref": "",
                    "action_recorded_at": None, "failure_code": "", "failure_detail": "",
                    "failure_params": {}},
            jobs=(EXECUTE, notify(NotifyEvent.DECIDED)),
        )

    def reveal(self, by: str, at: datetime) -> Change:
        """The passcode was shown to the requester (once more)."""
        return self._change(at, Audit(by, "reveal"), State.REVEALED, adds={"reveal_count": 1})

    def purge_passcode(self, at: datetime) -> Change:
        """Seven days are up: the sealed passcode is deleted."""
        return self._change(at, Audit(SYSTEM, State.PASSCODE_EXPIRED.value),
                            State.PASSCODE_EXPIRED, fields={"sealed_passcode": None},
                            jobs=(notify(NotifyEvent.PASSCODE_EXPIRED),))

    def note(self, actor: str, at: datetime, action: str, detail: str = "") -> Change:
        """An audit event alone: nothing of the request changes."""
        return self._change(at, Audit(actor, action, detail))

    def delivery_failed(self, event: NotifyEvent, error: str, at: datetime) -> Change:
        """Telling people about ``event`` keeps failing (audited; the retries go on)."""
        return self._change(at, Audit(SYSTEM, "delivery_failed", f"{event.value}: {error}"[:500]),
                            fields={"updated_at": at})

    def _change(self, at: datetime, audit: Audit, to: State | None = None, *,
                sources: frozenset[State] = frozenset(), fields: Mapping[str, Any] = _NO_FIELDS,
                jobs: tuple[JobSpec, ...] = (), adds: Mapping[str, int] = _NO_FIELDS) -> Change:
        return Change(self.id, at, audit, to, sources, MappingProxyType(dict(fields)), jobs,
                      MappingProxyType(dict(adds)))


# Columns a store keeps beside the request, never in it (so never in a repr or a log line).
STORED_APART = frozenset({"sealed_passcode"})
_FIELD_NAMES = frozenset(f.name for f in fields(ResetRequest)) | STORED_APART
COUNTERS = frozenset({"reveal_count"})  # what a change ``adds`` to
