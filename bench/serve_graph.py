"""`python -m bench.serve_graph --fleet N`: the Graph emulator (HTTPS, a throwaway CA) in a
process of its own, serving the synthetic fleet's managedDevices, for the picker on the
Intune backend (Graph is remote to the bot, as Slack is).

Ready line: the settings that point the bot at it and the CA bundle to trust."""

from __future__ import annotations

import argparse
import asyncio

from bench import people
from bench.child import serve_commands
from bench.fresh import fresh_device
from bench.intune import PAGE_SIZE
from bench.proc import emulator_priority, pin
from handlers.runtime.lifecycle import lower_priority
from tests.fakes.graph_api import GraphEmulator


async def main() -> None:
    pin()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=int, default=1000)
    args = parser.parse_args()
    lower_priority(emulator_priority())  # as the Slack emulator's (bench.proc)
    fleet = people.fleet(args.fleet)
    emulator = GraphEmulator(fleet, page_size=PAGE_SIZE)
    for email in people.users(fleet).values():  # the fleet's people are the tenant's users
        emulator.add_user(email)
    enrolled = 0

    async def enrol(words: list[str]) -> list[dict[str, str]]:
        """Enrol N devices now (after our server loaded its index): their id, serial, name."""
        nonlocal enrolled
        added = []
        for _ in range(int(words[0])):
            device = fresh_device(enrolled, fleet[0])
            enrolled += 1
            emulator.add_device(device)
            added.append({"id": device["id"], "serial": device["serialNumber"],
                          "name": device["deviceName"]})
        emulator.prime_lookups("serialNumber", "deviceName")  # not the fake's cost, timed
        return added

    async def lookups(words: list[str]) -> int:
        """How many filtered device lists (live lookups: two per miss) it has answered."""
        return len(emulator.device_lookups())

    async with emulator:  # its CA is removed at the end
        await serve_commands({"settings": emulator.settings_overrides(),
                              "ca_bundle": str(emulator.ca_bundle)},
                             {"enrol": enrol, "lookups": lookups})


if __name__ == "__main__":
    asyncio.run(main())
