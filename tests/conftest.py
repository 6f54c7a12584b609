"""Shared fixtures: a clean environment, a fresh key, a temporary database."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import retry
from bot.config import Settings

_PREFIXES = ("SLACK_", "AZURE_", "GRAPH_", "PASSCODE_BOT_", "DATABASE_URL", "ROLES_", "BACKEND",
             "FLEET_FILE", "APPROVAL", "APPROVALS_CHANNEL", "PORT", "EXECUTION_", "PERMITTED_",
             "LOG_FORMAT", "PERSON_")


@pytest.fixture(autouse=True, scope="session")
def retry_without_waiting() -> Iterator[None]:
    """Retries wait no real time in tests (bot/retry.py's switch, after stamina's
    set_testing); the delays are still computed and reach any injected sleep."""
    retry.set_testing(True)
    yield
    retry.set_testing(False)


@pytest.fixture(autouse=True)
def clean_environ() -> Iterator[None]:
    """No test sees the developer's own settings."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.upper().startswith(_PREFIXES):
            del os.environ[name]
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def secret() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "passcode-bot.db"


@pytest.fixture
def settings(secret: str, db_path: Path) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        passcode_bot_secret=secret,
        database_url=f"sqlite:///{db_path}",
    )


def read_db_bytes(db_path: Path) -> bytes:
    """The database file with its WAL and shared-memory files, as raw bytes."""
    data = b""
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db_path}{suffix}")
        if path.exists():
            data += path.read_bytes()
    return data
