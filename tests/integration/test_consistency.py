"""`passcode-bot check-db` (bot/consistency.py): a database the bot itself wrote is consistent,
and each kind of damage, made by hand with sqlite3 on the real file, is caught."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.consistency import check
from bot.domain import State
from bot.service import Outcome, Person
from bot.storage import Store
from handlers.cli import main
from tests.integration.test_workflow import ALICE, ANNA, BOB, World, on_screen, world  # noqa: F401

CAROL = Person("UCAROL", "carol@example.com", "Carol")
DAVE = Person("UDAVE", "dave@example.com", "Dave")

Ids = dict[str, str]
Damage = Callable[[sqlite3.Connection, Ids], None]


@pytest.fixture
def database_url(db_path: Path) -> str:
    """SQLite only: these tests damage the file beside the store."""
    return f"sqlite:///{db_path}"


async def _request(world: World, person: Person, device: str) -> str:  # noqa: F811
    reply = await world.service.request_reset(person, device)
    assert reply.outcome is Outcome.CREATED, reply.message
    assert reply.request is not None
    return str(reply.request.id)


async def build(world: World) -> Ids:  # noqa: F811
    """A database in every kind of state, written by the bot itself; then the bot stops."""
    service, runner = world.service, world.services.runner
    ids = {
        "revealed": await _request(world, ALICE, "PIXEL8-ALICE"),
        "ios": await _request(world, ALICE, "Alice's iPhone"),
        "denied": await _request(world, BOB, "NAVIGATOR-BOB"),
        "waiting": await _request(world, DAVE, "SM-G930F-DAVE"),
        "executing": await _request(world, CAROL, "RFCW20N3ABX"),
    }
    await service.decide(ids["revealed"], ANNA, approve=True)
    await service.decide(ids["ios"], ANNA, approve=True)
    await service.decide(ids["denied"], ANNA, approve=False)
    await runner.drain()
    assert (await service.reveal(ids["revealed"], ALICE, on_screen)).outcome is Outcome.SHOWN
    # Claimed for execution (as execute() does first) but not run: the execute job stays queued.
    await service.decide(ids["executing"], ANNA, approve=True)
    now = world.clock.now()
    claimed = await world.services.store.transition(
        ids["executing"], State.EXECUTING, actor="passcode-bot", at=now,
        changes={"action_started_at": now},
    )
    assert claimed is not None
    store = world.services.store
    states = {k: r.state for k, v in ids.items() if (r := await store.get(v)) is not None}
    assert states == {
        "revealed": State.REVEALED, "ios": State.COMPLETED, "denied": State.DENIED,
        "waiting": State.AWAITING_APPROVAL, "executing": State.EXECUTING,
    }
    await world.services.aclose()
    return ids


async def problems_in(db: Path) -> list[str]:
    store = await Store.open(str(db))
    try:
        return await check(store)
    finally:
        await store.close()


@pytest.fixture
def cli_logging() -> Iterator[None]:
    """The CLI sets up root logging on the captured stderr; put the test's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def check_db_command() -> int:
    """`passcode-bot check-db`, off the test's event loop (it runs one of its own)."""
    return await asyncio.to_thread(main, ["check-db"])


def damage(db: Path, ids: Ids, how: Damage) -> None:
    with sqlite3.connect(db) as connection:
        how(connection, ids)
    connection.close()


def _sql(statement: str, *params: str) -> Damage:
    """One UPDATE/INSERT/DELETE; a parameter naming a request of ``build`` is its id."""

    def apply(connection: sqlite3.Connection, ids: Ids) -> None:
        connection.execute(statement, [ids.get(p, p) for p in params])

    return apply


NOW = datetime.now(UTC).isoformat(timespec="microseconds")

CASES: list[tuple[str, Damage, str, str]] = [
    ("sealed passcode lost",
     _sql("UPDATE requests SET sealed_passcode = NULL WHERE id = ?", "revealed"),
     "revealed", "the sealed passcode is missing"),
    ("sealed passcode in a denied request",
     _sql("UPDATE requests SET sealed_passcode = x'01' WHERE id = ?", "denied"),
     "denied", "a sealed passcode is stored although the request is denied"),
    ("sealed passcode without has_passcode",
     _sql("UPDATE requests SET sealed_passcode = x'01' WHERE id = ?", "ios"),
     "ios", "has_passcode is false"),
    ("passcode without expiry",
     _sql("UPDATE requests SET passcode_expires_at = NULL WHERE id = ?", "revealed"),
     "revealed", "no expiry time"),
    ("executing without action_started_at",
     _sql("UPDATE requests SET action_started_at = NULL WHERE id = ?", "executing"),
     "executing", "without action_started_at"),
    ("executing without decided_by",
     _sql("UPDATE requests SET decided_by = '' WHERE id = ?", "executing"),
     "executing", "without decided_by"),
    ("approved without decided_by",
     _sql("UPDATE requests SET decided_by = '' WHERE id = ?", "revealed"),
     "revealed", "without decided_by"),
    ("audit event edited",
     _sql("UPDATE audit SET detail = 'edited' WHERE seq = 3"),
     "", "hash chain is broken: event 3 was altered"),
    ("state differs from the audit trail",
     _sql("UPDATE requests SET state = 'completed' WHERE id = ?", "revealed"),
     "revealed", "its audit trail ends in revealed"),
    ("no audit trail",
     _sql("DELETE FROM audit WHERE request_id = ?", "waiting"),
     "waiting", "has no audit trail"),
    ("audit events of a missing request",
     _sql("DELETE FROM requests WHERE id = ?", "denied"),
     "denied", "audit events for a request that does not exist"),
    ("execute job pending after completion",
     _sql("UPDATE jobs SET done_at = NULL WHERE kind = 'execute' AND request_id = ?", "revealed"),
     "revealed", "pending execute job"),
    ("result notification before a result",
     _sql("INSERT INTO jobs (kind, request_id, event, run_at) VALUES ('notify', ?, 'result', ?)",
          "waiting", NOW),
     "waiting", "pending notify/result job"),
    ("executing with no execute job",
     _sql("UPDATE jobs SET done_at = ? WHERE kind = 'execute' AND request_id = ?",
          NOW, "executing"),
     "executing", "no execute job is queued"),
    ("job given up",
     _sql("UPDATE jobs SET done_at = NULL, dead = 1, last_error = 'SlackApiError'"
          " WHERE kind = 'notify' AND event = 'result' AND request_id = ?", "ios"),
     "ios", "was given up after"),
    ("job for a missing request",
     _sql("INSERT INTO jobs (kind, request_id, event, run_at)"
          " VALUES ('notify', 'PR-NOSUCH', 'decided', ?)", NOW),
     "", "PR-NOSUCH: pending notify/decided job"),
]


async def test_a_database_the_bot_wrote_is_consistent(
    world: World, db_path: Path  # noqa: F811
) -> None:
    await build(world)
    assert await problems_in(db_path) == []


@pytest.mark.parametrize(("how", "key", "expected"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
async def test_each_kind_of_damage_is_caught(
    world: World, db_path: Path, how: Damage, key: str, expected: str  # noqa: F811
) -> None:
    ids = await build(world)
    damage(db_path, ids, how)
    problems = await problems_in(db_path)
    found = [p for p in problems if expected in p]
    assert found, problems
    if key:
        assert all(p.startswith(ids[key]) for p in found), found


async def test_check_db_command_exits_0_when_consistent_and_1_listing_problems(
    world: World, db_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
    capsys: pytest.CaptureFixture[str], cli_logging: None,
) -> None:
    ids = await build(world)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db_path}")
    with sqlite3.connect(db_path) as connection:
        events = connection.execute("SELECT COUNT(*) FROM audit").fetchone()[0]
    connection.close()

    assert await check_db_command() == 0
    assert capsys.readouterr().out.strip() == (
        f"Database consistent: 5 requests, {events} audit events"
    )

    damage(db_path, ids, _sql("UPDATE requests SET sealed_passcode = NULL WHERE id = ?",
                              "revealed"))
    assert await check_db_command() == 1
    err = capsys.readouterr().err
    assert "Database NOT consistent: 1 problem(s)" in err
    assert f"  - {ids['revealed']}: revealed with a passcode" in err


def test_check_db_command_refuses_a_missing_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    cli_logging: None,
) -> None:
    missing = tmp_path / "nowhere.db"
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{missing}")
    assert main(["check-db"]) == 2
    assert "no database at" in capsys.readouterr().err
    assert not missing.exists()
