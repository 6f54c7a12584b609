"""Shared fixtures: a clean environment, a fresh key, a temporary database (SQLite, and through
``database_url`` PostgreSQL too)."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import retry
from bot.config import Settings
from tests import databases

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


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The PostgreSQL server of TEST_DATABASE_URL. Not answering: the tests that need it skip,
    with one line saying why; under CI=true they fail instead (CI must run both stores)."""
    url = databases.server_url()
    problem = databases.unreachable(url)
    if problem is not None:
        message = (f"PostgreSQL not reachable at {databases.describe(url)} "
                   f"(TEST_DATABASE_URL): {problem}")
        if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
            pytest.fail(f"{message}; CI=true needs it", pytrace=False)
        pytest.skip(message)
    databases.drop_stale_schemas(url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test twice: on a SQLite file, and in a fresh schema of its own on the
    PostgreSQL server (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'passcode-bot.db'}"
        return
    server = request.getfixturevalue("postgres_server")
    with databases.fresh_schema(server) as url:
        yield url


@pytest.fixture
def store_settings(secret: str, database_url: str) -> Settings:
    """``settings`` on either database."""
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        passcode_bot_secret=secret,
        database_url=database_url,
    )


def read_db_bytes(db_path: Path) -> bytes:
    """The database file with its WAL and shared-memory files, as raw bytes."""
    data = b""
    for suffix in ("", "-wal", "-shm"):
        path = Path(f"{db_path}{suffix}")
        if path.exists():
            data += path.read_bytes()
    return data
