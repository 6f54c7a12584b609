"""The boundaries of the core: what a request store, a job queue, a device backend, a role
directory, a notifier and a clock must offer. Adapters implement these; the use cases only
talk to them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from bot.audit import AuditEvent
from bot.domain import (
    Change,
    JobKind,
    NewRequest,
    NotifyEvent,
    ResetRequest,
    State,
)
from policy.platforms import DeviceFacts, Scope

__all__ = [
    "ActionRef", "ActionState", "ActionStatus", "ApprovalCheck", "Approvers", "BackendError",
    "Clock", "Device", "DeviceBackend", "DeviceFilter", "FailureCode", "Heartbeats",
    "Identity", "Job", "JobQueue", "Later", "Notifier", "NotifyEvent", "OpenRequestExists",
    "RequestStore", "RoleDirectory", "WriteBudget",
]


@dataclass(frozen=True, slots=True)
class Device:
    """A managed device as the backend reports it."""

    id: str
    name: str
    serial: str
    facts: DeviceFacts
    # The device's user fields as Intune lists them (userPrincipalName / emailAddress): they
    # can name the enrolling or a former user, so they are shown, never trusted for ownership.
    primary_email: str = ""  # empty: no user shown (kiosk, AOSP userless)
    primary_name: str = ""
    # The primary user's directory (Entra object) id when the backend read it with the device
    # (DeviceBackend.owner_of reads it live); "" when not read, or userless.
    primary_user_id: str = ""
    # True / False when the backend can tell whether a device passcode policy is assigned;
    # None when it cannot (then the approver is warned for rows that need one).
    has_passcode_policy: bool | None = None
    # When the device last checked in with the backend (Intune's lastSyncDateTime), if known.
    last_sync: datetime | None = None
    # What places the device in an Intune RBAC scope, as listed (the picker's scope filter,
    # bot/roles_graph.py device_filter; a reset's own check reads them live): its scope tags
    # (roleScopeTagIds), its Entra device (azureADDeviceId) and its user (userId).
    scope_tags: frozenset[str] = frozenset()
    entra_device_id: str = ""
    listed_user_id: str = ""


@dataclass(frozen=True, slots=True)
class DeviceFilter:
    """Which devices an approver may be shown (``RoleDirectory.device_filter``): ``admits``
    decides. Bounds an index may look up instead of asking ``admits`` of the whole fleet (a
    small scope): every device admitted carries one of ``tags`` (no tags: "0", Default)
    when that is not None; and has its Entra device (azureADDeviceId, lower-cased) in
    ``entra_devices`` or its listed user in ``users`` when ``entra_devices`` is not None."""

    admits: Callable[[Device], bool]
    tags: frozenset[str] | None = None
    entra_devices: frozenset[str] | None = None
    users: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Identity:
    """Whom an email leads to in the backend's directory: one user's id, or why no one
    (``policy.membership.NoDirectoryUser``: none, or more than one, never a guess)."""

    user_id: str = ""
    refusal: str = ""  # a NoDirectoryUser value when user_id is ""
    upn: str = ""
    display_name: str = ""
    mail: str = ""

    @property
    def email(self) -> str:
        """Where to reach them: their mail, else their UPN."""
        return self.mail or self.upn


@dataclass(frozen=True, slots=True)
class ApprovalCheck:
    """Whether a person may decide on a request for one device, as the role source says:
    the roles that let them (empty: refused), and what they lack (an intune_rbac.Missing
    value, with the role or assignment names it is about)."""

    roles: frozenset[str] = frozenset()
    missing: str = ""
    detail: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Approvers:
    """Who can approve a request for one device: role names, and where the role source
    names people (ROLES_FILE), the people."""

    roles: tuple[str, ...] = ()
    people: tuple[str, ...] = ()


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
    OWNER_CHANGED = "owner_changed"  # the primary user is not the one the approver saw
    TIMED_OUT = "timed_out"
    BACKEND_ERROR = "backend_error"
    # The reset's POST got no certain answer and the reads could not show it was queued or
    # not: nothing is resent (a second reset replaces the first passcode; issue 12).
    UNCONFIRMED = "unconfirmed"


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
    trying again later may succeed (outage, throttling) or not (bad request, forbidden).
    ``params``: when the failure is worded by our code rather than the backend's words, that
    code (``words``, the catalogs' ``failure.<words>``) and its values; ``message`` is then
    only for the log."""

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = False,
        failure: FailureCode = FailureCode.BACKEND_ERROR,
        params: Mapping[str, str | int] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.failure = failure
        self.params: dict[str, str | int] = dict(params or {})


class DeviceBackend(Protocol):
    """Intune (through Graph) or the simulated fleet."""

    name: str

    async def find_devices(
        self, query: str, *, primary_email: str | None = None, limit: int = 10
    ) -> list[Device]:
        """Devices whose Intune id, serial number or name equals ``query`` (case-insensitive),
        limited to those whose primary user is ``primary_email`` when given."""

    async def search_devices(
        self, text: str, *, primary_email: str | None = None, limit: int = 100,
        keep: DeviceFilter | None = None,
    ) -> list[Device]:
        """Devices whose name or serial contains ``text`` (case-insensitive), for the picker;
        empty text lists the first ``limit``; only those ``keep`` admits, when given."""

    async def get_device(self, device_id: str) -> Device | None: ...

    async def start_reset(self, device: Device, scope: Scope) -> ActionRef:
        """Queue the passcode reset. Not idempotent: call once per approved request."""

    async def action_status(self, ref: ActionRef) -> ActionStatus: ...

    async def find_started_action(self, device_id: str, since: datetime) -> ActionRef | None:
        """A reset of this device started at or after ``since``, if the backend knows one:
        how a restart after a crash finds the action instead of starting a second one."""

    async def identify(self, email: str) -> Identity:
        """The backend's directory user for a person's email (Entra: UPN, then mail; the
        fleet file's users), live or cached briefly."""

    async def owner_of(self, device: Device) -> Identity:
        """The device's primary user, read live (user_id "" for userless)."""

    async def devices_of(self, user_id: str, text: str = "", limit: int = 100) -> list[Device]:
        """The devices whose primary user is ``user_id``, read live (a device enrolled a
        minute ago is among them), whose name or serial contains ``text``; each with
        ``primary_user_id`` set."""

    async def aclose(self) -> None: ...


class RoleDirectory(Protocol):
    """Where approver roles come from: ROLES_FILE, or Entra ID / Intune RBAC."""

    async def roles_for(self, user_id: str, email: str) -> frozenset[str]:
        """The roles the person holds, wherever they apply (who counts as the helpdesk)."""

    async def approval_for(
        self, user_id: str, email: str, device_id: str, permitted: frozenset[str]
    ) -> ApprovalCheck:
        """Whether the person may decide for this device, read again at every click."""

    async def approvers_for(self, device_id: str, permitted: frozenset[str]) -> Approvers:
        """Who can approve for this device (for the approvals post)."""

    async def principal_of(self, user_id: str, email: str) -> str:
        """The directory's own id for the person ("" when it has none, or does not know
        them): two Slack accounts with one principal are one person (four eyes)."""
        ...

    async def device_filter(self, user_id: str, email: str) -> DeviceFilter | None:
        """Which devices the person may be shown as an approver (their picker, the approvals
        queue): None for all (a roles file; a tenant-wide role), else a predicate over a
        listed Device's scope facts, cheap per device."""
        ...


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


# -- storage -------------------------------------------------------------------------------
# Shaped for SQL databases in general (SQLite now, PostgreSQL next): times are aware datetimes
# and ids plain values, no method hands out a connection, a cursor or SQL, and every write is
# one transaction the adapter opens and closes itself.


class OpenRequestExists(Exception):
    """An insert lost: the device already has an open request (``existing``)."""

    def __init__(self, existing: ResetRequest) -> None:
        super().__init__(f"device {existing.device_id} already has open request {existing.id}")
        self.existing = existing


@dataclass(frozen=True, slots=True)
class Standing:
    """What a new request's limits read, all at one moment (``RequestStore.standing``)."""

    by_requester: int  # the requester's requests after requester_since, refusals included
    for_device: int  # the device's requests after device_since, refusals excluded
    open: ResetRequest | None  # the device's open request, if any
    unconfirmed: str  # the device's newest unconfirmed request ('' when none)


class RequestStore(Protocol):
    """Requests and their audit trail.

    Guarantees: each write is one transaction. A change, its audit event and the jobs it
    schedules commit together or not at all, so no step is ever done without its record or
    its follow-up work. A conditional change (``Change.from_states``) is checked and written
    atomically: of any number of callers racing to move one request, exactly one wins and
    the others get None. At most one request per device is open (OPEN_STATES), however many
    callers race to add one. A read sees every write committed before it started.
    """

    async def add(self, new: NewRequest) -> None:
        """Store a new request with its first audit events and jobs. Raises
        OpenRequestExists, writing nothing, when it is open and its device already has an
        open request."""

    async def apply(self, change: Change) -> ResetRequest | None:
        """Apply ``change`` if the request is in one of its ``from_states``: returns the
        request as changed, or None (nothing written) when it is not, or is gone."""

    async def save_surface(self, request_id: str, values: dict[str, Any]) -> None:
        """Merge the notifier's message references (text, numbers, flags; one set to None
        is removed) into the request (not audited)."""

    async def reseal(self, values: Sequence[tuple[str, bytes, bytes]]) -> None:
        """Replace sealed passcodes (key rotation), all in one transaction: (id, as read,
        new), each only where the stored value is still the one read."""

    async def checkpoint(self) -> bool:
        """Make content deleted so far (a purged passcode) unrecoverable from the database's
        files (SQLite: empty the WAL). False when it must be tried again later."""

    async def get(self, request_id: str) -> ResetRequest | None: ...

    async def sealed_passcode(self, request_id: str) -> bytes | None: ...

    async def sealed_all(self) -> list[tuple[str, bytes]]: ...

    async def by_requester(self, requester_id: str, limit: int = 10) -> list[ResetRequest]:
        """The requester's most recent requests, newest first."""

    async def in_states(self, states: Iterable[State], limit: int = 100) -> list[ResetRequest]:
        """Requests in any of ``states``, newest first."""

    async def open_for_device(self, device_id: str) -> ResetRequest | None: ...

    async def standing(self, requester_id: str, device_id: str, *, requester_since: datetime,
                       device_since: datetime) -> Standing:
        """What the limits on a new request read, in one read: how many requests the
        requester made after ``requester_since`` (refusals included: each one is a row
        someone made the bot write), how many were made for the device after
        ``device_since`` (refusals excluded: someone else's refused attempts must not use up
        the device's allowance), ``open_for_device``, and the device's newest request whose
        outcome is unconfirmed."""

    async def approvals_due(self, now: datetime) -> list[ResetRequest]:
        """Requests awaiting approval whose deadline is at or before ``now``."""

    async def passcodes_due(self, now: datetime) -> list[ResetRequest]:
        """Requests holding a sealed passcode that expires at or before ``now``."""

    async def audit_trail(self, request_id: str | None = None) -> list[AuditEvent]:
        """The audit events (of one request, or all), in the order they were written."""


@dataclass(frozen=True, slots=True)
class Job:
    """A leased job: ``attempts`` counts this try; ``claim`` numbers this lease of it (the
    job's claims so far): the queue changes the job for its holder only while no later claim
    has taken it over."""

    id: int
    kind: JobKind
    request_id: str
    event: NotifyEvent | None
    attempts: int
    claim: int = 0


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A leased inbox item: its kind and encoded text (the Slack app's work item);
    ``attempts`` counts this try."""

    id: int
    kind: str
    item: str
    attempts: int


class Inbox(Protocol):
    """The durable inbox: each command, click or submission's work, committed before the ack
    and recognised by its delivery key (a Slack retry finds it on any replica).

    Guarantees: an item added is claimed by one worker at a time (leased; once the lease runs
    out, its claimer died, it is due again) until it is finished; a delivery key is added once.
    A claim is known by the item's ``attempts`` when it was made (0: the acking process's own,
    from the insert): a renewal or a finish under an older claim changes nothing, so a worker
    whose lease ran out and was taken over learns it, and cannot mark done what another runs.
    """

    async def add_to_inbox(self, delivery: str, kind: str, item: str, now: datetime, *,
                           here_lease_s: float | None = None) -> int | None:
        """Commit an item; None (nothing added) when ``delivery`` is known already. With
        ``here_lease_s`` the caller runs it and holds its lease from the start."""

    async def delivered(self, delivery: str) -> bool: ...

    async def claim_inbox(self, now: datetime, lease_s: float, limit: int = 20
                          ) -> list[InboxItem]: ...

    async def renew_inbox(self, item_id: int, until: datetime, claim: int) -> bool:
        """Extend the lease of claim ``claim``; False when that claim is over (the item is done,
        or another has claimed it since)."""

    async def finish_inbox(self, item_id: int, at: datetime, claim: int) -> None:
        """Mark the item done, if ``claim`` is still the item's last."""

    async def release_inbox_leases(self) -> None:
        """At a worker's start on SQLite (one worker per file): the last one's leases end."""

    async def inbox_pending(self) -> int: ...

    async def purge_inbox(self, before: datetime) -> None:
        """Forget the items done before ``before`` (their delivery keys with them)."""

    async def wait_for_inbox(self, timeout: float) -> None:
        """Return when items may have been added (by any process), or after ``timeout``; a
        wake-up is never lost."""


class Locales(Protocol):
    """Each person's Slack locale as a worker last looked it up: the language of the answers
    the processes that ack give at once."""

    async def remember_locale(self, user_id: str, locale: str, now: datetime) -> None: ...

    async def locale_of(self, user_id: str) -> str | None:
        """The locale the book holds for ``user_id`` (None: none): a read, never a write."""

    async def remember_locales(self, locales: Sequence[tuple[str, str]], now: datetime
                               ) -> set[str]:
        """Many (user id, locale) at once, in one transaction: a page of users.list that
        Slack answered at ``now`` (a locale learnt after that stays); the people whose locale
        is the page's now."""

    async def locales_since(self, since: datetime | None, limit: int
                            ) -> list[tuple[str, str, datetime]]:
        """(user id, locale, learned at) learnt at ``since`` or later (None: all), oldest
        first."""

    async def last_walk(self) -> datetime | None:
        """When every member's locale was last learnt (users.list walked to its end)."""

    async def walked(self, at: datetime) -> None: ...


class JobQueue(Protocol):
    """The durable job queue: jobs are scheduled with the changes that need them (through
    RequestStore) and run by the job runner.

    Guarantees: a claimed job is leased to its claimer until the lease runs out; no other
    claim takes it meanwhile, and once the lease runs out (its runner died, or stalled) it is
    due again. A job is done once (finish), or tried again later (retry, counting the attempt;
    defer, not counting it), or set aside as dead after too many attempts. Renew, finish,
    retry and defer change a job only for the latest claim of it: each says whether it did
    (False: the lease ran out and another claim holds the job, or held it and is done).
    """

    async def claim_jobs(self, now: datetime, lease_s: float, limit: int = 20) -> list[Job]:
        """Lease up to ``limit`` due jobs for ``lease_s`` seconds, oldest first."""

    async def renew_lease(self, job: Job, until: datetime) -> bool: ...

    async def release_leases(self) -> None:
        """Every lease ends now (at start: whatever held them died with the last process)."""

    async def finish_job(self, job: Job, at: datetime) -> bool: ...

    async def retry_job(self, job: Job, run_at: datetime, error: str, dead: bool) -> bool:
        """Run it again at ``run_at`` (or never, ``dead``); ``error`` is kept (500 chars)."""

    async def defer_job(self, job: Job, run_at: datetime) -> bool:
        """Run it again at ``run_at``; the try that asked for it does not count."""

    async def next_job_at(self) -> datetime | None:
        """When the next job falls due (a run time or a lease's end), if any is pending."""

    async def pending_jobs(self, request_id: str | None = None) -> list[dict[str, Any]]:
        """Jobs not done (dead ones included), as plain records, for status and checks."""

    async def wait_for_jobs(self, timeout: float) -> None:
        """Return when jobs may have been scheduled since the last call (a change with jobs
        was committed), or after ``timeout`` seconds; a wake-up is never lost."""

    def exclusive(self, name: str) -> AbstractAsyncContextManager[bool]:
        """``async with queue.exclusive("sweep") as mine``: ``mine`` is True when no other
        process on this database is inside ``name`` (then do the work), else False."""


class WriteBudget(Protocol):
    """A rate budget shared by every process that uses one database (issue 12 point 6:
    Intune's 200 writes / 20 s per app and tenant counts all of them together).

    Guarantees: of any number of callers racing, in one process or many, at most ``limit``
    take a slot under one ``bucket`` in any ``window_s`` seconds (on ``now``'s clock)."""

    async def take_slot(self, bucket: str, now: datetime, limit: int, window_s: float) -> float:
        """Take a slot now and return 0.0, or take none and return the seconds until one
        frees up (ask again then)."""


class Heartbeats(Protocol):
    """Where job runners say they are alive, so that any process on the database (GET
    /readyz) can tell whether some runner is working.

    Guarantees: after ``beat(worker, ..., at)`` returns, every reader of the database sees a
    heartbeat at least as new as ``at``; a runner's row is its own (``worker``: unique per
    runner and start)."""

    async def beat(self, worker: str, host: str, pid: int, started_at: datetime,
                   at: datetime) -> None: ...
