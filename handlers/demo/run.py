"""`passcode-bot demo`: the real app, a local Slack emulator and the simulated fleet, in a
scripted conversation between an end user, a helpdesk operator and an approver. No tokens,
no network; time is simulated, so "seven days later" takes no time at all."""

from __future__ import annotations

import base64
import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path

from bot.backends.simulated import SimulatedBackend, demo_fleet
from bot.clock import ManualClock
from bot.config import Settings
from bot.roles import FileRoleDirectory
from handlers.bootstrap import start
from handlers.demo.driver import SlackDriver
from handlers.demo.slack_emulator import SlackEmulator
from handlers.runtime.server import Running

SIGNING_SECRET = "demo-signing-secret"
APPROVALS = "C0APPROVALS"
PEOPLE = {
    "UALICE": ("alice", "alice@example.com", "Alice Lindqvist, end user"),
    "UBOB": ("bob", "bob@example.com", "Bob Marino, end user"),
    "UHELEN": ("helen", "helen@example.com", "Helen Berg, helpdesk operator"),
    "UANNA": ("anna", "anna@example.com", "Anna Rossi, Intune administrator"),
}
ROLES = {"Helpdesk Operator": ["UHELEN"], "Intune Administrator": ["anna@example.com"]}

Print = Callable[[str], None]


class Narrator:
    """Prints each step and then what each person saw in Slack because of it."""

    def __init__(self, emu: SlackEmulator, bot: Running, out: Print) -> None:
        self.emu = emu
        self.bot = bot
        self.out = out
        self.seen = 0
        self.step_no = 0

    async def step(
        self, title: str, action: Callable[[], Awaitable[object]], who: str = ""
    ) -> None:
        self.step_no += 1
        self.out(f"\n{self.step_no}. {title}")
        await action()
        await self.bot.settle()
        for line in self.emu.transcript()[self.seen:]:
            if line.startswith("response_url"):
                line = f"only @{who} sees" + line.removeprefix("response_url")
            self.out(f"   {line}")
        self.seen = len(self.emu.transcript())


def _value_of(emu: SlackEmulator, channel: str, action_id: str) -> str:
    for message in reversed(emu.messages(channel)):
        for block in message.get("blocks") or []:
            for element in block.get("elements") or []:
                if element.get("action_id") == action_id:
                    return str(element["value"])
    raise LookupError(f"no {action_id} button in {channel}")


async def run_demo(out: Print = print) -> int:
    clock = ManualClock()
    with tempfile.TemporaryDirectory(prefix="passcode-bot-demo-") as tmp:
        async with SlackEmulator() as emu:
            emu.add_channel(APPROVALS, name="passcode-approvals")
            for user_id, (name, email, real_name) in PEOPLE.items():
                emu.add_user(user_id, name=name, email=email, real_name=real_name)
            settings = Settings.model_validate({
                "slack_bot_token": emu.token,
                "slack_signing_secret": SIGNING_SECRET,
                "slack_api_url": emu.api_url,
                "approvals_channel": APPROVALS,
                "host": "127.0.0.1",
                "port": 0,
                "database_url": f"sqlite:///{Path(tmp) / 'demo.db'}",
                "passcode_bot_secret": base64.urlsafe_b64encode(os.urandom(32)).decode(),
                "background_work": "inline",  # the demo reads the core's state as it goes
            })
            backend = SimulatedBackend(demo_fleet(), clock=clock)
            bot = await start(settings, clock=clock, backend=backend,
                              roles=FileRoleDirectory(ROLES), sleep=clock.sleep)
            try:
                async with SlackDriver(bot.url, SIGNING_SECRET, emu) as slack:
                    await _script(Narrator(emu, bot, out), emu, slack, clock)
            finally:
                await bot.stop()
    out("\nThe demo ran the real Slack app against a local Slack emulator and the simulated "
        "fleet.\nRun it for real with `passcode-bot serve` (see README.md).")
    return 0


async def _script(n: Narrator, emu: SlackEmulator, slack: SlackDriver, clock: ManualClock) -> None:
    n.out("passcode-bot demo: people and what they see in Slack")
    for name, _, real_name in PEOPLE.values():
        n.out(f"   @{name}: {real_name}")

    await n.step("Alice, an end user, asks for a reset of her Android phone",
                 lambda: slack.command("UALICE", "reset PIXEL8-ALICE"), "alice")
    await n.step("Bob asks for a reset of his Windows laptop: not supported, nothing is posted",
                 lambda: slack.command("UBOB", "reset DESKTOP-7F3K2QL"), "bob")
    pixel = _value_of(emu, APPROVALS, "approve")
    await n.step("Alice tries to approve her own request: refused (four eyes)",
                 lambda: slack.click("UALICE", "approve", pixel, channel_id=APPROVALS))
    await n.step("Anna, an approver, approves; the bot resets the phone and DMs Alice",
                 lambda: slack.click("UANNA", "approve", pixel, channel_id=APPROVALS))
    await n.step("Alice clicks “Show passcode”: a modal only she sees",
                 lambda: slack.click("UALICE", "reveal", pixel, channel_id="DALICE"))

    await n.step("Helen from the helpdesk asks, on Alice's behalf, for her iPhone",
                 lambda: slack.command("UHELEN", "reset Alice's iPhone"), "helen")
    iphone = _value_of(emu, APPROVALS, "approve")
    await n.step("Anna approves: iOS has its passcode removed, not reset",
                 lambda: slack.click("UANNA", "approve", iphone, channel_id=APPROVALS))

    await n.step("Bob asks for a reset of his AOSP headset",
                 lambda: slack.command("UBOB", "reset NAVIGATOR-BOB"), "bob")
    headset = _value_of(emu, APPROVALS, "approve")
    await n.step("Anna denies it",
                 lambda: slack.click("UANNA", "deny", headset, channel_id=APPROVALS))

    await n.step("Seven days pass: Alice's passcode expires and is deleted",
                 lambda: _seven_days(n, clock))
    await n.step("Alice clicks “Show passcode” again: refused",
                 lambda: slack.click("UALICE", "reveal", pixel, channel_id="DALICE"))
    await n.step("Alice checks /passcode status",
                 lambda: slack.command("UALICE", "status"), "alice")


async def _seven_days(n: Narrator, clock: ManualClock) -> None:
    clock.advance(timedelta(days=7))
    await n.bot.services.service.sweep()
