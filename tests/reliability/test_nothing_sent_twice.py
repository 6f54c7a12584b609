"""Nothing sent twice, with the real app killed (SIGKILL) right after Slack took a post and
before the app heard Slack's answer: the result DM, and the approvals post. Started again on
the same database, the app runs the job again, finds the post by its message metadata in the
conversation's history, and does not post it a second time. (The world, its steps and its
checks are tests/reliability/test_crash_safety.py's.)"""

from __future__ import annotations

import json

from handlers.demo.slack_emulator import Call
from tests.reliability.test_crash_safety import (
    APPROVALS,
    DEVICE_ID,
    DEVICE_NAME,
    HELD,
    REQUESTER,
    World,
    approve,
    assert_finished_exactly_once,
    request_reset,
    world,  # noqa: F401 - the fixture
)
from tests.served import WAIT


def taken(call: Call) -> bool:
    return not call.failed and bool(call.response and call.response.get("ok"))


async def test_killed_right_after_slack_took_the_result_dm(world: World) -> None:  # noqa: F811
    request_id = await request_reset(world)
    post = world.graph.hold_next("/resetPasscode", method="POST")
    await approve(world, request_id)
    await post.wait_handled(WAIT)
    await world.until("the approval to be announced",
                      lambda: world.job_done(request_id, "notify", "decided"))
    # Slack takes the result DM; its answer is held until the app is dead.
    world.slack.fail_next("chat.postMessage", accepted=True, delay=HELD)
    post.release()
    await world.slack.wait_for("chat.postMessage", timeout=WAIT, predicate=lambda c: taken(c)
                               and "Show passcode" in json.dumps(c.params.get("blocks")))
    await world.app.kill()
    dm = world.request(request_id)["surface"]["dm_channel"]
    assert len(world.result_dms(dm)) == 1
    assert "result_ts" not in world.request(request_id)["surface"]

    await world.app.start()
    await assert_finished_exactly_once(world, request_id)


async def test_killed_right_after_slack_took_the_approvals_post(world: World) -> None:  # noqa: F811
    world.slack.fail_next("chat.postMessage", error=None)  # the waiting DM goes as usual
    world.slack.fail_next("chat.postMessage", accepted=True, delay=HELD)  # the approvals post
    assert (await world.driver.command(REQUESTER, f"reset {DEVICE_NAME}")).status == 200
    await world.slack.wait_for("chat.postMessage", timeout=WAIT, predicate=lambda c: taken(c)
                               and c.params.get("channel") == APPROVALS)
    await world.app.kill()
    [(request_id,)] = world.rows("SELECT id FROM requests WHERE device_id = ?", DEVICE_ID)
    assert "approval_ts" not in world.request(request_id)["surface"]

    await world.app.start()
    await world.until("the approval message and the waiting DM",
                      lambda: world.job_done(request_id, "notify", "approval_requested"))
    [message] = world.slack.messages(APPROVALS)
    assert world.request(request_id)["surface"]["approval_ts"] == message["ts"]
    await approve(world, request_id)
    await assert_finished_exactly_once(world, request_id)
    assert len(world.slack.messages(APPROVALS)) == 1
