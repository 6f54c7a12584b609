"""The dependency rule, read from the source: handlers -> bot -> policy; policy imports
nothing of ours; the listeners, the Slack adapters and the work never learn where the work
runs (only the runtime, the composition root, the CLI and the demo import handlers.runtime);
the product imports nothing from tests/ or bench/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def crossing(paths: list[Path], *forbidden: str) -> list[str]:
    return [f"{p.relative_to(ROOT)} imports {name}" for p in paths for name in sorted(imports(p))
            if any(name == f or name.startswith(f + ".") for f in forbidden)]


def test_policy_imports_nothing_of_ours() -> None:
    assert crossing(modules("policy"), "bot", "handlers", "tests", "bench") == []


def test_the_core_never_imports_the_slack_surface() -> None:
    assert crossing(modules("bot"), "handlers", "tests", "bench") == []


def test_the_slack_surface_imports_nothing_from_tests_or_bench() -> None:
    assert crossing(modules("handlers"), "tests", "bench") == []


@pytest.mark.parametrize("folder", ["handlers/listeners", "handlers/slack", "handlers/work"])
def test_only_the_runtime_knows_where_the_work_runs(folder: str) -> None:
    assert crossing(modules(folder), "handlers.runtime", "handlers.bootstrap") == []
