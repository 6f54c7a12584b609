"""How long the simulated backend takes to start on a big FLEET_FILE, and what it holds:
`python -m bench.fleet_load [--devices 100000] [--format json|yaml|both]`.

A synthetic fleet (bot/backends/fleet_demo.py) is written to a file; a fresh process imports
what `passcode-bot serve` imports, builds the backend from FLEET_FILE as the composition root
does (bot/bootstrap.py's build_backend), and reports the seconds that took, its RSS once
idle, and its peak RSS. Before issue 13 (pure-Python YAML parse, dicts per device): 100,000
devices in JSON took 84 s and held 1.8 GB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import gc, resource, sys, time
import bot.bootstrap, handlers.bootstrap
from bot.clock import SystemClock
from bot.config import Settings

def rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS"):
            return int(line.split()[1]) / 1024
    return 0.0

before = rss()
settings = Settings(_env_file=None, fleet_file=sys.argv[1])
started = time.perf_counter()
backend = bot.bootstrap.build_backend(settings, SystemClock())
took = time.perf_counter() - started
gc.collect()
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{took:.2f} {before:.0f} {rss():.0f} {peak:.0f}")
"""


def measure(path: Path) -> tuple[float, float, float, float]:
    """(seconds to build, RSS before, RSS idle after, peak RSS) in a fresh process."""
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path)], check=True,
                         capture_output=True, text=True).stdout.split()
    took, before, after, peak = map(float, out)
    return took, before, after, peak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.fleet_load", description=__doc__)
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--format", choices=("json", "yaml", "both"), default="both")
    args = parser.parse_args(argv)
    from bot.backends.fleet_demo import synthetic_fleet

    fleet = synthetic_fleet(args.devices)
    formats = ("json", "yaml") if args.format == "both" else (args.format,)
    print(f"FLEET_FILE of {args.devices:,} devices: build_backend in a fresh process")
    print(f"  {'format':6}  {'size MB':>7}  {'start s':>7}  {'RSS MB':>13}  {'peak MB':>7}")
    with tempfile.TemporaryDirectory(prefix="fleet-load-") as tmp:
        for form in formats:
            path = Path(tmp) / f"fleet.{form}"
            if form == "json":
                path.write_text(json.dumps(fleet), encoding="utf-8")
            else:
                import yaml

                path.write_text(yaml.safe_dump(fleet, sort_keys=False), encoding="utf-8")
            took, before, after, peak = measure(path)
            size = path.stat().st_size / 2**20
            print(f"  {form:6}  {size:7.1f}  {took:7.1f}  {before:4.0f} -> {after:4.0f}  "
                  f"{peak:7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
