"""Printing results: aligned tables, PASS/MISS lines, and a tally of errors and misses."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Tally:
    """Targets are reported, never fatal; errors (non-2xx, lost or doubled work) are."""

    errors: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)

    def target(self, name: str, ok: bool, detail: str) -> str:
        if not ok:
            self.misses.append(name)
        line = f"  {'PASS' if ok else 'MISS'}  {name}: {detail}"
        print(line)
        return line

    def error(self, message: str) -> None:
        self.errors.append(message)
        print(f"  ERROR {message}")


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "| " + " | ".join(c.rjust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + ":" for w in widths) + "|"
    return "\n".join([line(header), rule, *map(line, rows)])


def f(value: float, digits: int = 2) -> str:
    return f"{value:.{digits}f}"


def max_in_window(times: list[float], window: float = 1.0) -> int:
    """The most events (sorted times, in seconds) within any ``window``-second span."""
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best
