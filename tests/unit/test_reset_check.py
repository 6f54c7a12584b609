"""Whose reset is it (issue 12 point 5): the decision table over Intune's two records, each
conclusion resting on a named fact (bot/backends/reset_check.py)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.backends.reset_check import judge_reset
from bot.domain import ResetRequest, State
from bot.ports import ActionRef
from bot.storage.budget import MemoryWriteBudget
from policy.platforms import Result, Row, Scope

POSTED = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LOWER = POSTED - timedelta(seconds=3)
REF = ActionRef("d1", POSTED)
OURS = frozenset({"11111111-1111-4111-8111-111111111111"})


def stamp(seconds: float) -> str:
    return (POSTED + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def entry(seconds: float) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.resetPasscodeActionResult",
            "actionState": "pending", "startDateTime": stamp(seconds)}


def audit(seconds: float, who: str = "") -> dict[str, Any]:
    return {"action": "resetPasscode", "managedDeviceId": "d1", "requestDateTime": stamp(seconds),
            "initiatedByUserPrincipalName": who}


def judge(results: list[dict[str, Any]] | None, audits: list[dict[str, Any]] | None) -> Any:
    return judge_reset(REF, LOWER, results, audits, OURS)


def test_nothing_anywhere_is_clear() -> None:
    look = judge([], [])
    assert look.ours is None and look.clear and not look.unread


def test_our_audit_row_is_ours_even_before_the_listing_shows_it() -> None:
    assert judge([], [audit(1)]).ours == REF
    assert judge([], [audit(1, "11111111-1111-4111-8111-111111111111")]).ours == REF


def test_another_admins_reset_after_ours_is_neither_ours_nor_clear() -> None:
    look = judge([entry(2)], [audit(2, "helpdesk@example.com")])
    assert look.ours is None and not look.clear and "helpdesk@example.com" in look.seen


def test_resets_before_our_post_do_not_count() -> None:
    look = judge([entry(-20)], [audit(-20, "helpdesk@example.com")])
    assert look.ours is None and look.clear


def test_a_listed_reset_with_no_audit_row_yet_is_ours_by_time() -> None:
    assert judge([entry(1)], []).ours == REF
    assert judge([entry(1)], None).ours == REF  # audit unreadable: time alone


@pytest.mark.parametrize(("results", "audits"), [(None, []), ([], None), (None, None)])
def test_an_unread_record_is_never_clear(results: Any, audits: Any) -> None:
    look = judge(results, audits)
    assert look.ours is None and not look.clear and look.unread


def make_request(state: State) -> ResetRequest:
    return ResetRequest("PR-ABCDEF", "UALICE", "alice@example.com", "d1", "pixel", "S1",
                        "alice@example.com", Row.AE_FULLY_MANAGED, Scope.DEVICE,
                        Result.TEMPORARY_PASSCODE, state, POSTED, POSTED,
                        action_started_at=POSTED)


def test_an_unconfirmed_request_tried_again_is_approved_by_the_approver() -> None:
    request = make_request(state=State.EXECUTING)
    change = request.unconfirm(POSTED, {"words": "reset_unconfirmed"})
    assert change.to is State.UNCONFIRMED and change.audit.action == "unconfirmed"
    assert change.fields["failure_params"] == {"words": "reset_unconfirmed"}
    request = change.apply(request)
    again = request.try_again("UHELEN", POSTED)
    assert again.to is State.APPROVED and again.audit.actor == "UHELEN"
    assert again.fields["failure_params"] == {}
    assert again.audit.action == "try_again" and again.from_states == {State.UNCONFIRMED}


def test_the_memory_budget_allows_limit_per_window() -> None:
    async def run() -> list[float]:
        budget = MemoryWriteBudget()
        waits = [await budget.take_slot("b", POSTED, 3, 20.0) for _ in range(4)]
        waits.append(await budget.take_slot("b", POSTED + timedelta(seconds=20), 3, 20.0))
        return waits

    waits = asyncio.run(run())
    assert waits[:3] == [0.0, 0.0, 0.0] and waits[3] == pytest.approx(20.0) and waits[4] == 0.0
