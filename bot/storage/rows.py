"""A ResetRequest to and from a row of the ``requests`` table."""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from bot.domain import ResetRequest, State
from bot.storage.connection import dt, ts
from policy.platforms import Result, Row, Scope

COLUMNS = [f.name for f in fields(ResetRequest)]
_TIMES = {
    "created_at",
    "updated_at",
    "approval_deadline",
    "decided_at",
    "action_started_at",
    "action_recorded_at",
    "completed_at",
    "passcode_expires_at",
}
# A mapping kept as JSON: the notifier's references, and the values of a stored code's words.
_JSON = ("surface", "refusal_params", "warning_params", "failure_params")


def to_db(name: str, value: Any) -> Any:
    """The column value of field ``name``."""
    if name in _TIMES:
        return ts(value)
    if name in _JSON:
        return json.dumps(value, sort_keys=True)
    if name == "has_passcode":
        return int(value)
    if isinstance(value, (State, Row, Scope, Result)):
        return value.value
    return value


def from_row(row: dict[str, Any]) -> ResetRequest:
    data: dict[str, Any] = {name: row[name] for name in COLUMNS}
    for name in _TIMES:
        data[name] = dt(data[name])
    data["state"] = State(data["state"])
    data["row"] = Row(data["row"])
    data["scope"] = Scope(data["scope"])
    data["expected"] = Result(data["expected"]) if data["expected"] else None
    data["has_passcode"] = bool(data["has_passcode"])
    for name in _JSON:
        data[name] = json.loads(data[name])
    return ResetRequest(**data)
