"""Every member's locale from users.list (handlers/slack/identity.py ``learn_every_locale``),
page by page through the Slack emulator, into the database the fronts read (both databases):
more members than a page are all learnt, deleted members and bots are not, a locale learnt
again unchanged is not written twice, and a front reading the book finds every one of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.storage import Store
from handlers.demo.slack_emulator import SlackEmulator
from handlers.slack.identity import LIST_PAGE, Identity
from tests.databases import count, rows, run_sql_beside

MEMBERS = 2 * LIST_PAGE + 50
WALKED = datetime(2026, 12, 2, 9, 30, 15, 250, tzinfo=UTC)


async def test_every_member_s_locale_is_learnt_page_by_page(database_url: str) -> None:
    async with SlackEmulator() as slack:
        for i in range(MEMBERS):
            slack.add_user(f"UM{i:04d}", name=f"m{i}", email=f"m{i}@example.com",
                           locale=("sv-SE", "de-DE", "en-GB")[i % 3])
        slack.add_user("UGONE", name="gone", email="gone@example.com", locale="fr-FR",
                       deleted=True)
        slack.add_user("UBOT", name="robot", email="robot@example.com", locale="fr-FR",
                       is_bot=True)
        store = await Store.open(database_url)
        client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
        try:
            worker = Identity(client)
            worker.keep_locales_in(store)
            assert await worker.learn_every_locale(pause_s=0) == MEMBERS
            assert len(slack.calls_to("users.list")) == 3  # 200, 200, 50 (and the two left)
            assert count(database_url, "SELECT COUNT(*) FROM locales") == MEMBERS
            assert count(database_url,
                         "SELECT COUNT(*) FROM locales WHERE locale = 'fr-FR'") == 0
            assert await worker.learn_every_locale(pause_s=0) == 0  # nothing new

            front = Identity(client)
            front.keep_locales_in(store)
            await front.read_locales()
            assert front.locale("UM0000") == "sv-SE"
            assert front.locale(f"UM{MEMBERS - 1:04d}") == ("sv-SE", "de-DE", "en-GB")[
                (MEMBERS - 1) % 3]
            assert front.locale("UGONE") == ""
        finally:
            await store.close()


async def test_the_last_walk_is_remembered_for_every_worker(database_url: str) -> None:
    """The end of the last walk over users.list, as any worker of the database reads it."""
    first, second = await Store.open(database_url), await Store.open(database_url)
    try:
        assert await second.last_walk() is None
        await first.walked(datetime(2026, 12, 1, 8, 0, tzinfo=UTC))
        await first.walked(WALKED)
        assert await second.last_walk() == WALKED
        assert count(database_url, "SELECT COUNT(*) FROM locale_walks") == 1
    finally:
        await first.close()
        await second.close()


async def test_a_locale_another_worker_learnt_later_is_not_taken_for_the_page(
        database_url: str) -> None:
    """Another worker's users.info answer, newer than this worker's page, stays in the book;
    this worker must not believe the book holds the page's locale: when Slack tells it that
    locale again, it is written."""
    async with SlackEmulator() as slack:
        for i in range(3):
            slack.add_user(f"UM{i:04d}", name=f"m{i}", email=f"m{i}@example.com",
                           locale="sv-SE")
        store, other = await Store.open(database_url), await Store.open(database_url)
        client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
        try:
            later = datetime.now(UTC) + timedelta(hours=1)  # (after any page of this walk)
            await other.remember_locale("UM0001", "fr-FR", later)
            walker = Identity(client)
            walker.keep_locales_in(store)
            await walker.learn_every_locale(pause_s=0)
            assert dict(rows(database_url, "SELECT user_id, locale FROM locales")) == {
                "UM0000": "sv-SE", "UM0001": "fr-FR", "UM0002": "sv-SE"}

            await walker.person("UM0001", fresh=True)  # Slack: sv-SE (again)
            front = Identity(client)
            front.keep_locales_in(store)
            await front.read_locales()
            assert front.locale("UM0001") == "sv-SE"
        finally:
            await store.close()
            await other.close()


async def test_a_locale_changed_back_is_written_though_another_worker_wrote_between(
        database_url: str) -> None:
    """Worker A walks users.list (sv-SE); the person switches to fr-FR and worker B's
    users.info writes that; she switches back to sv-SE. A's next users.info answer says
    sv-SE, which A wrote itself before: it must write it again all the same, or the book
    keeps fr-FR (the fronts answer her in French) until her next change."""
    async with SlackEmulator() as slack:
        slack.add_user("UM0001", name="m1", email="m1@example.com", locale="sv-SE")
        a_store, b_store = await Store.open(database_url), await Store.open(database_url)
        client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
        try:
            a, b = Identity(client), Identity(client)
            a.keep_locales_in(a_store)
            b.keep_locales_in(b_store)
            await a.learn_every_locale(pause_s=0)
            slack.add_user("UM0001", name="m1", email="m1@example.com", locale="fr-FR")
            await b.person("UM0001", fresh=True)
            assert rows(database_url, "SELECT locale FROM locales") == [("fr-FR",)]
            slack.add_user("UM0001", name="m1", email="m1@example.com", locale="sv-SE")
            await a.person("UM0001", fresh=True)
            assert rows(database_url, "SELECT locale FROM locales") == [("sv-SE",)]
        finally:
            await a_store.close()
            await b_store.close()


@pytest.mark.parametrize(("written", "read"), [
    ("2026-12-03T08:00:00", datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),  # no zone: UTC
    ("2026-12-03T09:00:00+01:00", datetime(2026, 12, 3, 8, 0, tzinfo=UTC)),
    ("yesterday", datetime(1970, 1, 1, tzinfo=UTC)),  # no time: long ago, walk again
])
async def test_a_walk_stamped_by_hand_is_read_not_tripped_over(
        database_url: str, written: str, read: datetime) -> None:
    """A stamp an operator wrote (or an old tool) must neither stop every walk with an error
    nor compare a time with no zone against one with it."""
    store = await Store.open(database_url)
    try:
        await store.walked(WALKED)
        await run_sql_beside(database_url,
                             [("UPDATE locale_walks SET finished_at = ?", (written,))])
        assert await store.last_walk() == read
    finally:
        await store.close()


async def test_a_walk_after_a_restart_re_stamps_only_what_changed(database_url: str) -> None:
    """A worker started again knows nothing of what was written: its walk leaves unchanged
    locales as they were (the fronts read only the one that changed), and a users.info
    answer that came after a page is not overwritten by it."""
    async with SlackEmulator() as slack:
        for i in range(MEMBERS):
            slack.add_user(f"UM{i:04d}", name=f"m{i}", email=f"m{i}@example.com",
                           locale="sv-SE")
        store = await Store.open(database_url)
        client = AsyncWebClient(token=slack.token, base_url=slack.api_url)
        try:
            first = Identity(client)
            first.keep_locales_in(store)
            await first.learn_every_locale(pause_s=0)
            after_first = datetime.now(UTC)
            slack.add_user("UM0007", name="m7", email="m7@example.com", locale="de-DE")

            restarted = Identity(client)
            restarted.keep_locales_in(store)
            assert await restarted.learn_every_locale(pause_s=0) == MEMBERS  # (all asked)
            restamped = await store.locales_since(after_first, 10_000)
            assert [(user_id, locale) for user_id, locale, _ in restamped] == [
                ("UM0007", "de-DE")]

            # a page Slack answered before users.info said fr-FR: the book keeps fr-FR
            await store.remember_locale("UM0008", "fr-FR", datetime.now(UTC))
            await store.remember_locales([("UM0008", "sv-SE")], after_first)
            front = Identity(client)
            front.keep_locales_in(store)
            await front.read_locales()
            assert (front.locale("UM0007"), front.locale("UM0008")) == ("de-DE", "fr-FR")
        finally:
            await store.close()


async def test_a_front_reads_each_locale_once_not_again_at_every_read(database_url: str) -> None:
    """A front's reads (every 2 s) start a few seconds before the last one began: a workspace
    learnt a minute ago is read once, not again at each read while nothing changes (that
    cost 10 ms of the acking loop every 2 s). A locale learnt since is read, and so is one
    stamped seconds before the last read began (a clock behind, a commit after its stamp)."""
    store = await Store.open(database_url)
    try:
        learnt = datetime.now(UTC) - timedelta(minutes=1)
        await store.remember_locales([(f"UM{i:04d}", "sv-SE") for i in range(300)], learnt)
        front = Identity(AsyncWebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/"))
        front.keep_locales_in(store)
        assert await front.read_locales() == 300
        assert await front.read_locales() == 0

        await store.remember_locale("ULATE", "de-DE", datetime.now(UTC) - timedelta(seconds=3))
        await store.remember_locale("UNEW", "en-GB", datetime.now(UTC))
        assert await front.read_locales() == 2
        assert (front.locale("ULATE"), front.locale("UNEW"), front.locale("UM0299")) == (
            "de-DE", "en-GB", "sv-SE")
    finally:
        await store.close()
