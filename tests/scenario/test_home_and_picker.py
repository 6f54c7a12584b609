"""App Home, the device picker modal and its options load, and unexpected errors."""

from __future__ import annotations

import json

from bot.domain import State
from tests.scenario.harness import Stack
from tests.scenario.test_refusals_and_decisions import pending_request


async def test_app_home_shows_my_requests_and_the_queue_for_approvers(stack: Stack) -> None:
    request_id = await pending_request(stack)
    await stack.driver.event({"type": "app_home_opened", "user": "UALICE", "tab": "home"})
    await stack.driver.event({"type": "app_home_opened", "user": "UANNA", "tab": "home"})
    await stack.settle()
    alice = json.dumps(stack.emu.home("UALICE"))
    anna = json.dumps(stack.emu.home("UANNA"))
    assert request_id in alice and "Waiting for approval" not in alice
    assert "Waiting for approval" in anna and request_id in anna and "Approve" in anna


async def test_approving_from_app_home_uses_the_same_checks(stack: Stack) -> None:
    request_id = await pending_request(stack)
    await stack.driver.click("UMALLORY", "approve", request_id, in_home=True)
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL
    await stack.driver.click("UANNA", "approve", request_id, in_home=True)
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.COMPLETED
    assert request_id not in json.dumps(
        [b for b in stack.emu.home("UANNA")["blocks"] if b["type"] == "actions"]
    )


async def test_a_retry_of_an_event_already_processed_is_acknowledged_and_ignored(
    stack: Stack,
) -> None:
    event = {"type": "app_home_opened", "user": "UALICE"}
    await stack.driver.event(event, event_id="EvHOME1")
    await stack.settle()
    answer = await stack.driver.event(event, event_id="EvHOME1", retry_num=1)
    assert answer.status == 200
    await stack.settle()
    assert len(stack.emu.calls_to("views.publish")) == 1


async def test_a_retry_of_an_event_that_never_arrived_is_processed(stack: Stack) -> None:
    """Slack retries when the first delivery got no answer in 3 s: if it never reached the
    bot, the retry is the only delivery there is."""
    answer = await stack.driver.event({"type": "app_home_opened", "user": "UALICE"},
                                      event_id="EvHOME2", retry_num=1)
    assert answer.status == 200
    await stack.settle()
    assert len(stack.emu.calls_to("views.publish")) == 1


async def test_reset_alone_opens_the_picker_and_a_pick_becomes_a_request(stack: Stack) -> None:
    await stack.driver.command("UALICE", "reset")
    await stack.settle()
    [opened] = stack.emu.calls_to("views.open")
    assert opened.params["view"]["callback_id"] == "reset_modal"

    answer = await stack.driver.options("UALICE", "device_pick", "")
    names = [o["text"]["text"] for o in answer.json()["options"]]
    assert names and all("ALICE" in n.upper() for n in names)  # only her own devices
    answer = await stack.driver.options("UANNA", "device_pick", "kiosk")
    assert [o["value"] for o in answer.json()["options"]] == [
        "09783e57-dd7c-4a32-99a8-66d90ede5b0f"
    ]

    pixel = "d7d2d617-9d12-4bb2-bb9c-9a4a1a9923be"
    answer = await stack.driver.submit_view("UALICE", "reset_modal", {
        "device": {"device_pick": {"type": "external_select",
                                   "selected_option": {"value": pixel}}},
    })
    assert answer.status == 200
    await stack.settle()
    assert "waiting for an approver" in json.dumps(stack.dm("UALICE"))
    assert len(stack.approvals()) == 1


async def test_submitting_the_picker_empty_shows_a_field_error(stack: Stack) -> None:
    answer = await stack.driver.submit_view("UALICE", "reset_modal", {"device": {}})
    assert answer.status == 200
    assert answer.json()["response_action"] == "errors"


async def test_an_unexpected_failure_gives_an_apology_with_a_reference_not_a_trace(
    stack: Stack, caplog: object
) -> None:
    stack.emu.fail_next("users.info", error="fatal_error", times=1)
    await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
    await stack.settle()
    said = stack.emu.calls_to("response_url")[-1].params["text"]
    assert "Slack did not tell me who you are" in said
    assert "Traceback" not in said


async def test_a_crash_in_a_listener_reaches_the_person_as_a_reference_id(
    stack: Stack, caplog: object
) -> None:
    import logging

    stack.emu.fail_next("views.open", error="internal_error", times=1)
    await stack.driver.command("UALICE", "reset")
    with_logs = caplog  # type: ignore[assignment]
    with_logs.set_level(logging.ERROR)  # type: ignore[attr-defined]
    await stack.settle()
    said = stack.emu.calls_to("response_url")[-1].params["text"]
    assert "reference" in said and "Traceback" not in said
    ref = said.rsplit(" ", 1)[-1].rstrip(".")
    assert any(ref in r.getMessage() for r in with_logs.records)  # type: ignore[attr-defined]


async def test_the_same_options_query_twice_is_answered_twice(stack: Stack) -> None:
    for _ in range(2):
        answer = await stack.driver.options("UANNA", "device_pick", "kiosk")
        assert [o["value"] for o in answer.json()["options"]] == [
            "09783e57-dd7c-4a32-99a8-66d90ede5b0f"
        ]


async def test_event_ids_that_differ_after_a_nul_are_not_taken_for_one_another(
        stack: Stack) -> None:
    """A signed delivery whose event_id holds NUL (Slack sends none): the inbox refuses it
    rather than cut its key at the NUL, where two deliveries would become one and the second
    be acknowledged as a retry of the first. No ack, so Slack would try again; no trace."""
    answers = [await stack.driver.event({"type": "app_home_opened", "user": user},
                                        event_id=f"EvNUL\x00{user}")
               for user in ("UALICE", "UANNA")]
    await stack.settle()
    assert [a.status for a in answers] == [500, 500], [(a.status, a.body) for a in answers]
    assert not any("Traceback" in a.body or "Error" in a.body for a in answers)
    assert stack.emu.calls_to("views.publish") == []
    answer = await stack.driver.event({"type": "app_home_opened", "user": "UANNA"},
                                      event_id="EvNUL")
    await stack.settle()
    assert answer.status == 200 and len(stack.emu.calls_to("views.publish")) == 1
