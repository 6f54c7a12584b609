"""The door at POST /slack/events, attacked from outside over real HTTP.

Someone who can reach the bot but holds no signing secret sends every kind of request Slack
sends (slash command, block_actions, view_submission, view_closed, block_suggestion, Events
API, global and message shortcuts), as real approvers, for real requests, with ``ssl_check=1``
added in the form, inside the payload or in a JSON body, unsigned, wrongly signed, signed with
another secret, stale, from the future, or signed over another body. Every one must get a 401
(or, for Slack's bare SSL check alone, a 200 that reaches nothing) and cause no Slack call, no
Graph call, no change to any table and no options.

Before 2026-12 an unsigned form carrying ``ssl_check=1`` passed the door: a forged Approve click
"as an approver" completed a real request, a forged options load listed the fleet and a forged
modal submission created a request in someone else's name.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.domain import State
from tests.scenario.harness import APPROVALS, PIXEL, SIGNING_SECRET
from tests.scenario.test_happy_paths import approval_request_id
from tests.scenario.test_hostile_input import (
    SETTINGS,
    ErrorLog,
    LiveStack,
    errors,  # noqa: F401 - the fixture
    post_raw,
    unexpected,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
TEAM = "T0TEAM"


@pytest.fixture(params=["simulated", "intune"])
def door(request: pytest.FixtureRequest, tmp_path: Path, secret: str,
         errors: ErrorLog) -> Iterator[Door]:  # noqa: F811
    live = Door(tmp_path, secret, errors, kind=request.param)
    try:
        yield live
    finally:
        live.close()


class Door(LiveStack):
    """The running bot with one real request awaiting approval (alice's Pixel)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)

        async def prepare() -> str:
            await self.stack.driver.command("UALICE", "reset PIXEL8-ALICE")
            await self.stack.settle()
            return approval_request_id(self.stack)

        self.pending = self.run(prepare())

    def snapshot(self) -> tuple[Any, ...]:
        """Everything an attack could have touched: the tables, Slack, Graph, the log."""
        with closing(sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)) as db:
            tables = tuple(db.execute(f"SELECT * FROM {t}").fetchall()
                           for t in ("requests", "audit", "jobs"))
        graph = len(self.stack.graph.requests) if self.stack.graph is not None else 0
        return tables, len(self.stack.emu.calls), graph

    def attack(self, body: str, headers: dict[str, str]) -> tuple[int, str]:
        async def send() -> tuple[int, str]:
            await self.stack.settle()
            answer = await post_raw(self.stack, body.encode(), headers)
            await self.stack.settle()
            return answer.status, answer.body

        before, logged = self.snapshot(), len(self.errors.records)
        status, text = self.run(send())
        assert self.snapshot() == before, "a table, Slack or Graph saw the forged request"
        assert not [r for r in self.errors.since(logged) if unexpected(r)]
        return status, text


# -- what Slack sends, as someone without the secret would forge it ----------------------------

APPROVERS = ["UANNA", "UHELEN"]


def _payload(kind: str, user: str, request_id: str) -> dict[str, Any]:
    base = {"team": {"id": TEAM}, "user": {"id": user, "team_id": TEAM},
            "api_app_id": "A0PASSCODE", "token": "legacy", "trigger_id": "1.2.forged"}
    if kind == "block_actions":
        return {**base, "type": "block_actions", "channel": {"id": APPROVALS},
                "container": {"type": "message", "message_ts": "1.0", "channel_id": APPROVALS},
                "actions": [{"type": "button", "action_id": "approve", "block_id": "b",
                             "value": request_id, "action_ts": str(time.time())}]}
    if kind == "view_submission":
        picked = {"selected_option": {"value": PIXEL, "text": {"type": "plain_text",
                                                                 "text": "x"}}}
        return {**base, "type": "view_submission",
                "view": {"id": "V1", "type": "modal", "callback_id": "reset_modal",
                         "state": {"values": {"device": {"device_pick": picked}}}}}
    if kind == "view_closed":
        return {**base, "type": "view_closed", "view": {"id": "V1", "callback_id": "reset_modal"}}
    if kind == "block_suggestion":
        return {**base, "type": "block_suggestion", "action_id": "device_pick",
                "block_id": "device", "value": "",
                "view": {"id": "V1", "type": "modal", "callback_id": "reset_modal"}}
    if kind == "shortcut":
        return {**base, "type": "shortcut", "callback_id": "passcode"}
    assert kind == "message_action"
    return {**base, "type": "message_action", "callback_id": "passcode",
            "channel": {"id": APPROVALS}, "message": {"ts": "1.0", "text": request_id}}


PAYLOAD_KINDS = ["block_actions", "view_submission", "view_closed", "block_suggestion",
                 "shortcut", "message_action"]


@st.composite
def forged_bodies(draw: st.DrawFn, request_id: str) -> tuple[str, str]:
    """(body, content type) of any kind of Slack request, maybe with ssl_check=1 added."""
    user = draw(st.sampled_from([*APPROVERS, "UALICE", "UBOB"]))
    ssl = draw(st.sampled_from(["none", "form", "payload", "both"]))
    kind = draw(st.sampled_from(["command", "event", *PAYLOAD_KINDS]))
    if kind == "command":
        form = {"token": "legacy", "team_id": TEAM, "channel_id": "C0GENERAL", "user_id": user,
                "command": "/passcode", "text": draw(st.sampled_from(
                    ["reset PIXEL8-ALICE", "reset", "status", f"status {request_id}", "help"])),
                "response_url": "http://127.0.0.1:9/response/x", "trigger_id": "1.2.x"}
        if ssl != "none":
            form["ssl_check"] = "1"
        return urlencode(form), FORM
    if kind == "event":
        body = {"type": "event_callback", "team_id": TEAM, "api_app_id": "A0PASSCODE",
                "event_id": f"Ev{draw(st.integers(0, 10**9))}", "event_time": int(time.time()),
                "event": {"type": "app_home_opened", "user": user, "tab": "home"}}
        if ssl != "none":
            body["ssl_check"] = "1"
        as_form = draw(st.booleans())  # JSON that says it is a form still parses as JSON
        return json.dumps(body), FORM if as_form else JSON
    payload = _payload(kind, user, request_id)
    if ssl in {"payload", "both"}:
        payload["ssl_check"] = "1"
    form = {"payload": json.dumps(payload)}
    if ssl in {"form", "both"}:
        form = {"ssl_check": "1", **form} if draw(st.booleans()) else {**form, "ssl_check": "1"}
    return urlencode(form), FORM


def _sign(secret: str, body: str, stamp: str) -> str:
    base = f"v0:{stamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@st.composite
def bad_headers(draw: st.DrawFn, body: str, content_type: str) -> dict[str, str]:
    now = int(time.time())
    how = draw(st.sampled_from(["unsigned", "no-timestamp", "garbage", "other-secret", "stale",
                                "future", "other-body", "v1", "bad-timestamp"]))
    headers = {"Content-Type": content_type}
    stamp = str(now)
    if how == "unsigned":
        return headers
    if how == "no-timestamp":
        return {**headers, "X-Slack-Signature": _sign(SIGNING_SECRET, body, stamp)}
    signature = _sign(SIGNING_SECRET, body, stamp)
    if how == "garbage":
        signature = "v0=" + draw(st.text("0123456789abcdef", min_size=64, max_size=64))
    elif how == "other-secret":
        signature = _sign("another-apps-signing-secret", body, stamp)
    elif how in {"stale", "future"}:
        skew = draw(st.integers(301, 10**7))
        stamp = str(now - skew if how == "stale" else now + skew)
        signature = _sign(SIGNING_SECRET, body, stamp)
    elif how == "other-body":
        signature = _sign(SIGNING_SECRET, body.replace("UALICE", "UERIN", 1) + "&x=1", stamp)
    elif how == "v1":
        signature = signature.replace("v0=", "v1=")
    elif how == "bad-timestamp":
        stamp = draw(st.sampled_from(["", "soon", "1e10", "-1", " ", "9" * 30, f"{now}.5"]))
    return {**headers, "X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": signature}


def test_no_forged_request_of_any_kind_passes_the_door(door: Door) -> None:
    """Hypothesis over every kind of body, every way to carry ssl_check and every bad
    signature: 401, and nothing anywhere changed."""

    @SETTINGS
    @given(st.data())
    def attack(data: st.DataObject) -> None:
        body, content_type = data.draw(forged_bodies(door.pending))
        headers = data.draw(bad_headers(body, content_type))
        status, text = door.attack(body, headers)
        assert status == 401, (status, text[:200])
        assert "options" not in text and PIXEL not in text

    attack()
    state = door.run(door.stack.store.get(door.pending)).state
    assert state is State.AWAITING_APPROVAL


@pytest.mark.parametrize("where", ["form", "payload", "both"])
def test_an_unsigned_approve_click_with_ssl_check_approves_nothing(door: Door, where: str) -> None:
    """The attack of 2026-12, exactly: an Approve click "as" an Intune administrator."""
    payload = _payload("block_actions", "UANNA", door.pending)
    if where in {"payload", "both"}:
        payload["ssl_check"] = "1"
    form = {"payload": json.dumps(payload)}
    if where in {"form", "both"}:
        form["ssl_check"] = "1"
    status, _ = door.attack(urlencode(form), {"Content-Type": FORM})
    assert status == 401
    assert door.run(door.stack.store.get(door.pending)).state is State.AWAITING_APPROVAL


def test_an_unsigned_options_load_with_ssl_check_lists_no_device(door: Door) -> None:
    form = {"ssl_check": "1",
            "payload": json.dumps(_payload("block_suggestion", "UANNA", door.pending))}
    status, text = door.attack(urlencode(form), {"Content-Type": FORM})
    assert status == 401
    assert "PIXEL" not in text and "options" not in text


def test_an_unsigned_modal_submission_with_ssl_check_creates_no_request(door: Door) -> None:
    form = {"payload": json.dumps(_payload("view_submission", "UBOB", door.pending)),
            "ssl_check": "1"}
    status, _ = door.attack(urlencode(form), {"Content-Type": FORM})
    assert status == 401


@pytest.mark.parametrize("body", ["ssl_check=1", "ssl_check=1&token=legacy-verification-token",
                                  "token=x&ssl_check=1"])
def test_slacks_bare_ssl_check_is_answered_by_the_door_and_reaches_nothing(
    door: Door, body: str
) -> None:
    status, text = door.attack(body, {"Content-Type": FORM})
    assert (status, text) == (200, "")


@pytest.mark.parametrize("body", ["ssl_check=0", "ssl_check=1&command=%2Fpasscode",
                                  "ssl_check=1&user_id=UANNA&text=reset+PIXEL8-ALICE",
                                  '{"ssl_check": "1"}', "ssl_check=1&payload=%7B%7D"])
def test_a_body_that_is_more_or_less_than_the_bare_ssl_check_must_be_signed(
    door: Door, body: str
) -> None:
    status, _ = door.attack(body, {"Content-Type": FORM})
    assert status == 401
