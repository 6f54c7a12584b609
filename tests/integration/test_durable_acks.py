"""An ack means it is safe, on both databases (the ``database_url`` fixture), over real HTTP:
two fronts on one database as two replicas behind a load balancer, A doing the work too and B
only acking (`role="web"`).

- A listener acks only once its work item is committed: with the inbox refusing writes, a
  command gets no 200 (Slack tries again), and Slack's retry, once the database is back, is
  processed.
- Slack's retries (X-Slack-Retry-Num) are recognised in the database, not in one process's
  memory: a retry of a request processed through A, sent to B, does nothing; a retry of one
  that never arrived anywhere is processed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest

from bot.config import Settings
from bot.storage.dialect import is_postgres_url
from handlers.bootstrap import start
from handlers.demo.driver import SlackDriver
from handlers.demo.slack_emulator import SlackEmulator
from handlers.runtime.inbox import LEASE_S as INBOX_LEASE_S
from handlers.runtime.inbox import RUNNING_AT_ONCE
from handlers.runtime.server import Running
from handlers.views import cards
from tests import databases

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
APPROVALS = "C0APPROVALS"
RETRY = {"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"}


@dataclass
class Pair:
    emu: SlackEmulator
    a: Running  # acks and works
    b: Running  # acks only
    to_a: SlackDriver
    to_b: SlackDriver
    url: str

    def count(self, sql: str) -> int:
        return databases.count(self.url, sql)

    async def settle(self) -> None:
        await self.b.settle()
        await self.a.settle()
        await self.b.settle()  # (B reads the locales A's worker learnt)


@contextlib.asynccontextmanager
async def pair(tmp_path: Path, secret: str, database_url: str) -> AsyncIterator[Pair]:
    roles = tmp_path / "roles.yaml"
    roles.write_text("roles:\n  Helpdesk Operator: [UHELEN]\n", encoding="utf-8")
    async with SlackEmulator() as emu:
        emu.add_channel(APPROVALS, name="passcode-approvals")
        emu.add_user("UALICE", name="alice", email="alice@example.com")
        emu.add_user("UHELEN", name="helen", email="helen@example.com")
        emu.add_user("UKARIN", name="karin", email="karin@example.com", locale="sv-SE")
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            slack_bot_token=emu.token, slack_signing_secret=SIGNING_SECRET,
            slack_api_url=emu.api_url, approvals_channel=APPROVALS, port=0, host="127.0.0.1",
            database_url=database_url, passcode_bot_secret=secret, roles_file=roles)
        a = await start(settings)
        b = await start(settings, role="web")
        try:
            async with SlackDriver(a.url, SIGNING_SECRET, emu) as to_a, \
                    SlackDriver(b.url, SIGNING_SECRET, emu) as to_b:
                yield Pair(emu, a, b, to_a, to_b, database_url)
        finally:
            await b.stop()
            await a.stop()


def click_body(emu: SlackEmulator, user_id: str, action_id: str, value: str) -> str:
    """A button click in the approvals channel, as Slack signs it (sent twice: a retry)."""
    return urlencode({"payload": json.dumps({
        "type": "block_actions", "team": {"id": "T0TEAM"},
        "user": {"id": user_id, "team_id": "T0TEAM"}, "api_app_id": "A0PASSCODE",
        "trigger_id": emu.new_trigger_id(user_id),
        "container": {"type": "message", "message_ts": "0", "channel_id": APPROVALS},
        "channel": {"id": APPROVALS}, "message": {"ts": "0", "text": ""},
        "actions": [{"type": "button", "action_id": action_id, "block_id": "b",
                     "value": value, "action_ts": "1700000000.000001"}]})})


REFUSE = {  # the database refuses every new inbox row (a full disk, a failing replica)
    "sqlite": ["CREATE TRIGGER refuse BEFORE INSERT ON inbox"
               " BEGIN SELECT RAISE(ABORT, 'refused'); END"],
    "postgresql": [
        "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused'; END;"
        " $$ LANGUAGE plpgsql",
        "CREATE TRIGGER refuse BEFORE INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION refuse()"],
}
ALLOW = {"sqlite": ["DROP TRIGGER refuse"], "postgresql": ["DROP TRIGGER refuse ON inbox"]}


async def test_no_ack_until_the_work_is_committed_and_the_retry_is_processed(
        tmp_path: Path, secret: str, database_url: str) -> None:
    async with pair(tmp_path, secret, database_url) as p:
        dialect = p.a.services.store.dialect
        await databases.run_sql_beside(database_url, [(sql, ()) for sql in REFUSE[dialect]])
        body = p.to_b.command_body("UALICE", "reset PIXEL8-ALICE")
        first = await p.to_b.post(body)
        assert first.status >= 500 and "Traceback" not in first.body  # no ack: Slack retries
        await p.settle()
        assert not p.emu.calls_to("response_url") and not p.emu.messages(APPROVALS)

        await databases.run_sql_beside(database_url, [(sql, ()) for sql in ALLOW[dialect]])
        retry = await p.to_b.post(body, headers=RETRY)
        assert retry.status == 200
        await p.settle()
        assert len(p.emu.messages(APPROVALS)) == 1
        assert p.count("SELECT COUNT(*) FROM requests") == 1


async def test_a_retry_on_another_front_of_a_processed_request_does_nothing(
        tmp_path: Path, secret: str, database_url: str) -> None:
    async with pair(tmp_path, secret, database_url) as p:
        body = p.to_a.command_body("UALICE", "reset PIXEL8-ALICE")
        assert (await p.to_a.post(body)).status == 200
        await p.settle()
        assert len(p.emu.calls_to("response_url")) == 1

        retry = await p.to_b.post(body, headers=RETRY)  # Slack never saw the first 200
        assert retry.status == 200 and retry.body == ""
        replay = await p.to_b.post(body)  # the same signed body again, without the header
        assert replay.status == 200
        await p.settle()
        assert len(p.emu.calls_to("response_url")) == 1
        assert len(p.emu.messages(APPROVALS)) == 1
        assert p.count("SELECT COUNT(*) FROM requests") == 1
        assert p.count("SELECT COUNT(*) FROM inbox") == 1


async def test_a_retry_of_a_request_that_never_arrived_is_processed_on_any_front(
        tmp_path: Path, secret: str, database_url: str) -> None:
    async with pair(tmp_path, secret, database_url) as p:
        body = p.to_b.command_body("UALICE", "reset PIXEL8-ALICE")  # the first one was lost
        assert (await p.to_b.post(body, headers=RETRY)).status == 200
        await p.settle()  # B only acks: A's worker runs it
        assert len(p.emu.messages(APPROVALS)) == 1
        request_id = next(b["elements"][0]["value"] for b in p.emu.messages(APPROVALS)[0]["blocks"]
                          if b["type"] == "actions")

        # An approve click processed on B (its work by A) and retried on A: decided once.
        click = click_body(p.emu, "UHELEN", "approve", request_id)
        assert (await p.to_b.post(click)).status == 200
        assert (await p.to_a.post(click, headers=RETRY)).status == 200
        await p.settle()
        assert p.count("SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == 0
        decisions = p.count("SELECT COUNT(*) FROM audit WHERE to_state = 'approved'")
        assert decisions == 1
        app_home = {"type": "app_home_opened", "user": "UALICE", "tab": "home"}
        for driver in (p.to_a, p.to_b):
            assert (await driver.event(app_home, event_id="EvONCE", retry_num=1)).status == 200
        await p.settle()
        assert len(p.emu.calls_to("views.publish")) == 1


@pytest.fixture(autouse=True)
def _quiet_store_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("WARNING")


async def test_a_help_is_answered_in_the_locale_any_process_learnt(
        tmp_path: Path, secret: str, database_url: str) -> None:
    """The front that acks a help asks Slack nothing: the language comes from the database,
    where a worker's users.info put it, whichever replica looked it up and whenever (a front
    reads the new ones every few seconds; ``settle`` reads them at once)."""
    async with pair(tmp_path, secret, database_url) as p:
        p.emu.add_user("USVEN", name="sven", email="sven@example.com", locale="sv-SE")
        p.emu.add_user("UITA", name="ita", email="ita@example.com", locale="it-IT")
        # Sven is looked up by A's worker for a reset (any lookup stores the locale)...
        await p.to_a.command("USVEN", "reset NO-SUCH-DEVICE")
        await p.settle()
        lookups = len(p.emu.calls_to("users.info"))
        # ...so B, which never met him, answers his first help in Swedish, asking Slack nothing
        answer = await p.to_b.command("USVEN", "help")
        assert "ask for a passcode reset" not in answer.body
        assert json.loads(answer.body)["text"] == cards.help_text("sv-SE")
        await p.settle()
        assert len(p.emu.calls_to("users.info")) == lookups

        # A first help of someone nobody looked up: English, and a worker looks them up once;
        # the next help, on either front, is in Italian
        first = await p.to_b.command("UITA", "help")
        assert "ask for a passcode reset" in first.body
        await p.settle()
        assert len(p.emu.calls_to("users.info")) == lookups + 1
        for front in (p.to_b, p.to_a):
            again = await front.command("UITA", "help")
            assert json.loads(again.body)["text"] == cards.help_text("it-IT")
        assert p.count("SELECT COUNT(*) FROM locales WHERE locale = 'it-IT'") == 1


async def test_a_member_s_first_help_is_in_her_language_learnt_at_the_worker_s_start(
        tmp_path: Path, secret: str, database_url: str) -> None:
    """The worker learns every member's locale when it starts (users.list): Karin's first
    help, on the front that only acks, is in Swedish, with no users.info behind it and no
    work item committed for it."""
    async with pair(tmp_path, secret, database_url) as p:
        await p.settle()
        assert p.emu.calls_to("users.list")
        answer = await p.to_b.command("UKARIN", "help")
        assert json.loads(answer.body)["text"] == cards.help_text("sv-SE")
        await p.settle()
        assert p.emu.calls_to("users.info") == []
        assert p.count("SELECT COUNT(*) FROM inbox") == 0
        assert p.count("SELECT COUNT(*) FROM locales") == 3  # alice, helen, karin


async def test_a_forged_request_id_in_a_signed_command_attaches_to_nothing(
        tmp_path: Path, secret: str, database_url: str) -> None:
    """The id a reset's request is stored under is chosen by the listener at the ack: a
    correctly signed command carrying someone else's request id (a field Slack never sends,
    or words in the text) makes a request of its own and leaves the other as it was."""
    async with pair(tmp_path, secret, database_url) as p:
        assert (await p.to_a.command("UALICE", "reset PIXEL8-ALICE")).status == 200
        await p.settle()
        [(alices, requester, device)] = databases.rows(
            database_url, "SELECT id, requester_id, device_name FROM requests")
        forged = p.to_b.command_body("UHELEN", "reset RFCW20N3ABX") + "&" + urlencode(
            {"request_id": alices, "requestId": alices})
        assert (await p.to_b.post(forged)).status == 200
        worded = p.to_b.command_body("UHELEN", f"reset {alices}")
        assert (await p.to_b.post(worded)).status == 200
        await p.settle()
        stored = databases.rows(database_url,
                                "SELECT id, requester_id, device_name FROM requests ORDER BY id")
        assert (alices, requester, device) in stored
        helens = [r for r in stored if r[1] == "UHELEN"]
        assert len(helens) == 1 and helens[0][0] != alices  # (the id is no device: refused)
        assert p.count("SELECT COUNT(*) FROM requests WHERE requester_id = 'UALICE'") == 1


async def test_only_the_replica_that_works_listens_for_work(
        tmp_path: Path, secret: str, database_url: str) -> None:
    """PostgreSQL: B only acks, so the server sends it none of the NOTIFYs every ack and every
    job make (A's LISTEN hears them: B's ack is worked at once)."""
    if not is_postgres_url(database_url):
        pytest.skip("SQLite listens for nothing")
    async with pair(tmp_path, secret, database_url) as p:
        assert (await p.to_b.command("UALICE", "reset PIXEL8-ALICE")).status == 200
        await p.settle()
        assert len(p.emu.messages(APPROVALS)) == 1
        assert databases.listening(database_url, p.a.services.store.database) == 1


async def test_a_worker_claims_no_more_items_than_it_runs_at_once(
        tmp_path: Path, secret: str, database_url: str) -> None:
    """A worker leases only as many items as it runs at once: the rest wait in the inbox,
    unleased, where any worker may take them (a worker killed strands only what it was
    running). Each is answered once, when the slow ones before it have finished."""
    held = "SELECT COUNT(*) FROM inbox WHERE done_at IS NULL AND here = 0 AND {}"
    leased, waiting = held.format("lease_until IS NOT NULL"), held.format("lease_until IS NULL")
    asked = RUNNING_AT_ONCE + 3
    async with pair(tmp_path, secret, database_url) as p:
        p.emu.fail_next("response_url", error=None, delay=1.5, times=asked)  # slow answers
        for n in range(asked):  # (each their own: one person's commands have a limit a minute)
            p.emu.add_user(f"UCLERK{n}", name=f"clerk{n}", email=f"clerk{n}@example.com")
            assert (await p.to_b.command(f"UCLERK{n}", "status")).status == 200
        for _ in range(100):  # A's worker claims them (wait up to 5 s)
            if p.count(leased) >= RUNNING_AT_ONCE:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.3)  # (time for more claims, were any made)
        assert (p.count(leased), p.count(waiting)) == (RUNNING_AT_ONCE, 3)

        await p.settle()
        assert len(p.emu.calls_to("response_url")) == asked
        assert p.count("SELECT COUNT(*) FROM inbox WHERE done_at IS NULL") == 0


async def a_slow_command_running_in_a(p: Pair) -> None:
    """A status command acked by B, which A's worker claims and runs, waiting on a users.info
    that Slack answers slowly: within the client's 10 s, but after A's first renewal."""
    p.emu.fail_next("users.info", error=None, delay=INBOX_LEASE_S / 3 + 2.5)
    assert (await p.to_b.command("UALICE", "status")).status == 200
    running = "SELECT COUNT(*) FROM inbox WHERE done_at IS NULL AND lease_until IS NOT NULL"
    for _ in range(100):  # A's worker claims it (wait up to 5 s)
        if p.count(running) == 1:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("A's worker did not claim the command")


async def test_a_worker_whose_item_was_claimed_by_another_stops_and_marks_nothing_done(
        tmp_path: Path, secret: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A's worker is running a command, waiting on a slow users.info, when another worker
    claims the item (as after a stall of A's past its lease: the claim is made from outside,
    as another replica's SQL makes it). At its next renewal (a third of LEASE_S) A learns its
    claim is over and stops the item where it is: it answers nothing (the other one will)
    and does not mark done what the other runs; the other's lease stands."""
    taken = ("UPDATE inbox SET attempts = attempts + 1, lease_until = ?"
             " WHERE done_at IS NULL AND here = 0")
    far = "2999-01-01T00:00:00.000000+00:00"
    async with pair(tmp_path, secret, database_url) as p:
        caplog.set_level("WARNING", logger="handlers.runtime.inbox")
        await a_slow_command_running_in_a(p)
        await databases.run_sql_beside(database_url, [(taken, (far,))])
        await asyncio.sleep(INBOX_LEASE_S / 3 + 5)  # A's renewal, and the slow answer's end
        await p.settle()
        assert not p.emu.calls_to("response_url")  # nothing said: the run stopped
        assert databases.rows(database_url, "SELECT done_at, lease_until, attempts FROM inbox"
                              ) == [(None, far, 2)]
        assert "another worker claimed it" in caplog.text


async def test_a_worker_that_claims_again_what_it_runs_keeps_running_it(
        tmp_path: Path, secret: str, database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A's worker runs a command, waiting on a slow users.info, when its lease runs out (as
    after a stall of its loop; here set from outside), and its own next claim (woken by a
    second command) takes the item again. The new claim is the one it holds: its renewals go
    on, it finishes the item once and answers once, and nothing is stopped."""
    expired = "UPDATE inbox SET lease_until = '2000-01-01T00:00:00.000000+00:00'" \
              " WHERE done_at IS NULL"
    async with pair(tmp_path, secret, database_url) as p:
        caplog.set_level("WARNING", logger="handlers.runtime.inbox")
        await a_slow_command_running_in_a(p)
        await databases.run_sql_beside(database_url, [(expired, ())])
        assert (await p.to_b.command("UHELEN", "status")).status == 200  # A claims again
        await asyncio.sleep(INBOX_LEASE_S / 3 + 4)  # A's renewal, and the slow answer's end
        await p.settle()
        assert databases.rows(database_url, "SELECT attempts, done_at IS NOT NULL FROM inbox"
                              " ORDER BY id") == [(2, True), (1, True)]
        assert len(p.emu.calls_to("response_url")) == 2  # each answered once
        assert "another worker claimed it" not in caplog.text
