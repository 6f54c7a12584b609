"""`python -m bench.serve_slack --fleet N`: the Slack Web API emulator in a process of its own
(Slack is remote to the bot), knowing every primary user of the synthetic fleet.

Commands on stdin: ``clear``; ``approvals <since>`` (approvals-channel posts recorded since
call number ``since``); ``summary`` (what was posted where, per request id)."""

from __future__ import annotations

import argparse
import asyncio
import re
from collections import Counter
from typing import Any

from bench import APPROVALS, APPROVER, people
from bench.child import rss_mb, serve_commands
from bench.proc import emulator_priority, pin
from bench.report import max_in_window
from handlers.demo.slack_emulator import Call, SlackEmulator
from handlers.runtime.lifecycle import lower_priority

_REQUEST_ID = re.compile(r"\((PR-[0-9A-Za-z]+)\)")


def request_id(call: Call) -> str:
    found = _REQUEST_ID.findall(str(call.params.get("text") or ""))
    return found[-1] if found else ""


def posted(call: Call) -> bool:
    return call.method == "chat.postMessage" and not call.failed and bool(
        (call.response or {}).get("ok"))


def approvals_since(emu: SlackEmulator, since: int) -> dict[str, Any]:
    calls = emu.calls[since:]
    posts = [[request_id(c), str((c.response or {}).get("ts"))] for c in calls
             if posted(c) and c.params.get("channel") == APPROVALS]
    return {"next": since + len(calls), "posts": posts}


def summary(emu: SlackEmulator) -> dict[str, Any]:
    """Posts per request id (approvals, waiting DMs, result DMs) and approvals-post pacing."""
    approvals: Counter[str] = Counter()
    waiting: Counter[str] = Counter()
    results: Counter[str] = Counter()
    times: list[float] = []
    for call in emu.calls:
        if not posted(call):
            continue
        channel = str(call.params.get("channel") or "")
        rid = request_id(call)
        if channel == APPROVALS:
            approvals[rid] += 1
            times.append(call.at)
        elif channel.startswith("D"):
            text = str(call.params.get("text") or "")
            (waiting if "waiting for approval" in text else results)[rid] += 1
    doubled = {rid for counter in (approvals, waiting, results) for rid, n in counter.items()
               if n != 1}
    return {
        "doubled": [[c.method, c.params.get("channel"), c.params.get("text"), c.at]
                    for c in emu.calls if posted(c) and request_id(c) in doubled][:20],
        "methods": dict(Counter(c.method for c in emu.calls)),
        "failed": sum(c.failed for c in emu.calls),
        "approvals": dict(approvals), "waiting_dms": dict(waiting), "result_dms": dict(results),
        "approvals_span_s": (max(times) - min(times)) if times else 0.0,
        "approvals_max_per_1s": max_in_window(sorted(times)),
    }


async def main() -> None:
    pin()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=int, default=1000)
    args = parser.parse_args()
    # Slack is remote: its servers never take CPU from the bot or from the load generator.
    # Here they share the machine, so the emulator runs at the lowest priority (Linux:
    # SCHED_IDLE), on CPU time nobody else wants; it still answers at once on an idle CPU
    # (normal priority with --shared-machine).
    lower_priority(emulator_priority())
    emu = SlackEmulator(strict_triggers=False)
    emu.add_channel(APPROVALS, name="passcode-approvals")
    emu.add_user(APPROVER, name="helen", email="helen.helpdesk@example.com")
    for user_id, email in people.users(people.fleet(args.fleet)).items():
        emu.add_user(user_id, name=email.split("@")[0], email=email)

    async def clear(_: list[str]) -> dict[str, Any]:
        emu.clear()
        return {"ok": True}

    async def approvals(words: list[str]) -> dict[str, Any]:
        return approvals_since(emu, int(words[0]) if words else 0)

    async def stats(_: list[str]) -> dict[str, Any]:
        return {**summary(emu), "rss_mb": rss_mb()}

    async with emu:
        await serve_commands({"port": emu.port, "api_url": emu.api_url},
                             {"clear": clear, "approvals": approvals, "summary": stats})


if __name__ == "__main__":
    asyncio.run(main())
