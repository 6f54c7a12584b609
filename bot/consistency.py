"""`passcode-bot check-db`: does the database still describe a world that can exist?

Each request's fields must fit its state, its audit trail must end in that state, the audit
hash chain must hold, and the job queue must carry exactly the work the states still need.
It changes nothing. Run it with the bot stopped: a running bot moves requests on between the
reads, which can show up as a passing oddity (run it again).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.audit import verify_chain
from bot.domain import ResetRequest, State
from bot.ports import NotifyEvent
from bot.storage import AuditEvent, Store

# States in which the sealed passcode may exist: after it was issued, until it expires.
HOLDS_PASSCODE = frozenset({State.COMPLETED, State.REVEALED})
# States reached only through an approver's decision, so ``decided_by`` names someone.
DECIDED = frozenset({
    State.APPROVED, State.DENIED, State.EXECUTING, State.COMPLETED, State.FAILED,
    State.REVEALED, State.PASSCODE_EXPIRED, State.UNCONFIRMED,
})
# States in which the reset has been started (``action_started_at`` set when claimed).
STARTED = frozenset({
    State.EXECUTING, State.COMPLETED, State.FAILED, State.REVEALED, State.PASSCODE_EXPIRED,
    State.UNCONFIRMED,
})
# States that still need the execute job; in any other state a pending one is left over.
NEEDS_EXECUTION = frozenset({State.APPROVED, State.EXECUTING})
# States that have a result to tell: a pending "result" notification fits only these.
HAS_RESULT = frozenset({State.COMPLETED, State.FAILED, State.REVEALED, State.PASSCODE_EXPIRED,
                        State.UNCONFIRMED})
# Notifications that only make sense once the request has reached certain states.
_NOTIFY_NEEDS = {
    NotifyEvent.RESULT.value: HAS_RESULT,
    NotifyEvent.PASSCODE_EXPIRED.value: frozenset({State.PASSCODE_EXPIRED}),
}
ALL_REQUESTS = 1 << 62


@dataclass(frozen=True, slots=True)
class Summary:
    requests: int
    audit_events: int
    problems: list[str]


async def check(store: Store) -> list[str]:
    """Every inconsistency found, one readable line each; empty when the database is sound."""
    return (await summarize(store)).problems


async def summarize(store: Store) -> Summary:
    requests = await store.in_states(list(State), limit=ALL_REQUESTS)
    events = await store.audit_trail()
    sealed = {request_id for request_id, _ in await store.sealed_all()}
    jobs = await store.pending_jobs()
    problems: list[str] = []

    chain = verify_chain(events)
    if not chain.ok:
        problems.append(f"audit trail: the hash chain is broken: {chain.problem}")

    by_id = {r.id: r for r in sorted(requests, key=lambda r: r.created_at)}
    for request in by_id.values():
        problems.extend(_fields(request, request.id in sealed))
    problems.extend(_trails(by_id, events))
    problems.extend(_jobs(by_id, jobs))
    return Summary(len(requests), len(events), problems)


def _fields(r: ResetRequest, has_sealed: bool) -> Iterable[str]:
    """The request's own fields against its state."""
    state = r.state
    if state in HOLDS_PASSCODE and r.has_passcode and not has_sealed:
        yield (f"{r.id}: {state.value} with a passcode, but the sealed passcode is missing "
               "(the requester cannot see it)")
    if has_sealed and state not in HOLDS_PASSCODE:
        yield f"{r.id}: a sealed passcode is stored although the request is {state.value}"
    if has_sealed and not r.has_passcode:
        yield f"{r.id}: a sealed passcode is stored although has_passcode is false"
    if r.has_passcode and state in HOLDS_PASSCODE and r.passcode_expires_at is None:
        yield f"{r.id}: {state.value} with a passcode that has no expiry time"
    if state in STARTED and r.action_started_at is None:
        yield f"{r.id}: {state.value} without action_started_at (when the reset was started)"
    if state in DECIDED and not r.decided_by.strip():
        yield f"{r.id}: {state.value} without decided_by (who approved or denied it)"


def _trails(by_id: dict[str, ResetRequest], events: list[AuditEvent]) -> Iterable[str]:
    """Each request's audit trail must exist and end in the request's state."""
    last: dict[str, AuditEvent] = {}
    for event in events:  # in seq order: the last one wins
        last[event.request_id] = event
    for request_id, request in by_id.items():
        final = last.get(request_id)
        if final is None:
            yield f"{request_id}: {request.state.value} but has no audit trail"
        elif final.to_state != request.state.value:
            yield (f"{request_id}: the request is {request.state.value} but its audit trail "
                   f"ends in {final.to_state} (event {final.seq})")
    for request_id in sorted(last.keys() - by_id.keys()):
        yield f"{request_id}: audit events for a request that does not exist"


def _jobs(by_id: dict[str, ResetRequest], jobs: list[dict[str, Any]]) -> Iterable[str]:
    """Jobs still to run must fit the state, and work the state needs must be queued."""
    accounted: set[str] = set()  # requests whose execute job is queued, or was given up
    for job in jobs:
        request = by_id.get(job["request_id"])
        label = f"{job['kind']}{'/' + job['event'] if job['event'] else ''} job {job['id']}"
        if request is None:
            yield f"{job['request_id']}: pending {label} for a request that does not exist"
            continue
        if job["dead"]:
            # Set aside after too many failures: the reset or the message it stood for is lost.
            yield (f"{request.id}: its {label} was given up after {job['attempts']} tries "
                   f"({job['last_error'] or 'no error recorded'})")
            if job["kind"] == "execute":
                accounted.add(request.id)
            continue
        if job["kind"] == "execute":
            if request.state in NEEDS_EXECUTION:
                accounted.add(request.id)
            else:
                yield f"{request.id}: pending {label} although the request is {request.state.value}"
        elif job["event"] in _NOTIFY_NEEDS and request.state not in _NOTIFY_NEEDS[job["event"]]:
            yield f"{request.id}: pending {label} although the request is {request.state.value}"
    for request in by_id.values():
        if request.state in NEEDS_EXECUTION and request.id not in accounted:
            yield (f"{request.id}: {request.state.value} but no execute job is queued, so it "
                   "would never finish")


async def check_db(database_path: str) -> int:
    """The CLI: print the problems and return 1, or a one-line summary and 0."""
    if "://" not in database_path and database_path != ":memory:" \
            and not Path(database_path).is_file():  # a PostgreSQL URL has no file
        print(f"passcode-bot: no database at {database_path} (DATABASE_URL)", file=sys.stderr)
        return 2
    store = await Store.open(database_path)
    try:
        summary = await summarize(store)
    finally:
        await store.close()
    if summary.problems:
        print(f"Database NOT consistent: {len(summary.problems)} problem(s) in "
              f"{summary.requests} requests, {summary.audit_events} audit events:",
              file=sys.stderr)
        for problem in summary.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print(f"Database consistent: {summary.requests} requests, "
          f"{summary.audit_events} audit events")
    return 0
