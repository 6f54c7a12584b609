"""Ack latency: ours against bare Bolt (default mode, process_before_response=True) for each
kind of request Slack sends, at concurrency 1, 10 and 50."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bench import APPROVER
from bench.load import Run, closed_loop, session
from bench.people import Requester
from bench.proc import Child
from bench.report import Tally, f, table
from bench.slack_requests import Prepared, Signer
from bench.stack import Processes

CONCURRENCY = (1, 10, 50)
KINDS = ("help", "reset", "approve", "options")
# The ack target names these. An options load answers with options searched from the
# fleet, which an empty app does not do: its target is the picker's p95 (bench/picker.py).
RATIO_KINDS = ("help", "reset", "approve")
PICKER_QUERIES = ("pix", "pixel8", "desk", "iphone15-00", "kiosk", "galaxy-a54-0001", "mac")
RATIO_TARGET = 1.5
PG_RATIO_TARGET = 2.0  # issue 13 point 8: within 2x of bare Bolt on PostgreSQL
RSS_TARGET_MB = 150.0
Key = tuple[str, int, str]  # request kind, concurrency, server


@dataclass
class Generators:
    signer: Signer
    requesters: list[Requester]

    def __post_init__(self) -> None:
        self._people: Iterator[Requester] = itertools.cycle(self.requesters)
        self._queries = itertools.cycle(PICKER_QUERIES)
        self._n = itertools.count(1)

    def make(self, kind: str) -> Callable[[], Prepared]:
        s = self.signer
        return {
            "help": lambda: s.command(next(self._people).user_id, "help", "help"),
            "reset": lambda: self._reset(),
            "approve": lambda: s.approve(APPROVER, f"PR-N0NE{next(self._n):05d}"),
            "options": lambda: s.options(APPROVER, next(self._queries)),
        }[kind]

    def _reset(self) -> Prepared:
        who = next(self._people)
        return self.signer.command(who.user_id, f"reset {who.device_name}", "reset")


@dataclass
class Cell:
    """One request kind at one concurrency against one server, pooled over rounds."""

    run: Run = field(default_factory=Run)
    cpu_s: float = 0.0  # the server's CPU time, including work a request left after its ack
    worker_cpu_s: float = 0.0  # the part of it our worker process used

    @property
    def cpu_ms(self) -> float:
        return 1000 * self.cpu_s / max(len(self.run.latencies), 1)

    @property
    def worker_cpu_ms(self) -> float:
        return 1000 * self.worker_cpu_s / max(len(self.run.latencies), 1)


async def measure(procs: Processes, requesters: list[Requester], *, requests: int,
                  time_limit: float, tally: Tally, rounds: int = 4,
                  postgres: str | None = None) -> dict[Key, Cell]:
    """Each cell is measured in ``rounds`` slices, the servers taking turns in rotating order,
    so a burst of outside load on the machine hits all of them alike. ``postgres``: a database
    URL (an empty schema) for a second copy of ours, ``ours-pg``, in the same run."""
    starting = [procs.ours(fleet=5000), procs.bare("pbr"), procs.bare("default")]
    if postgres:
        starting.append(procs.ours(fleet=5000, database_url=postgres))
    ours, pbr, default, *pg = await procs.start_all(*starting)
    bare = {"pbr": pbr, "default": default}
    servers = [("ours", ours), ("bare-pbr", bare["pbr"]), ("bare-default", bare["default"]),
               *(("ours-pg", p) for p in pg)]
    mine = [ours, *pg]
    gen = Generators(Signer(procs.slack_url.removesuffix("api/")), requesters)
    cells: dict[Key, Cell] = {}
    try:
        async with session(max(CONCURRENCY)) as http:
            for name, child in servers:  # warm up: auth.test, users.info, imports
                warm = [gen.make(k)() for k in KINDS for _ in range(10)]
                _check(tally, f"warm-up {name}", await closed_loop(http, child.url, warm, 1, 30))
            for child in mine:
                await child.ask("settle")
            for kind in KINDS:
                for conc in CONCURRENCY:
                    for turn in range(rounds):
                        k = turn % len(servers)
                        for name, child in servers[k:] + servers[:k]:
                            cell = cells.setdefault((kind, conc, name), Cell())
                            batch = [gen.make(kind)() for _ in range(requests // rounds)]
                            before, worker_before = server_cpu(child)
                            run = await closed_loop(http, child.url, batch, conc,
                                                    time_limit / rounds)
                            if child in mine:
                                await child.ask("settle")
                            after, worker_after = server_cpu(child)
                            cell.cpu_s += after - before
                            cell.worker_cpu_s += worker_after - worker_before
                            cell.run.extend(run)
                            _check(tally, f"{kind} c={conc} {name}", run)
        stats = await ours.ask("stats")
        idle = float(ours.ready["rss_mb"])
        front, worker = float(ours.ready["front_rss_mb"]), float(ours.ready["worker_rss_mb"])
        # Per process, as issue 13 sets it (until 2026-12-02 this checked the two together).
        tally.target(f"idle RSS of each of our processes < {RSS_TARGET_MB:g} MB",
                     max(front, worker) < RSS_TARGET_MB,
                     f"front {front:.0f}, worker {worker:.0f}: {idle:.0f} MB together at start "
                     f"(5,000 simulated devices); {stats['rss_mb']:.0f} MB after the ack runs")
    finally:
        await procs.stop(*mine, *bare.values())
    return cells


def server_cpu(child: Child) -> tuple[float, float]:
    """CPU seconds a server has used (ours: the front and its worker process), and the
    worker's part of them."""
    worker = child.ready.get("worker_pid")
    in_worker = cpu_seconds(int(worker)) if worker else 0.0
    return cpu_seconds(child.proc.pid) + in_worker, in_worker


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _check(tally: Tally, what: str, run: Run) -> None:
    if run.errors:
        tally.error(f"{what}: {run.errors} answers not 2xx ({dict(run.statuses)})")


def print_table(cells: dict[Key, Cell], tally: Tally) -> str:
    header = ["request", "c", "ours req/s", "ours p50", "p99", "pbr p50", "p99", "default p50",
              "p99", "÷pbr p50", "÷pbr p99", "÷default p50", "÷default p99", "CPU/req ours",
              "in worker", "pbr"]
    rows = []
    for kind in KINDS:
        for conc in CONCURRENCY:
            ours, pbr, dflt = (cells[kind, conc, n] for n in ("ours", "bare-pbr", "bare-default"))
            o, p, d = ours.run, pbr.run, dflt.run
            rows.append([
                kind, str(conc), f(o.rps, 0), f(o.ms(.5)), f(o.ms(.99)), f(p.ms(.5)),
                f(p.ms(.99)), f(d.ms(.5)), f(d.ms(.99)), f(o.ms(.5) / p.ms(.5)),
                f(o.ms(.99) / p.ms(.99)), f(o.ms(.5) / d.ms(.5)), f(o.ms(.99) / d.ms(.99)),
                f(ours.cpu_ms), f(ours.worker_cpu_ms), f(pbr.cpu_ms),
            ])
    text = table(header, rows)
    print("  latencies in ms; pbr: bare Bolt with process_before_response=True; default: bare "
          "Bolt in its default mode;\n  ÷: ours divided by bare; CPU/req: server CPU ms per "
          "request, including the work a request leaves for after its ack (ours: front + worker;\n"
          "  in worker: the worker process's part)")
    print(text)
    for kind in RATIO_KINDS:
        worst = max(max(cells[kind, c, "ours"].run.ms(q) / cells[kind, c, "bare-pbr"].run.ms(q)
                        for q in (.5, .99)) for c in CONCURRENCY)
        tally.target(f"{kind}: ours within {RATIO_TARGET}x of bare Bolt (pbr), p50 and p99",
                     worst <= RATIO_TARGET, f"worst ratio {worst:.2f}")
    if any(key[2] == "ours-pg" for key in cells):
        text += "\n\n" + print_postgres(cells, tally)
    return text


def print_postgres(cells: dict[Key, Cell], tally: Tally) -> str:
    """Ours on PostgreSQL beside ours on SQLite and bare Bolt (pbr), measured in the same run."""
    header = ["request", "c", "pg req/s", "pg p50", "p99", "sqlite p50", "p99", "pbr p50", "p99",
              "pg ÷pbr p50", "pg ÷pbr p99", "CPU/req pg", "in worker"]
    rows = []
    for kind in KINDS:
        for conc in CONCURRENCY:
            pg, lite, pbr = (cells[kind, conc, n] for n in ("ours-pg", "ours", "bare-pbr"))
            o, s, p = pg.run, lite.run, pbr.run
            rows.append([kind, str(conc), f(o.rps, 0), f(o.ms(.5)), f(o.ms(.99)), f(s.ms(.5)),
                         f(s.ms(.99)), f(p.ms(.5)), f(p.ms(.99)), f(o.ms(.5) / p.ms(.5)),
                         f(o.ms(.99) / p.ms(.99)), f(pg.cpu_ms), f(pg.worker_cpu_ms)])
    text = table(header, rows)
    print("\n  ours on PostgreSQL (ours-pg, a schema of its own on the same server) in the same "
          "run:")
    print(text)
    for kind in RATIO_KINDS:
        worst = max(max(cells[kind, c, "ours-pg"].run.ms(q) / cells[kind, c, "bare-pbr"].run.ms(q)
                        for q in (.5, .99)) for c in CONCURRENCY)
        tally.target(f"{kind}: ours on PostgreSQL within {PG_RATIO_TARGET}x of bare Bolt (pbr), "
                     f"p50 and p99", worst <= PG_RATIO_TARGET, f"worst ratio {worst:.2f}")
    return text
