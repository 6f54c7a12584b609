"""The `passcode-bot` command as a person runs it: help, check-config, serve without tokens,
demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("SLACK_", "AZURE_", "PASSCODE_BOT_", "APPROVALS_", "DATABASE_"))}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "handlers.cli", *args], capture_output=True, text=True,
        env={**clean, **(env or {})}, cwd=cwd or ROOT, timeout=timeout,
    )


def test_help_lists_every_command() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("serve", "web", "worker", "demo", "check-config", "check-db", "rotate-key",
                    "audit"):
        assert command in result.stdout


def test_serve_without_tokens_says_which_variable_in_one_line(tmp_path: Path) -> None:
    result = run("serve", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == "passcode-bot: SLACK_BOT_TOKEN: is required but not set"


def test_serve_whose_database_cannot_be_opened_says_why_in_one_line(tmp_path: Path) -> None:
    """Every role opens the database (it is the channel between them): one line, exit 2."""
    env = {"SLACK_SIGNING_SECRET": "s", "APPROVALS_CHANNEL": "C1", "SLACK_BOT_TOKEN": "xoxb-1",
           "PASSCODE_BOT_SECRET": "A" * 43 + "=", "DATABASE_URL": f"sqlite:///{tmp_path}",
           "PORT": "0", "HOST": "127.0.0.1", "BACKGROUND_WORK": "process"}
    for command in ("serve", "web", "worker"):
        result = run(command, env=env, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == (f"passcode-bot: cannot open the SQLite database at "
                                         f"{tmp_path}: unable to open database file")


@pytest.mark.parametrize(
    ("env", "says"),
    [
        ({}, "SLACK_SIGNING_SECRET: is required"),
        ({"SLACK_SIGNING_SECRET": "s", "APPROVALS_CHANNEL": "C1", "SLACK_BOT_TOKEN": "xoxb-1"},
         "PASSCODE_BOT_SECRET: is required"),
        ({"SLACK_SIGNING_SECRET": "s", "APPROVALS_CHANNEL": "C1", "SLACK_BOT_TOKEN": "xoxb-1",
          "PASSCODE_BOT_SECRET": "bm90LWEta2V5"}, "PASSCODE_BOT_SECRET: must be 32 random bytes"),
        ({"SLACK_SIGNING_SECRET": "s", "APPROVALS_CHANNEL": "C1", "SLACK_BOT_TOKEN": "xoxb-1",
          "PASSCODE_BOT_SECRET": "A" * 43 + "=", "FLEET_FILE": "/nonexistent/fleet.yml"},
         "FLEET_FILE:"),
    ],
    ids=["nothing-set", "no-secret", "bad-secret", "missing-fleet-file"],
)
def test_check_config_names_the_first_problem(
    tmp_path: Path, env: dict[str, str], says: str
) -> None:
    result = run("check-config", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert says in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_check_config_summarises_a_valid_configuration_without_secrets(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(
        "SLACK_SIGNING_SECRET=signing-secret-value\nAPPROVALS_CHANNEL=C0APPROVALS\n"
        "SLACK_BOT_TOKEN=xoxb-not-a-real-token\nPASSCODE_BOT_SECRET=" + "A" * 43 + "=\n"
    )
    result = run("check-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Configuration is valid" in result.stdout and "C0APPROVALS" in result.stdout
    assert "xoxb-not-a-real-token" not in result.stdout + result.stderr
    assert "signing-secret-value" not in result.stdout + result.stderr


def test_the_demo_runs_the_whole_story_and_exits_0(tmp_path: Path) -> None:
    result = run("demo", cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    for moment in ("waiting for an approver", "Intune cannot reset a Windows",
                   "cannot approve or deny your own request", "is ready", "Your passcode",
                   "was removed", "Denied by", "expired and was deleted"):
        assert moment in out, moment
    assert "Traceback" not in out + result.stderr
