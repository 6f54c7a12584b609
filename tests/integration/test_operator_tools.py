"""rotate-key, audit verify / export, and the log redaction filter."""

from __future__ import annotations

import base64
import csv
import io
import json
import logging
import os
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot import cli, logs
from bot.config import Settings
from bot.service import Outcome
from tests.conftest import read_db_bytes
from tests.integration.test_workflow import ALICE, ANNA, World, on_screen, world  # noqa: F401


@pytest.fixture
def database_url(db_path: Path) -> str:
    """SQLite only: these tests damage the file beside the store."""
    return f"sqlite:///{db_path}"


async def completed_request(world: World) -> tuple[str, str]:  # noqa: F811
    reply = await world.service.request_reset(ALICE, "PIXEL8-ALICE")
    await world.service.decide(reply.request.id, ANNA, approve=True)
    await world.services.runner.drain()
    shown = await world.service.reveal(reply.request.id, ALICE, on_screen)
    assert shown.passcode
    return reply.request.id, shown.passcode


async def test_rotate_key_reseals_every_passcode_without_losing_one(
    world: World, settings: Settings, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    request_id, passcode = await completed_request(world)
    await world.services.aclose()
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    rotated = settings.model_copy(update={
        "passcode_bot_secret": SecretStr(new),
        "passcode_bot_old_secrets": settings.passcode_bot_secret,
    })
    assert await cli.rotate_key(rotated) == 0
    assert "Re-sealed 1 passcode" in capsys.readouterr().out
    from bot.bootstrap import build_vault
    from bot.storage import Store

    only_new = settings.model_copy(update={"passcode_bot_secret": SecretStr(new)})
    store = await Store.open(settings.database_path)
    try:
        sealed = await store.sealed_passcode(request_id)
        assert build_vault(only_new).unseal(request_id, sealed) == passcode
    finally:
        await store.close()


async def test_rotate_key_without_the_old_key_changes_nothing(
    world: World, settings: Settings, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    request_id, _ = await completed_request(world)
    before = await world.services.store.sealed_passcode(request_id)
    await world.services.aclose()
    new = base64.urlsafe_b64encode(os.urandom(32)).decode()
    assert await cli.rotate_key(
        settings.model_copy(update={"passcode_bot_secret": SecretStr(new)})
    ) == 1
    assert "nothing was changed" in capsys.readouterr().err
    with sqlite3.connect(settings.database_path) as db:
        after = db.execute("SELECT sealed_passcode FROM requests WHERE id = ?",
                           (request_id,)).fetchone()[0]
    assert after == before


def tamper(db_path: str, sql: str) -> None:
    with sqlite3.connect(db_path) as db:
        db.executescript(sql)


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("UPDATE audit SET actor = 'UMALLORY' WHERE seq = 3", "was altered"),
        ("DELETE FROM audit WHERE seq = 2", "does not follow"),
        (
            "UPDATE audit SET seq = -2 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 3;"
            " UPDATE audit SET seq = 3 WHERE seq = -2",
            "does not follow",
        ),
    ],
    ids=["edited", "deleted", "reordered"],
)
async def test_audit_verify_detects_tampering(
    world: World, settings: Settings, capsys: pytest.CaptureFixture[str], sql: str, problem: str,  # noqa: F811
) -> None:
    await completed_request(world)
    await world.services.aclose()
    assert await cli.audit_verify(settings) == 0
    assert "intact" in capsys.readouterr().out
    tamper(settings.database_path, sql)
    assert await cli.audit_verify(settings) == 1
    assert problem in capsys.readouterr().err


async def test_audit_export_answers_who_what_which_device_when_outcome(
    world: World, settings: Settings, capsys: pytest.CaptureFixture[str]  # noqa: F811
) -> None:
    request_id, _ = await completed_request(world)
    await world.services.aclose()
    assert await cli.audit_export(settings, None, "jsonl") == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    approved = next(r for r in rows if r["to_state"] == "approved")
    assert approved["actor"] == "UANNA" and approved["requester"] == "UALICE"
    assert approved["device_name"] == "PIXEL8-ALICE" and approved["request_id"] == request_id
    assert await cli.audit_export(settings, "2999-01-01", "csv") == 0
    header = next(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert header[:3] == ["at", "request_id", "action"]
    assert await cli.audit_export(settings, "last tuesday", "csv") == 2


def test_the_redaction_filter_scrubs_tokens_and_known_passcodes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    logs.remember("73519264")
    handler = caplog.handler
    handler.addFilter(logs.RedactingFilter())
    log = logging.getLogger("a.future.change")
    log.warning("passcode is %s for %r", "73519264", {"token": "xoxb-123-456-abc"})
    log.warning("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig")
    log.warning("form client_secret=s3cr3t-value&x=1 and passcode: 99887766")
    try:
        raise ValueError("failed with passcode 73519264")
    except ValueError:
        log.exception("boom")
    text = caplog.text + "".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for secret in ("73519264", "xoxb-123-456-abc", "eyJhbGciOiJIUzI1NiJ9", "s3cr3t-value",
                   "99887766"):
        assert secret not in text, secret
    assert "[redacted]" in text


async def test_no_passcode_in_the_database_or_logs_through_a_whole_lifecycle(
    world: World, db_path: Path, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    caplog.set_level(logging.DEBUG)
    _, passcode = await completed_request(world)
    unknown = await world.service.reveal("PR-NOSUCH", ALICE, on_screen)
    assert unknown.outcome is Outcome.UNKNOWN_REQUEST
    assert passcode.encode() not in read_db_bytes(db_path)
    assert passcode not in caplog.text


async def test_a_passcode_purged_while_the_key_rotates_stays_purged(
    world: World, settings: Settings  # noqa: F811
) -> None:
    """rotate-key reads every sealed value, then writes the new ones: a purge (or any new
    seal) landing in between is not undone, the old ciphertext does not come back."""
    from bot.storage import Store

    request_id, _ = await completed_request(world)
    await world.services.aclose()
    store = await Store.open(settings.database_path)
    try:
        [(rid, read)] = await store.sealed_all()
        await store.database.execute(  # the purge, between the read and the write
            "UPDATE requests SET sealed_passcode = NULL WHERE id = ?", (rid,))
        await store.reseal([(rid, read, b"resealed")])
        assert await store.sealed_passcode(request_id) is None
        await store.database.execute(
            "UPDATE requests SET sealed_passcode = ? WHERE id = ?", (read, rid))
        await store.reseal([(rid, read, b"resealed")])  # still the value read: replaced
        assert await store.sealed_passcode(request_id) == b"resealed"
    finally:
        await store.close()
