"""Fixtures for tests against the Graph emulator over real HTTPS with a session test CA."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from bot.backends.graph import GraphBackend
from bot.backends.graph_http import GraphClient
from bot.clock import ManualClock
from bot.config import Settings
from bot.ports import Clock
from bot.retry import GRAPH, Backoff
from bot.roles_graph import GraphRoleDirectory
from tests.fakes.graph_api import GraphEmulator, TestCA, make_test_ca

EmulatorFactory = Callable[..., Awaitable[GraphEmulator]]


class RecordingSleep:
    """An injectable sleep that records each delay and returns at once."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)
        await asyncio.sleep(0)


@pytest.fixture(scope="session")
def graph_ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    """One throwaway CA for the whole session."""
    return make_test_ca(tmp_path_factory.mktemp("graph-ca"))


@pytest.fixture
def trust_graph_ca(graph_ca: TestCA, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the CA-bundle variables (which this machine sets) at the test CA, the way a
    deployment behind a corporate CA would."""
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.setenv(name, str(graph_ca.ca_bundle))
    yield graph_ca.ca_bundle


@pytest.fixture
async def make_emulator(graph_ca: TestCA, trust_graph_ca: Path) -> AsyncIterator[EmulatorFactory]:
    """Start emulators on demand; all are stopped at the end of the test."""
    started: list[GraphEmulator] = []

    async def make(devices: list[dict[str, Any]] | None = None, **kwargs: Any) -> GraphEmulator:
        emulator = GraphEmulator.with_test_ca(devices or [], ca=graph_ca, **kwargs)
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.stop()


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def settings_for(emulator: GraphEmulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {**emulator.settings_overrides(), **overrides}
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
async def make_backend(
    sleep: RecordingSleep,
) -> AsyncIterator[Callable[..., GraphBackend]]:
    """GraphBackends on an emulator, closed at the end of the test."""
    made: list[GraphBackend] = []

    def make(
        emulator: GraphEmulator,
        *,
        clock: Clock | None = None,
        retry: Backoff | None = None,
        **kwargs: Any,
    ) -> GraphBackend:
        graph = GraphClient.from_settings(
            settings_for(emulator, **kwargs.pop("settings", {})),
            clock=clock,
            sleep=sleep,
            retry=retry or replace(GRAPH, attempts=4),
            ca_bundle=kwargs.pop("ca_bundle", None),
        )
        backend = GraphBackend(graph, clock=clock, **kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        await backend.aclose()
        await backend.graph.aclose()


@pytest.fixture
async def make_directory(
    sleep: RecordingSleep,
) -> AsyncIterator[Callable[..., GraphRoleDirectory]]:
    """GraphRoleDirectories on an emulator, closed at the end of the test."""
    made: list[GraphRoleDirectory] = []

    def make(emulator: GraphEmulator, **kwargs: Any) -> GraphRoleDirectory:
        graph = GraphClient.from_settings(
            settings_for(emulator), sleep=sleep,
            retry=kwargs.pop("retry", replace(GRAPH, attempts=3, max_wait=10.0)),
            clock=kwargs.get("clock"),
        )
        directory = GraphRoleDirectory(graph, **kwargs)
        made.append(directory)
        return directory

    yield make
    for directory in made:
        await directory.graph.aclose()
