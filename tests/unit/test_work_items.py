"""Work items: every kind crosses the worker link unchanged, has its work, and a forged or
damaged item is refused (BadItem), never half-built."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handlers.work.items import (
    KINDS,
    BadItem,
    Decide,
    PickerSubmitted,
    ReplyTo,
    ResetCommand,
    WorkItem,
    decode,
    encode,
)
from handlers.work.worker import HANDLERS

any_item = st.one_of(*(st.builds(kind) for kind in KINDS.values()))


@given(any_item)
def test_every_kind_of_item_comes_back_equal_after_the_link(item: WorkItem) -> None:
    again = decode(json.loads(json.dumps(encode(item))))
    assert again == item and type(again) is type(item)


def test_every_kind_of_item_is_known_by_name_and_has_its_work() -> None:
    kinds = set(WorkItem.__subclasses__())
    assert set(KINDS.values()) == kinds == set(HANDLERS)
    assert all(KINDS[kind.__name__] is kind for kind in kinds)
    assert all(kind.what and kind.what != WorkItem.what for kind in kinds)


def test_a_click_travels_as_its_type_name_and_typed_fields() -> None:
    item = Decide("UHELEN", "R-1", approve=True, reply_to=ReplyTo(from_home=True))
    assert encode(item) == {"type": "Decide", "fields": {
        "user": "UHELEN", "request": "R-1", "approve": True,
        "reply_to": {"response_url": "", "channel": "", "from_home": True}}}


def _decide(**fields: Any) -> dict[str, Any]:
    message = encode(Decide("UHELEN", "R-1", approve=True, reply_to=ReplyTo(channel="C1")))
    message["fields"].update(fields)
    return message


@pytest.mark.parametrize(
    ("message", "said"),
    [
        pytest.param({"type": "Nope", "fields": {}}, "no such work: 'Nope'", id="unknown-name"),
        pytest.param({"type": "WorkItem", "fields": {"user": "U1"}}, "no such work",
                     id="the-base-class"),
        pytest.param({"type": "ReplyTo", "fields": {}}, "no such work", id="not-a-work-item"),
        pytest.param({"type": "__class__", "fields": {}}, "no such work", id="dunder"),
        pytest.param({"type": ["Decide"], "fields": {}}, "no such work", id="name-not-a-string"),
        pytest.param({"fields": {}}, "no such work", id="no-name"),
        pytest.param("Decide", "not a work item", id="not-an-object"),
        pytest.param({"type": "Decide", "fields": []}, "not an object", id="fields-not-an-object"),
        pytest.param(_decide(approve="1"), "approve is not a bool", id="approve-as-text"),
        pytest.param(_decide(approve=1), "approve is not a bool", id="approve-as-number"),
        pytest.param(_decide(user=7), "user is not a str", id="user-as-number"),
        pytest.param(_decide(request=None), "request is not a str", id="request-null"),
        pytest.param(_decide(reply_to="C1"), "ReplyTo: its fields are not an object",
                     id="reply-to-as-text"),
        pytest.param(_decide(reply_to={"from_home": "1"}), "from_home is not a bool",
                     id="from-home-as-text"),
        pytest.param(_decide(reply_to={"dm": True}), "no field 'dm'", id="reply-to-extra-field"),
        pytest.param(_decide(verdict="approve"), "no field 'verdict'", id="extra-field"),
        pytest.param({"type": "ResetCommand", "fields": {"user": "U1", "query": "x"}},
                     "response_url is missing", id="missing-field"),
    ],
)
def test_a_forged_or_damaged_item_is_refused(message: Any, said: str) -> None:
    with pytest.raises(BadItem, match=said):
        decode(message)


def test_a_refusal_names_the_field_but_never_its_value() -> None:
    with pytest.raises(BadItem) as refused:
        decode({"type": "ResetCommand",
                "fields": {"user": "U1", "query": ["sekret"], "response_url": "u"}})
    assert "sekret" not in str(refused.value) and "query" in str(refused.value)


def test_a_reply_to_left_out_on_the_wire_means_a_dm() -> None:
    message = _decide(reply_to={})
    assert decode(message) == Decide("UHELEN", "R-1", approve=True, reply_to=ReplyTo())


def test_a_command_answers_by_its_response_url_and_a_submission_by_dm() -> None:
    assert ResetCommand("U1", "x", "https://hooks.slack.com/1").answer_to() == ReplyTo(
        response_url="https://hooks.slack.com/1")
    assert PickerSubmitted("U1", "dev-1").answer_to() == ReplyTo()
