"""Hostile input against the real running app over HTTP.

Whatever arrives at POST /slack/events — random slash-command text, forged or broken button clicks,
options loads, view submissions, malformed bodies, unknown events, bad signatures, replays — the
app must:

* answer below 500, and within Slack's 3 seconds (the ack arrives);
* change nothing: the ``requests`` and ``audit`` tables are byte-for-byte the same (read with
  sqlite3 straight from the database file);
* post and update nothing in the approvals channel;
* echo no live notification taken from the input (``<!channel>``, ``<!here>``, ``<@U…>``, ``<#C…>``,
  ``<http…|…>``) in anything it sends to Slack or answers over HTTP;
* log no unexpected exception (see ``unexpected`` below for the rule);
* still work afterwards: GET /healthz is 200 and ``/passcode reset PIXEL8-ALICE`` posts exactly one
  approval message.

How it runs: each test function starts one stack (``make_stack``: the app, the Slack emulator, the
simulated fleet) on its own event-loop thread (``LiveStack``) and drives many hypothesis examples
against it from a synchronous ``@given`` function; each example is one coroutine run on that loop.

The logging rule, decided here: hostile input may make *Slack* refuse the bot's follow-up calls
(an unknown user id, a forged trigger_id or channel). The listeners catch that on purpose and log it
— the apology path ``… failed (ref …)``, ``could not tell the person about a failure``, ``device
options failed`` — with a ``SlackApiError`` or ``NotAMember`` attached. Any other ERROR
record from the ``handlers``, ``bot``, ``slack_bolt``, ``aiohttp`` or ``asyncio`` loggers, or one
of those deliberate messages carrying any other exception (TypeError, KeyError, JSONDecodeError
…), means our code broke on the input, and the test fails.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import re
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from slack_sdk.errors import SlackApiError

from bot.domain import State
from handlers.demo.driver import Answer
from handlers.slack.identity import NotAMember
from tests.scenario.harness import APPROVALS, SIGNING_SECRET, USERS, Stack, make_stack
from tests.scenario.test_happy_paths import approval_request_id

T = TypeVar("T")

ACK_WITHIN_S = 3.0
EXAMPLES = 60  # per hypothesis test; the whole file runs in ~15 s on 2 cores
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,  # nothing written into the shared work tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FORM = "application/x-www-form-urlencoded"

NO_ROLE = ["UALICE", "UDAVE", "UERIN", "UMALLORY"]
STRANGERS = ["UNOBODY", "U0000000", "", "UBOT", "W0ENTERPRISE"]
KNOWN_USERS = set(USERS) | {"UBOT"}
ACTIONS = ["approve", "deny", "cancel", "reveal", "device_pick"]


# -- capturing what the listeners log -----------------------------------------------------

WATCHED = ("handlers", "bot", "slack_bolt", "aiohttp", "asyncio")
DELIBERATE = (
    re.compile(r" failed \(ref [0-9a-f]{8}\)$"),  # the work's apology with a reference id
    re.compile(r"^could not tell the person about a failure$"),
    re.compile(r"^device options failed$"),
)


class ErrorLog(logging.Handler):
    """Every ERROR record from the watched loggers, from any thread."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []
        self._lock_records = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(WATCHED):
            with self._lock_records:
                self.records.append(record)

    def since(self, mark: int) -> list[logging.LogRecord]:
        with self._lock_records:
            return self.records[mark:]


def unexpected(record: logging.LogRecord) -> bool:
    """An ERROR that is not one of the listeners' deliberate, handled paths (module docstring)."""
    error = record.exc_info[1] if record.exc_info else None
    deliberate = any(p.search(record.getMessage()) for p in DELIBERATE)
    return not (deliberate and isinstance(error, (SlackApiError, NotAMember)))


def describe(records: list[logging.LogRecord]) -> str:
    return "\n".join(
        f"{r.name}: {r.getMessage()} "
        f"[{type(r.exc_info[1]).__name__ if r.exc_info and r.exc_info[1] else '-'}]"
        for r in records
    )


@pytest.fixture
def errors() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# -- the real app on its own event loop ---------------------------------------------------


def sign_bytes(body: bytes, timestamp: str) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(SIGNING_SECRET.encode(), base, hashlib.sha256).hexdigest()


async def post_raw(stack: Stack, body: bytes, headers: dict[str, str]) -> Answer:
    """POST exactly these bytes and headers (no signing, no defaults)."""
    async with aiohttp.ClientSession() as session, session.post(
        stack.driver.url, data=body, headers=headers
    ) as resp:
        return Answer(resp.status, await resp.text(errors="replace"), dict(resp.headers))


async def post_signed(stack: Stack, body: bytes, content_type: str) -> Answer:
    ts = str(int(time.time()))
    return await post_raw(stack, body, {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": sign_bytes(body, ts),
    })


def db_state(path: Path) -> tuple[int, int, str]:
    """(requests, audit events, a hash of both tables), read with sqlite3 from the file."""
    digest = hashlib.sha256()
    counts = []
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        for table, order in (("requests", "id"), ("audit", "seq")):
            rows = db.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()
            counts.append(len(rows))
            digest.update(repr(rows).encode())
    return counts[0], counts[1], digest.hexdigest()


# `<!…>` and `<#…>` notify or link; `<@U…>` is fine only for a real user the app itself names.
LIVE_MARKUP = re.compile(
    r"<(?:[!#]|@(?!(?:{})>)|https?:|mailto:)".format("|".join(sorted(KNOWN_USERS)))
)


def live_markup(text: str) -> list[str]:
    """Unescaped Slack control sequences that would notify people or make a link."""
    return [text[m.start(): m.start() + 40] for m in LIVE_MARKUP.finditer(text)]


class Observed:
    """A running stack plus the checks every hostile request must pass."""

    stack: Stack
    errors: ErrorLog
    db: Path

    async def changes_nothing(self, send: Callable[[], Awaitable[Answer]]) -> Answer:
        """Send one hostile request and check every 'changes nothing' property around it."""
        stack = self.stack
        await stack.settle()
        before, calls, logged = db_state(self.db), len(stack.emu.calls), len(self.errors.records)
        approvals = len(stack.approvals())
        answer = await asyncio.wait_for(send(), ACK_WITHIN_S)
        await stack.settle()

        assert answer.status < 500, f"HTTP {answer.status}: {answer.body[:200]}"
        assert db_state(self.db) == before, "the requests or audit table changed"
        sent = stack.emu.calls[calls:]
        to_approvals = [c.method for c in sent if c.method in {"chat.postMessage", "chat.update"}
                        and c.params.get("channel") == APPROVALS]
        assert not to_approvals and len(stack.approvals()) == approvals, to_approvals
        outgoing = answer.body + "".join(json.dumps(c.params, ensure_ascii=False) for c in sent)
        assert not live_markup(outgoing), live_markup(outgoing)
        bad = [r for r in self.errors.since(logged) if unexpected(r)]
        assert not bad, describe(bad)
        return answer

    async def healthy(self) -> None:
        """GET /healthz answers 200 and a normal request still posts one approval message."""
        stack = self.stack
        async with aiohttp.ClientSession() as session, session.get(
            stack.bot.url + "/healthz"
        ) as resp:
            assert resp.status == 200
        await stack.settle()
        approvals = len(stack.approvals())
        answer = await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
        assert answer.status == 200
        await stack.settle()
        assert len(stack.approvals()) == approvals + 1
        [request] = [r for r in await stack.store.by_requester("UALICE")
                     if r.state is State.AWAITING_APPROVAL]
        assert request.device_name == "PIXEL8-ALICE"
        bad = [r for r in self.errors.records if unexpected(r)]
        assert not bad, describe(bad)


class LiveStack(Observed):
    """One make_stack() running on a dedicated event-loop thread; run(coro) executes there."""

    def __init__(self, tmp_path: Path, secret: str, errors: ErrorLog,
                 kind: str = "simulated") -> None:
        self.errors = errors
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="live-stack",
                                        daemon=True)
        self._thread.start()
        ready: asyncio.Future[Stack] = self.loop.create_future()
        self._stopping = asyncio.Event()

        async def host() -> None:
            """Runs make_stack() to the end inside one task: its cleanup runs when we stop."""
            try:
                async for stack in make_stack(tmp_path, secret, kind=kind):
                    ready.set_result(stack)
                    await self._stopping.wait()
            except BaseException as exc:
                if not ready.done():
                    ready.set_exception(exc)
                raise

        async def start() -> Stack:
            self._host = asyncio.create_task(host(), name="live-stack host")
            return await ready

        self.stack = self.run(start())
        self.db = Path(self.stack.bot.services.settings.database_path)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        async def stop() -> None:
            self._stopping.set()
            await self._host  # make_stack's finally: bot.stop(), emulator, driver
            # What asyncio.run() does on the way out: cancel what is left (the job runner's
            # loops), then close async generators.
            left = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in left:
                task.cancel()
            await asyncio.gather(*left, return_exceptions=True)
            await self.loop.shutdown_asyncgens()

        try:
            self.run(stop())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            self.loop.close()


@pytest.fixture
def live(tmp_path: Path, secret: str, errors: ErrorLog) -> Iterator[LiveStack]:
    started = LiveStack(tmp_path, secret, errors)
    try:
        yield started
    finally:
        started.close()


async def requests_of_others(stack: Stack) -> list[str]:
    """Two real requests nobody in NO_ROLE may touch: Bob's pending, Carol's completed."""
    await stack.driver.command("UBOB", "reset NAVIGATOR-BOB")
    await stack.settle()
    pending = approval_request_id(stack)
    await stack.driver.command("UCAROL", "reset RFCW20N3ABX")
    await stack.settle()
    completed = approval_request_id(stack)
    await stack.driver.click("UANNA", "approve", completed, channel_id=APPROVALS)
    await stack.settle()
    assert (await stack.store.get(pending)).state is State.AWAITING_APPROVAL
    assert (await stack.store.get(completed)).state is State.COMPLETED
    return [pending, completed]


# -- strategies ----------------------------------------------------------------------------

FRAGMENTS = [
    "<!channel>", "<!here>", "<!everyone>", "<@UEVIL>", "<@U0HOSTILE|admin>", "<#C0SECRET>",
    "<!subteam^S0ADMINS>", "<https://evil.example/login|Show passcode>", "<mailto:x@evil.example>",
    "&", "&amp;", "&lt;", "&gt;", "<", ">", "*bold*", "`code`", "```", "> quote",
    "\u202e", "\u200f", "\u200b", "\ufeff", "\x00", "\x1b[31m", "\r\n", "\t", "\x7f",
    "💥", "👨‍👩‍👧", "ﷺ", "Z̤͔ͧ̑̓", "مرحبا", "שָׁלוֹם", "ß", "İ",
    "'; DROP TABLE requests; --", "%s%n", "{0}{request}", "${jndi:ldap://x}", "../../etc/passwd",
    "null", "NaN", "\\", '"', "PR-", "PR-ZZZZZZ", "%00", "+", "=", "payload=",
]
noise = st.text(st.characters(codec="utf-8"), max_size=40)
hostile_text = st.lists(st.one_of(st.sampled_from(FRAGMENTS), noise), max_size=8).map("".join)
huge_text = st.builds(
    lambda piece, n: ((piece or "x") * n)[:10_000],
    st.one_of(st.sampled_from(FRAGMENTS), noise), st.integers(1, 10_000),
)
command_text = st.one_of(
    st.builds(
        lambda verb, gap, rest: verb + gap + rest,
        st.sampled_from(["reset", "RESET", "Reset", "status", "help", "réset", "", "reset\x00"]),
        st.sampled_from([" ", "  ", "\t", "\n", "\u00a0", "\u3000", ""]),
        st.one_of(hostile_text, huge_text),
    ),
    hostile_text,
    huge_text,
    st.just(""),
)
json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=8,
)
MISSING = object()


def drop_missing(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if v is not MISSING}


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The field as Slack sends it (most often), missing, or of the wrong type."""
    return st.one_of(strategy, strategy, st.just(MISSING), json_junk)


def request_ids(real: list[str]) -> st.SearchStrategy[Any]:
    variants = st.sampled_from(real).flatmap(lambda rid: st.sampled_from(
        [rid, rid.lower(), f" {rid} ", rid + "\x00", rid[:-1], rid + "X", f"<@{rid}>", rid * 40]
    ))
    forged = st.from_regex(r"\APR-[A-Z0-9]{6}\Z") | hostile_text
    wrong_type = st.integers() | st.floats() | st.lists(st.text(max_size=8), max_size=3) | st.none()
    return st.one_of(variants, variants, forged, wrong_type, st.just(MISSING))


@st.composite
def block_actions(draw: st.DrawFn, real: list[str]) -> dict[str, Any]:
    """A block_actions payload with random action ids, forged values and broken shapes."""
    value = draw(request_ids(real))
    names_real = isinstance(value, str) and any(rid.lower() in value.lower() for rid in real)
    # Anyone may click on a made-up id; only people with no claim on them click on real ones.
    clickers = NO_ROLE + STRANGERS if names_real else list(USERS) + STRANGERS
    user = draw(maybe(st.sampled_from(clickers).map(lambda uid: {"id": uid, "team_id": "T0TEAM"})))
    action = drop_missing({
        "type": draw(maybe(st.just("button"))),
        "action_id": draw(maybe(st.sampled_from(ACTIONS) | st.text(max_size=300))),
        "block_id": draw(maybe(st.text(max_size=20))),
        "value": value,
        "action_ts": draw(maybe(st.just(f"{time.time():.6f}"))),
    })
    actions = draw(st.one_of(
        st.just([action]), st.just([action, action]), st.just([]), json_junk,
        st.lists(json_junk, min_size=1, max_size=2), st.just(MISSING),
    ))
    channel = draw(st.sampled_from([APPROVALS, "DALICE", "C0GENERAL", "", "CNOPE"]))
    payload = drop_missing({
        "type": draw(st.sampled_from(["block_actions"] * 4 + ["interactive_message", "", "x"])),
        "team": draw(maybe(st.just({"id": "T0TEAM"}))),
        "user": user,
        "api_app_id": "A0PASSCODE",
        "trigger_id": draw(maybe(st.just("fresh") | st.text(max_size=30))),
        "container": draw(maybe(st.sampled_from([
            {"type": "message", "message_ts": "1.0", "channel_id": channel},
            {"type": "view", "view_id": "VHOME"},
        ]))),
        "channel": draw(maybe(st.just({"id": channel}))),
        "message": draw(maybe(st.just({"ts": "1.0", "text": ""}))),
        "actions": actions,
    })
    return payload


def with_trigger(stack: Stack, payload: dict[str, Any]) -> dict[str, Any]:
    if payload.get("trigger_id") == "fresh":
        user = payload.get("user")
        user_id = user.get("id") if isinstance(user, dict) else None
        payload = {**payload, "trigger_id": stack.emu.new_trigger_id(str(user_id))}
    return payload


_sent = itertools.count(1)


def unique(payload: dict[str, Any], key: str = "nonce") -> dict[str, Any]:
    """A fresh value per send, as Slack's action_ts / event_id are: hypothesis replays an
    example while shrinking, and the app rightly answers byte-identical repeats with an
    empty 200."""
    return {**payload, key: f"n{next(_sent)}"}


def form_payload(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(unique(payload))})


@st.composite
def view_submissions(draw: st.DrawFn) -> dict[str, Any]:
    """The device picker's submission with its state broken at some depth."""
    option_value = st.from_regex(r"\A[0-9a-f-]{36}\Z") | hostile_text | json_junk
    selected = st.one_of(st.builds(lambda v: {"value": v}, option_value), json_junk)
    pick = st.one_of(st.builds(lambda s: {"type": "external_select", "selected_option": s},
                               selected), json_junk)
    values = st.one_of(
        st.builds(lambda p: {"device": {"device_pick": p}}, pick),
        st.builds(lambda p: {"device": p}, json_junk),
        json_junk,
    )
    state = st.one_of(st.builds(lambda v: {"values": v}, values), json_junk)
    view = st.one_of(
        st.builds(lambda s, cb: {"id": "VPICK", "type": "modal", "callback_id": cb, "state": s,
                                 "private_metadata": ""},
                  state, st.sampled_from(["reset_modal"] * 3 + ["", "other"])),
        json_junk,
    )
    return drop_missing({
        "type": "view_submission",
        "team": {"id": "T0TEAM"},
        "user": draw(maybe(st.sampled_from(list(USERS) + STRANGERS).map(lambda u: {"id": u}))),
        "api_app_id": "A0PASSCODE",
        "trigger_id": "forged",
        "view": draw(maybe(view)),
    })


@st.composite
def options_loads(draw: st.DrawFn) -> dict[str, Any]:
    return drop_missing({
        "type": "block_suggestion",
        "team": {"id": "T0TEAM"},
        "user": draw(maybe(st.sampled_from(list(USERS) + STRANGERS).map(lambda u: {"id": u}))),
        "api_app_id": "A0PASSCODE",
        "action_id": draw(st.sampled_from(["device_pick"] * 4 + ["approve", ""])),
        "block_id": "device",
        "value": draw(maybe(st.one_of(hostile_text, huge_text, st.sampled_from(
            ["", "a", "PIXEL", "-", "%", "_", "\\", "'"])))),
        "view": {"id": "VPICK", "type": "modal", "callback_id": "reset_modal"},
    })


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    """Events API envelopes with unknown, misspelt or broken inner events."""
    inner = st.one_of(
        st.builds(lambda t, junk: {**(junk if isinstance(junk, dict) else {}), "type": t},
                  st.sampled_from(["app_home_opened", "message", "app_mention", "tokens_revoked",
                                   "app_uninstalled", "team_join", ""]) | st.text(max_size=30),
                  json_junk),
        st.builds(lambda user, tab: drop_missing({"type": "app_home_opened", "user": user,
                                                  "tab": tab}),
                  maybe(st.sampled_from(list(USERS) + STRANGERS)), maybe(st.text(max_size=10))),
        json_junk,
    )
    return drop_missing({
        "type": draw(st.sampled_from(["event_callback"] * 4 + ["app_rate_limited", "", "x"])),
        "team_id": "T0TEAM",
        "api_app_id": "A0PASSCODE",
        "event": draw(maybe(inner)),
        "event_time": int(time.time()),
    })


CONTENT_TYPES = [
    FORM, "application/json", "text/plain", "", "multipart/form-data; boundary=x",
    "application/xml", "application/json; charset=utf-8", f"{FORM}; charset=latin-1",
    "application/json; charset=utf-16", "text/plain; charset=bogus",
    "*/*", "application/octet-stream",
]


@st.composite
def raw_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    """Bodies that are not what their content type says, or nothing Slack sends at all."""
    text = draw(st.one_of(
        st.builds(lambda s: "payload=" + s, hostile_text),  # JSON that is not JSON
        st.builds(lambda s: urlencode({"payload": s}), hostile_text),
        st.builds(lambda j: urlencode({"payload": json.dumps(j)}), json_junk),  # not an object
        st.builds(json.dumps, json_junk),
        st.builds(lambda s: "{" + s, hostile_text),
        hostile_text,
        st.just(""),
    ))
    body = text.encode()
    if draw(st.booleans()):
        body += draw(st.sampled_from([b"\xff\xfe", b"\xc3", b"\x80abc", b"\xed\xa0\x80"]))
    return body, draw(st.sampled_from(CONTENT_TYPES) | st.from_regex(r"\A[ -~]{0,40}\Z"))


# -- hypothesis: the properties over many examples ----------------------------------------


def test_passcode_with_any_text_answers_fast_and_changes_nothing(live: LiveStack) -> None:
    """/passcode with random, hostile, huge or empty text: <500 at once, no state change, no
    approval post, no live mention echoed, no unexpected error; healthy afterwards."""
    stack = live.stack

    @SETTINGS
    @given(user=st.sampled_from(list(USERS) + STRANGERS), text=command_text)
    def command(user: str, text: str) -> None:
        words = text.strip().split(maxsplit=1)
        if len(text) <= 1000 and len(words) == 2 and words[0].lower() == "reset":
            named = live.run(stack.backend.find_devices(" ".join(words[1].split())))
            assume(not named)  # a real device name is not hostile input
        answer = live.run(live.changes_nothing(lambda: stack.driver.command(user, text)))
        assert answer.status == 200  # a signed command is always acknowledged

    command()
    live.run(live.healthy())


def test_forged_and_broken_clicks_change_nothing(live: LiveStack) -> None:
    """block_actions with unknown action ids, forged or wrong-typed values (including real
    requests of other people), missing user/actions/fields: <500, refusal only, healthy after."""
    stack = live.stack
    real = live.run(requests_of_others(stack))

    @SETTINGS
    @given(payload=block_actions(real))
    def click(payload: dict[str, Any]) -> None:
        body = form_payload(with_trigger(stack, payload))
        live.run(live.changes_nothing(lambda: stack.driver.post(body)))

    click()
    live.run(live.healthy())


def test_options_loads_with_any_value_answer_bounded_options(live: LiveStack) -> None:
    """block_suggestion with random values and users: <500, well-formed options within Slack's
    limits, only their own devices for people without a role, no state change."""
    stack = live.stack

    @SETTINGS
    @given(payload=options_loads())
    def options(payload: dict[str, Any]) -> None:
        answer = live.run(live.changes_nothing(lambda: stack.driver.post(form_payload(payload))))
        if payload.get("action_id") != "device_pick" or answer.status != 200:
            return
        offered = answer.json()["options"]
        assert len(offered) <= 100
        for option in offered:
            assert len(option["text"]["text"]) <= 75 and len(option["value"]) <= 150
        user = payload.get("user")
        if isinstance(user, dict) and user.get("id") in NO_ROLE:
            email = USERS[user["id"]][1].lower()
            for option in offered:
                device = live.run(stack.backend.get_device(option["value"]))
                assert device is not None and device.primary_email.lower() == email

    options()
    live.run(live.healthy())


def test_view_submissions_with_malformed_state_change_nothing(live: LiveStack) -> None:
    """view_submission whose view/state/values/selected_option is missing or the wrong shape:
    <500, an error or a plain 'not found', no state change."""
    stack = live.stack

    @SETTINGS
    @given(payload=view_submissions())
    def submit(payload: dict[str, Any]) -> None:
        live.run(live.changes_nothing(lambda: stack.driver.post(form_payload(payload))))

    submit()
    live.run(live.healthy())


def test_unknown_and_broken_events_change_nothing(live: LiveStack) -> None:
    """Events API deliveries of unknown types or broken shapes: <500, no state change."""
    stack = live.stack

    @SETTINGS
    @given(envelope=events())
    def deliver(envelope: dict[str, Any]) -> None:
        body = json.dumps(unique(envelope, "event_id"))
        live.run(live.changes_nothing(
            lambda: stack.driver.post(body, content_type="application/json")
        ))

    deliver()
    live.run(live.healthy())


def test_malformed_bodies_and_content_types_are_rejected_cleanly(live: LiveStack) -> None:
    """Signed and unsigned bodies that are malformed JSON, not objects, not UTF-8, empty, or
    under a garbage content type: <500, no state change, nothing logged as a crash."""
    stack = live.stack

    @SETTINGS
    @given(raw=raw_bodies(), signed=st.booleans())
    def send(raw: tuple[bytes, str], signed: bool) -> None:
        body, content_type = raw
        if signed:
            live.run(live.changes_nothing(lambda: post_signed(stack, body, content_type)))
        else:
            live.run(live.changes_nothing(
                lambda: post_raw(stack, body, {"Content-Type": content_type})
            ))

    send()
    live.run(live.healthy())


# -- regressions found here (plain pytest) ------------------------------------------------


@pytest.mark.parametrize("text", ["reset payload", "reset payload=1", "status payload"])
async def test_a_command_that_mentions_payload_is_still_a_command(
    guarded: Guarded, text: str
) -> None:
    """Bolt took any form containing the text "payload" for an interactivity payload and read
    it as {}: the command got a 404. Now it is answered like any other command."""
    stack = guarded.stack
    body = stack.driver.command_body("UALICE", text) + "&channel_name=payload-team"
    answer = await guarded.changes_nothing(lambda: stack.driver.post(body))
    assert answer.status == 200
    [reply] = stack.emu.calls_to("response_url")
    assert "payload" in reply.params["text"]  # "No managed device is called “payload”" etc.


# -- signatures (plain pytest) ------------------------------------------------------------


class Guarded(Observed):
    """A stack on the test's own event loop (plain pytest tests), with the same checks."""

    def __init__(self, stack: Stack, errors: ErrorLog, db: Path) -> None:
        self.stack, self.errors, self.db = stack, errors, db


@pytest.fixture
async def guarded(tmp_path: Path, secret: str, errors: ErrorLog) -> AsyncIterator[Guarded]:
    async for stack in make_stack(tmp_path, secret):
        yield Guarded(stack, errors, Path(stack.bot.services.settings.database_path))


def command_bytes(stack: Stack) -> bytes:
    return stack.driver.command_body("UALICE", "reset PIXEL8-ALICE").encode()


def signed_headers(body: bytes, ts: int | str | None = None) -> dict[str, str]:
    stamp = str(int(time.time()) if ts is None else ts)
    return {"Content-Type": FORM, "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": sign_bytes(body, stamp)}


def without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k != name}


BAD_SIGNATURES: dict[str, Callable[[bytes], dict[str, str]]] = {
    "missing-signature": lambda b: without(signed_headers(b), "X-Slack-Signature"),
    "missing-timestamp": lambda b: without(signed_headers(b), "X-Slack-Request-Timestamp"),
    "missing-both": lambda b: {"Content-Type": FORM},
    "wrong-signature": lambda b: {**signed_headers(b), "X-Slack-Signature": "v0=" + "0" * 64},
    "other-body-signature": lambda b: {**signed_headers(b + b"&x=1")},
    "wrong-version": lambda b: {**signed_headers(b), "X-Slack-Signature":
                                signed_headers(b)["X-Slack-Signature"].replace("v0=", "v1=")},
    "empty-signature": lambda b: {**signed_headers(b), "X-Slack-Signature": ""},
    "stale-6-minutes": lambda b: signed_headers(b, int(time.time()) - 6 * 60),
    "future-6-minutes": lambda b: signed_headers(b, int(time.time()) + 6 * 60),
    "timestamp-not-a-number": lambda b: signed_headers(b, "soon"),
    "timestamp-empty": lambda b: signed_headers(b, ""),
    "timestamp-float": lambda b: signed_headers(b, f"{time.time():.3f}"),
    "timestamp-huge": lambda b: signed_headers(b, "9" * 40),
    "timestamp-negative": lambda b: signed_headers(b, "-1"),
}


@pytest.mark.parametrize("headers_for", BAD_SIGNATURES.values(), ids=BAD_SIGNATURES.keys())
async def test_a_request_without_a_valid_signature_is_refused_and_changes_nothing(
    guarded: Guarded, headers_for: Callable[[bytes], dict[str, str]]
) -> None:
    """Missing, wrong, stale (>5 min), future (>5 min) or unparsable signatures and timestamps:
    401, nothing created, nothing posted."""
    body = command_bytes(guarded.stack)
    answer = await guarded.changes_nothing(lambda: post_raw(guarded.stack, body, headers_for(body)))
    assert answer.status == 401
    await guarded.healthy()


async def test_a_replayed_command_creates_no_second_request(guarded: Guarded) -> None:
    """The exact same signed body and headers sent again: 200, still one request, one approval."""
    stack = guarded.stack
    body = command_bytes(stack)
    headers = signed_headers(body)
    first = await post_raw(stack, body, headers)
    assert first.status == 200
    await stack.settle()
    assert len(await stack.store.by_requester("UALICE")) == 1 and len(stack.approvals()) == 1
    for _ in range(3):
        replay = await guarded.changes_nothing(lambda: post_raw(stack, body, headers))
        assert replay.status == 200


async def test_a_replayed_approval_click_decides_nothing_again(guarded: Guarded) -> None:
    """A replayed Deny click (same signed bytes) after the request was decided: no new audit
    event, no extra approval-channel update."""
    stack = guarded.stack
    await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
    await stack.settle()
    request_id = approval_request_id(stack)
    payload = {"type": "block_actions", "user": {"id": "UANNA"}, "team": {"id": "T0TEAM"},
               "channel": {"id": APPROVALS}, "trigger_id": "t",
               "container": {"type": "message", "channel_id": APPROVALS, "message_ts": "1"},
               "actions": [{"action_id": "deny", "value": request_id, "type": "button"}]}
    body = form_payload(payload).encode()
    headers = signed_headers(body)
    assert (await post_raw(stack, body, headers)).status == 200
    await stack.settle()
    assert (await stack.store.get(request_id)).state is State.DENIED
    replay = await guarded.changes_nothing(lambda: post_raw(stack, body, headers))
    assert replay.status == 200


# -- someone else's request (plain pytest) ------------------------------------------------


async def alices_request(stack: Stack, *, completed: bool) -> str:
    await stack.driver.command("UALICE", "reset PIXEL8-ALICE")
    await stack.settle()
    request_id = approval_request_id(stack)
    if completed:
        await stack.driver.click("UANNA", "approve", request_id, channel_id=APPROVALS)
        await stack.settle()
        assert (await stack.store.get(request_id)).state is State.COMPLETED
    return request_id


def told(stack: Stack, user: str) -> str:
    """What the app told one person privately: ephemerals and their DM."""
    ephemerals = [c.params for c in stack.emu.calls_to("chat.postEphemeral")
                  if c.params.get("user") == user]
    return json.dumps([*ephemerals, *stack.dm(user)], ensure_ascii=False)


async def test_bob_cannot_cancel_alices_request(guarded: Guarded) -> None:
    """Bob forges a Cancel click (from his App Home) with Alice's request id: refused and told
    why, Alice's request still pending."""
    stack = guarded.stack
    request_id = await alices_request(stack, completed=False)
    await guarded.changes_nothing(
        lambda: stack.driver.click("UBOB", "cancel", request_id, in_home=True))
    assert "can cancel it" in told(stack, "UBOB")
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL


async def test_bob_cannot_see_alices_passcode(guarded: Guarded) -> None:
    """Bob clicks Show passcode with Alice's completed request id: a refusal modal, no passcode,
    no reveal recorded."""
    stack = guarded.stack
    request_id = await alices_request(stack, completed=True)
    await guarded.changes_nothing(
        lambda: stack.driver.click("UBOB", "reveal", request_id, in_home=True))
    modal = json.dumps(stack.emu.calls_to("views.open")[-1].params["view"])
    assert "Only the person who asked" in modal and '"header"' not in modal
    assert (await stack.store.get(request_id)).reveal_count == 0


@pytest.mark.parametrize("action", ["approve", "deny"])
async def test_a_user_without_a_role_cannot_decide_with_a_forged_value(
    guarded: Guarded, action: str
) -> None:
    """Mallory (no role) forges Approve/Deny from her App Home with a real request id: refused
    with the reason, request still pending, no reset, approval message untouched."""
    stack = guarded.stack
    request_id = await alices_request(stack, completed=False)
    await guarded.changes_nothing(
        lambda: stack.driver.click("UMALLORY", action, request_id, in_home=True))
    assert "Only holders of one of these roles" in told(stack, "UMALLORY")
    assert (await stack.store.get(request_id)).state is State.AWAITING_APPROVAL
    assert stack.backend.resets_started == 0  # type: ignore[attr-defined]
