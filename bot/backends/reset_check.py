"""Was it our reset? Reading Intune's two records of queued actions after a resetPasscode POST
whose answer was lost, and deciding between "ours, adopt it", "nothing queued, one more POST is
safe" and "cannot tell: unconfirmed" (issue 12 point 5). Pure functions over Graph's JSON;
graph.py does the reading.

The facts each conclusion relies on (fact sheet shared/docs/intune-graph.md §2, "Checked
2026-12"):
- deviceActionResults entries carry ``startDateTime`` on Intune's clock and no initiator [V]:
  they tell *when*, never *who*.
- remoteActionAudits (beta) rows carry ``requestDateTime``, ``action`` and
  ``initiatedByUserPrincipalName`` ("User who initiated the device action, format is UPN";
  ``userName`` is its deprecated twin) [V]: they tell *who*. An action an app started with
  client credentials has no signed-in user, so it cannot carry an admin's UPN [I]; what Intune
  writes there instead (empty, the app id, the app's name) is for a pilot to check, and
  AUDIT_INITIATOR names it once known.
- Graph's Date header gives Intune's clock to about a second [V: RFC 9110], so "after our
  POST" is judged on Intune's clock, within GRAPH_CLOCK_MARGIN, not within a minute.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.ports import ActionRef, BackendError, FailureCode


class ResetUnconfirmed(BackendError):
    """The reset POST got no certain answer and the reads could not settle whether Intune
    queued it: nothing more is sent; the request ends *unconfirmed*. ``message`` is for the
    log; ``words`` the code people read it by (the catalogs' ``failure.<words>``), with
    ``others``: who Intune names as starting another reset (as it reported them, ``name``)."""

    def __init__(self, message: str, words: str, others: Sequence[str] = ()) -> None:
        params: dict[str, str | int] = {"words": words}
        if others:
            params["name"] = ", ".join(others)[:200]
        super().__init__(message, failure=FailureCode.UNCONFIRMED, params=params)


# ResetUnconfirmed's words: Intune did not confirm our POST; only another admin's reset shows.
LOST_ANSWER = "reset_unconfirmed"
OTHER_RESET = "reset_unconfirmed.other"


@dataclass(frozen=True, slots=True)
class ResetLook:
    """What the two reads showed: ``ours`` when a reset of ours is queued; ``clear`` when both
    read fine and show no reset at all since our POST (so one more POST is safe)."""

    ours: ActionRef | None
    clear: bool
    seen: str  # for logs: what each read showed
    unread: bool = False  # one of the reads failed
    others: tuple[str, ...] = ()  # who Intune names as starting a reset since, not us


def parse_graph_time(value: object) -> datetime | None:
    """A Graph DateTimeOffset ("2026-05-04T09:12:03.4411223Z") as an aware datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    # Seven fractional digits are more than some Python versions accept: keep six.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def is_reset_entry(entry: Mapping[str, Any]) -> bool:
    """A resetPasscodeActionResult, by @odata.type or else by actionName (§2)."""
    kind = str(entry.get("@odata.type") or "")
    if kind.lower().endswith("resetpasscodeactionresult"):
        return True
    return str(entry.get("actionName") or "").strip().casefold() == "resetpasscode"


def reset_entries(body: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The reset entries of a managedDevice's deviceActionResults."""
    results = body.get("deviceActionResults")
    return [e for e in (results if isinstance(results, list) else [])
            if isinstance(e, Mapping) and is_reset_entry(e)]


def initiator(audit: Mapping[str, Any]) -> str:
    """Who started an audited action, as Intune recorded it (the deprecated userName too)."""
    return str(audit.get("initiatedByUserPrincipalName") or audit.get("userName") or "").strip()


def is_ours(audit: Mapping[str, Any], our_initiators: Collection[str]) -> bool:
    """Whether an audit row is one of this app's actions. Relies on the initiator field: a row
    naming a UPN that is not one of ours is another admin's; a row naming no user at all was
    started without a signed-in user, as ours are [I: a pilot checks what Intune writes]."""
    who = initiator(audit).casefold()
    return not who or who in our_initiators


def judge_reset(
    ref: ActionRef,
    lower: datetime,
    results: Sequence[Mapping[str, Any]] | None,
    audits: Sequence[Mapping[str, Any]] | None,
    our_initiators: Collection[str],
    results_error: str = "",
    audits_error: str = "",
) -> ResetLook:
    """Decide from the two reads (None: that read failed). ``lower``: the earliest Intune
    stamp a reset started at ``ref.started_at`` can carry (graph.py's ``_lower_bound``)."""
    entries = None if results is None else [
        e for e in results if (t := parse_graph_time(e.get("startDateTime"))) and t >= lower]
    rows = None if audits is None else [
        a for a in audits if (t := parse_graph_time(a.get("requestDateTime"))) and t >= lower]
    mine = [a for a in rows or [] if is_ours(a, our_initiators)]
    others = sorted({initiator(a) for a in rows or [] if not is_ours(a, our_initiators)})
    seen = "; ".join((
        f"deviceActionResults: {_count(entries, results_error)}",
        f"remoteActionAudits: {_count(rows, audits_error)}"
        + (f", started by {', '.join(others)}" if others else ""),
    ))
    unread = entries is None or rows is None
    if mine:
        # The audit names no one but us as its initiator, after our POST: ours, even while
        # deviceActionResults does not list it yet (it has been seen to lag, §2).
        return ResetLook(ref, False, seen, unread, tuple(others))
    if entries:
        if rows is not None and others and len(entries) <= len(rows):
            # Every reset listed since our POST is audited as another admin's: not ours, and
            # a reset of ours on top of theirs would replace their passcode. Cannot proceed.
            return ResetLook(None, False, seen, unread, tuple(others))
        # A reset stamped after our POST on Intune's own clock, that the audit does not
        # attribute to anyone else (or cannot be read): ours.
        return ResetLook(ref, False, seen, unread, tuple(others))
    if unread:
        return ResetLook(None, False, seen, unread, tuple(others))
    # Both reads answered and neither shows a reset since our POST, but another's may show
    # in the audit only: then not clear.
    return ResetLook(None, not rows, seen, others=tuple(others))


def _count(items: Sequence[object] | None, error: str) -> str:
    if items is None:
        return f"could not be read ({error[:200]})" if error else "could not be read"
    return "no reset since the POST" if not items else f"{len(items)} reset(s) since the POST"
