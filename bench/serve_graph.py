"""`python -m bench.serve_graph --fleet N`: the Graph emulator (HTTPS, a throwaway CA) in a
process of its own, serving the synthetic fleet's managedDevices, for the picker on the
Intune backend (Graph is remote to the bot, as Slack is).

Ready line: the settings that point the bot at it and the CA bundle to trust."""

from __future__ import annotations

import argparse
import asyncio

from bench import people
from bench.child import serve_commands
from bench.intune import PAGE_SIZE
from bench.proc import pin
from handlers.runtime.lifecycle import lower_priority
from tests.fakes.graph_api import GraphEmulator


async def main() -> None:
    pin()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fleet", type=int, default=1000)
    args = parser.parse_args()
    lower_priority("idle")  # as the Slack emulator: never takes CPU from the bot or the load
    emulator = GraphEmulator(people.fleet(args.fleet), page_size=PAGE_SIZE)
    async with emulator:  # its CA is removed at the end
        await serve_commands({"settings": emulator.settings_overrides(),
                              "ca_bundle": str(emulator.ca_bundle)}, {})


if __name__ == "__main__":
    asyncio.run(main())
