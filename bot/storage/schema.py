"""The schema of both databases, SQLite and PostgreSQL: numbered migrations, checks that must
pass before one applies, and the code that runs them at start (each in its own transaction,
recorded in ``schema_version``; on PostgreSQL all under one advisory lock, so replicas starting
together take turns).

Adding a migration is adding one entry at the end of MIGRATIONS: SQL both databases accept
(TEXT, INTEGER; ``@ID@`` and ``@BLOB@`` where they differ, see bot/storage/dialect.py), several
statements separated by ``;``. Migrations are only ever added to, and additive (new tables,
columns with defaults, indexes): a replica of the previous release keeps working beside one of
the next while a rolling restart goes on.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.storage.connection import Tx

from bot.storage import legacy_words

MIGRATIONS: list[str] = [
    # 1: requests, audit trail, jobs
    """
    CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        requester_id TEXT NOT NULL,
        requester_email TEXT NOT NULL,
        device_id TEXT NOT NULL,
        device_name TEXT NOT NULL,
        device_serial TEXT NOT NULL,
        device_owner_email TEXT NOT NULL,
        row TEXT NOT NULL,
        scope TEXT NOT NULL,
        expected TEXT,
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        reason TEXT NOT NULL DEFAULT '',
        hint TEXT NOT NULL DEFAULT '',
        warning TEXT NOT NULL DEFAULT '',
        approval_deadline TEXT,
        decided_by TEXT NOT NULL DEFAULT '',
        decided_at TEXT,
        action_ref TEXT NOT NULL DEFAULT '',
        action_started_at TEXT,
        completed_at TEXT,
        passcode_expires_at TEXT,
        has_passcode INTEGER NOT NULL DEFAULT 0,
        sealed_passcode @BLOB@,
        failure_code TEXT NOT NULL DEFAULT '',
        failure_detail TEXT NOT NULL DEFAULT '',
        reveal_count INTEGER NOT NULL DEFAULT 0,
        surface TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX requests_by_state ON requests (state);
    CREATE INDEX requests_by_requester ON requests (requester_id, created_at);
    CREATE INDEX requests_by_device ON requests (device_id, state);
    CREATE INDEX requests_sealed ON requests (passcode_expires_at)"""
    """ WHERE sealed_passcode IS NOT NULL;

    CREATE TABLE audit (
        seq @ID@,
        request_id TEXT NOT NULL,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        from_state TEXT NOT NULL,
        to_state TEXT NOT NULL,
        detail TEXT NOT NULL DEFAULT '',
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE INDEX audit_by_request ON audit (request_id, seq);

    CREATE TABLE jobs (
        id @ID@,
        kind TEXT NOT NULL,
        request_id TEXT NOT NULL,
        event TEXT NOT NULL DEFAULT '',
        run_at TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        lease_until TEXT,
        done_at TEXT,
        dead INTEGER NOT NULL DEFAULT 0,
        last_error TEXT NOT NULL DEFAULT '',
        UNIQUE (kind, request_id, event)
    );
    CREATE INDEX jobs_due ON jobs (run_at) WHERE done_at IS NULL AND dead = 0;
    """,
    # 2: when the backend's action was recorded (it was read from the audit trail before)
    """
    ALTER TABLE requests ADD COLUMN action_recorded_at TEXT;
    UPDATE requests SET action_recorded_at = (
        SELECT at FROM audit WHERE audit.request_id = requests.id
        AND audit.action = 'backend_action' ORDER BY seq DESC LIMIT 1
    ) WHERE action_ref != '';
    """,
    # 3: at most one open request per device, enforced by the database itself (the service's
    # check before the insert is only the fast path: two requests racing both pass it)
    """
    CREATE UNIQUE INDEX requests_one_open_per_device ON requests (device_id)
        WHERE state IN ('awaiting_approval', 'approved', 'executing');
    """,
    # 4: words are not stored, codes are: which rule refused and its values, a warning's code,
    # our own failure words' code (the data step, DATA_STEPS[4], converts the English rows)
    """
    ALTER TABLE requests ADD COLUMN refusal TEXT NOT NULL DEFAULT '';
    ALTER TABLE requests ADD COLUMN refusal_params TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE requests ADD COLUMN warning_params TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE requests ADD COLUMN failure_params TEXT NOT NULL DEFAULT '{}';
    """,
    # 5: the device's primary user by directory id (NULL: a request stored before), the
    # requester's, and who can approve
    """
    ALTER TABLE requests ADD COLUMN device_owner_id TEXT;
    ALTER TABLE requests ADD COLUMN requester_principal TEXT NOT NULL DEFAULT '';
    ALTER TABLE requests ADD COLUMN approver_roles TEXT NOT NULL DEFAULT '';
    ALTER TABLE requests ADD COLUMN approver_people TEXT NOT NULL DEFAULT '';
    """,
    # 6: the write budget every process shares (Intune: 200 writes / 20 s per app, issue 12).
    # Portable SQL (SQLite and PostgreSQL): one row per slot taken, dropped once out of window.
    """
    CREATE TABLE write_budget (
        bucket TEXT NOT NULL,
        taken_at TEXT NOT NULL
    );
    CREATE INDEX write_budget_by_bucket ON write_budget (bucket, taken_at);
    """,
    # the job runners' heartbeats (GET /readyz: is some worker alive?), a row per runner
    """
    CREATE TABLE worker_beats (
        id TEXT PRIMARY KEY,
        host TEXT NOT NULL DEFAULT '',
        pid INTEGER NOT NULL DEFAULT 0,
        started_at TEXT NOT NULL DEFAULT '',
        beat_at TEXT NOT NULL DEFAULT ''
    );
    """,
    # the simulated Intune's resets, shared by every process on the database (issue 13 point
    # 5; bot/storage/simulation.py): the passcode only ever sealed, as the requests' are
    """
    CREATE TABLE simulated_resets (
        ref TEXT PRIMARY KEY,
        device_key TEXT NOT NULL,
        device_id TEXT NOT NULL,
        started_at TEXT NOT NULL,
        state TEXT NOT NULL,
        failure_code TEXT NOT NULL DEFAULT '',
        failure_detail TEXT NOT NULL DEFAULT '',
        sealed_passcode @BLOB@
    );
    CREATE INDEX simulated_resets_by_device ON simulated_resets (device_key, started_at);
    CREATE INDEX simulated_resets_sealed ON simulated_resets (started_at)"""
    """ WHERE sealed_passcode IS NOT NULL;
    """,
    # the durable inbox (issue 13): each command, click or submission's work item, committed
    # before its ack; ``delivery`` recognises Slack's retries on any replica. ``here``: the
    # acking process runs it itself (a trigger's 3 s), leased to it from the insert.
    """
    CREATE TABLE inbox (
        id @ID@,
        delivery TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL DEFAULT '',
        item TEXT NOT NULL DEFAULT '{}',
        here INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL DEFAULT '',
        lease_until TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        done_at TEXT
    );
    CREATE INDEX inbox_waiting ON inbox (id) WHERE done_at IS NULL;
    """,
    # each person's Slack locale as a worker's users.info last said it: the processes that ack
    # read the new ones every few seconds, so a help is answered in the person's language on
    # any replica without asking Slack there
    """
    CREATE TABLE locales (
        user_id TEXT PRIMARY KEY,
        locale TEXT NOT NULL DEFAULT '',
        learned_at TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX locales_by_time ON locales (learned_at);
    """,
    # 11: each claim of a job is numbered: a runner renews, finishes, retries or defers the job
    # only while the claim it holds is the latest, so one whose lease ran out while it stalled
    # changes nothing of what the next holder is doing (bot/storage/jobs.py)
    """
    ALTER TABLE jobs ADD COLUMN claims INTEGER NOT NULL DEFAULT 0;
    """,
    # 12: when a worker last walked users.list to its end (handlers/runtime/inline.py): one
    # started again within a day (a crash loop, a rolling restart) does not walk it again
    """
    CREATE TABLE locale_walks (
        id INTEGER PRIMARY KEY,
        finished_at TEXT NOT NULL DEFAULT ''
    );
    """,
]

# Steps in Python run after a migration's SQL, in the same transaction (data no SQL can convert).
DATA_STEPS: dict[int, Callable[[Tx], Awaitable[None]]] = {
    4: legacy_words.convert,
}

# The open states as SQL (bot.domain.OPEN_STATES), as migration 3's index spells them.
OPEN_SQL = "('awaiting_approval', 'approved', 'executing')"

# Checks run before a migration, in the same transaction: a query whose rows mean the migration
# cannot apply, and the one-line message naming them. Plain SQL, as the migrations are.
PRECHECKS: dict[int, tuple[str, str]] = {
    3: (
        f"SELECT device_id, id, state FROM requests WHERE state IN {OPEN_SQL} AND device_id IN ("
        f" SELECT device_id FROM requests WHERE state IN {OPEN_SQL}"
        " GROUP BY device_id HAVING COUNT(*) > 1) ORDER BY device_id, created_at, id",
        "the database holds more than one open request for one device ({found}); a device may "
        "have only one. Keep one per device (deny, cancel or finish the others with the "
        "version that wrote them), then start this version again. Nothing was changed.",
    ),
}


class StoreError(Exception):
    """The database cannot be used as it is (e.g. a migration cannot apply); one line."""


Transact = Callable[[Callable[["Tx"], Awaitable[None]]], Awaitable[None]]


async def migrate(transact: Transact) -> None:
    """Apply every migration the database has not had yet, each all or nothing, each in a
    transaction of ``transact`` (which reads the version again: another process may have
    applied it meanwhile)."""

    async def versions(tx: Tx) -> None:
        await tx.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")

    await transact(versions)
    for version, script in enumerate(MIGRATIONS, start=1):

        async def step(tx: Tx, version: int = version, script: str = script) -> None:
            row = await tx.fetchone("SELECT MAX(version) AS v FROM schema_version")
            if version <= ((row["v"] if row else None) or 0):
                return
            await _precheck(tx, version)
            for statement in tx.dialect.render(script):
                await tx.execute(statement)
            if version in DATA_STEPS:
                await DATA_STEPS[version](tx)
            await tx.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))

        await transact(step)


async def _precheck(tx: Tx, version: int) -> None:
    check = PRECHECKS.get(version)
    if check is None:
        return
    sql, message = check
    rows = await tx.fetch(sql)
    if rows:
        by_device: dict[str, list[str]] = {}
        for row in rows:
            by_device.setdefault(row["device_id"], []).append(f"{row['id']} {row['state']}")
        found = "; ".join(f"device {d}: {', '.join(ids)}" for d, ids in by_device.items())
        raise StoreError(f"cannot apply database migration {version}: "
                         + message.format(found=found))
