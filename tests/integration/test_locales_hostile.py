"""users.list answers we cannot vouch for (handlers/slack/identity.py ``learn_every_locale``),
from a Slack of the test's own over HTTP that answers each cursor as the test says: a cursor
that comes again ends the walk instead of asking for ever; a page longer than asked for reaches
the fronts whole; members whose id or locale is no Slack one are left out, and the rest of the
page, and the pages after it, are learnt."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from slack_sdk.web.async_client import AsyncWebClient

from bot.storage import Store
from handlers.slack.identity import LOCALES_READ, Identity, slack_locale
from tests.databases import count, rows

Page = dict[str, Any]


def member(user_id: Any, locale: Any = "sv-SE") -> dict[str, Any]:
    return {"id": user_id, "locale": locale, "deleted": False, "is_bot": False}


def page(members: list[dict[str, Any]], cursor: str = "") -> Page:
    return {"ok": True, "members": members, "response_metadata": {"next_cursor": cursor}}


@dataclass
class Slack:
    """users.list answers ``answer(the cursor asked for)``; ``asked``: those cursors."""

    url: str = ""
    answer: Callable[[str], Page] = lambda cursor: page([])
    asked: list[str] = field(default_factory=list)


@pytest.fixture
async def slack() -> AsyncIterator[Slack]:
    fake = Slack()

    async def users_list(request: web.Request) -> web.Response:
        asked = request.query if request.method == "GET" else await request.post()
        cursor = str(asked.get("cursor") or "")
        fake.asked.append(cursor)
        return web.Response(text=json.dumps(fake.answer(cursor)),
                            content_type="application/json")

    app = web.Application()
    app.router.add_route("*", "/api/users.list", users_list)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    fake.url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/"
    try:
        yield fake
    finally:
        await runner.cleanup()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    opened = await Store.open(database_url)
    try:
        yield opened
    finally:
        await opened.close()


def identity(slack: Slack, store: Store) -> Identity:
    """A worker's or a front's view of the members, sharing ``store``'s book."""
    found = Identity(AsyncWebClient(token="xoxb-test", base_url=slack.url))
    found.keep_locales_in(store)
    return found


async def test_a_cursor_that_comes_again_ends_the_walk(
    slack: Slack, store: Store, caplog: pytest.LogCaptureFixture,
) -> None:
    pages = {"": page([member("UONE")], "A"), "A": page([member("UTWO")], "B"),
             "B": page([member("UTHREE")], "A")}  # ... and round again, for ever
    slack.answer = pages.__getitem__
    assert await identity(slack, store).learn_every_locale(pause_s=0) == 3
    assert slack.asked == ["", "A", "B"]
    assert "users.list stopped after 3 pages: a cursor came again" in caplog.text


async def test_a_page_longer_than_asked_for_reaches_the_fronts_whole(
    slack: Slack, store: Store, database_url: str,
) -> None:
    members = LOCALES_READ + 1_000
    slack.answer = lambda _: page([member(f"U{i:05d}", ("sv-SE", "it-IT")[i % 2])
                                   for i in range(members)])
    assert await identity(slack, store).learn_every_locale(pause_s=0) == members
    assert count(database_url, "SELECT COUNT(*) FROM locales") == members
    front = identity(slack, store)
    await front.read_locales()
    assert front.locale(f"U{members - 1:05d}") == "it-IT"  # (the last was cut off)
    assert sum(bool(front.locale(f"U{i:05d}")) for i in range(members)) == members


@pytest.mark.parametrize("bad", [
    member("UJUNK", "\ud800"),  # a lone surrogate: no database takes it
    member("UJUNK", "sv-SE\x00"),
    member("UJUNK", "sv-SE'); DROP TABLE locales; --"),
    member("UJUNK", "x" * 300),
    member("UJUNK", ["sv-SE"]),
    member("ujunk"), member("U"), member("../U1"), member("U" + "1" * 60), member(17),
    {"id": "UJUNK", "locale": "sv-SE"},  # neither deleted nor is_bot said: not counted
    "UJUNK",
])
async def test_a_member_slack_would_not_write_is_left_out_and_the_rest_are_learnt(
    slack: Slack, store: Store, database_url: str, bad: Any,
) -> None:
    pages = {"": page([member("UBEFORE"), bad, member("UAFTER", "ro-RO")], "next"),
             "next": page([member("UNEXT", "it-IT")])}
    slack.answer = pages.__getitem__
    assert await identity(slack, store).learn_every_locale(pause_s=0) == 3
    assert set(rows(database_url, "SELECT user_id, locale FROM locales")) == {
        ("UAFTER", "ro-RO"), ("UBEFORE", "sv-SE"), ("UNEXT", "it-IT")}


@pytest.mark.parametrize("members", [{"UONE": member("UONE")}, 17, "UONE", None])
async def test_members_that_are_no_list_are_no_members(slack: Slack, store: Store,
                                                       members: Any) -> None:
    slack.answer = lambda _: {"ok": True, "members": members}
    assert await identity(slack, store).learn_every_locale(pause_s=0) == 0


def test_a_locale_is_one_as_slack_writes_them_or_none() -> None:
    """(users.info's locale is read through the same check.)"""
    assert [slack_locale(v) for v in ("sv-SE", "en", "zh-TW", "es-LA", "pt_BR")] == [
        "sv-SE", "en", "zh-TW", "es-LA", "pt_BR"]
    assert [slack_locale(v) for v in ("", "\ud800", "sv-SE\n", 7, None, "s", "x" * 30)] == [
        ""] * 7
