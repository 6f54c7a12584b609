"""Starting the benchmark's processes: the Slack emulator, our server, bare Bolt."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.proc import Child, layout
from handlers.slack.pacing import DEFAULT_RATE

_n = itertools.count(1)


@dataclass
class Processes:
    work: Path  # logs and databases
    slack: Child

    @classmethod
    async def start(cls, work: Path, fleet: int) -> Processes:
        # Slack is remote: its emulator shares the load generator's CPU (at idle priority:
        # bench.proc.emulator_priority), never the servers'.
        slack = await Child.start("slack", "bench.serve_slack", "--fleet", str(fleet),
                                  log_dir=work, cpu=layout()[0])
        return cls(work, slack)

    @property
    def slack_url(self) -> str:
        return str(self.slack.ready["api_url"])

    async def ours(self, fleet: int, *, post_rate: float = DEFAULT_RATE,
                   pending_for: float = 0.2, graph: dict[str, Any] | None = None,
                   database_url: str | None = None) -> Child:
        """Our server; on the Intune backend over the Graph emulator ``graph`` names, if given
        (the ready line of ``graph()``); on the database ``database_url`` (default: a SQLite
        file of its own)."""
        n = next(_n)
        return await Child.start(
            f"ours{n}", "bench.serve_ours", "--slack-url", self.slack_url, "--fleet", str(fleet),
            "--db", database_url or str(self.work / f"ours{n}.db"), "--post-rate", str(post_rate),
            "--pending-for", str(pending_for),
            *(("--graph", json.dumps(graph)) if graph else ()), log_dir=self.work,
            cpu=layout()[1],
        )

    async def graph(self, fleet: int) -> Child:
        """The Graph emulator serving the fleet: remote, so on the load generator's CPU."""
        return await Child.start(f"graph{next(_n)}", "bench.serve_graph", "--fleet", str(fleet),
                                 log_dir=self.work, cpu=layout()[0])

    async def bare(self, mode: str) -> Child:
        return await Child.start(f"bare-{mode}", "bench.serve_bare", "--mode", mode,
                                 "--slack-url", self.slack_url, log_dir=self.work,
                                 cpu=layout()[1])

    async def start_all(self, *starting: Awaitable[Child]) -> list[Child]:
        """Start children side by side; if one fails, stop the others and raise."""
        started = await asyncio.gather(*starting, return_exceptions=True)
        children = [c for c in started if isinstance(c, Child)]
        for outcome in started:
            if isinstance(outcome, BaseException):
                await self.stop(*children)
                raise outcome
        return children

    async def stop(self, *children: Child) -> None:
        await asyncio.gather(*(c.stop() for c in children))
