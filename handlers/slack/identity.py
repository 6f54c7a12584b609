"""Who is acting: a Slack user id -> a Person of the bot's own workspace, or a refusal.

One ``users.info`` call per person per ``ttl_s`` (answers and refusals alike, so nobody can
make the bot call Slack without bound by repeating a command that fails), and one
``auth.test`` for the bot's own workspace. Membership itself is a pure rule
(policy.membership): deleted users, bots, guests, users of another workspace or organisation
and users without a confirmed email are refused.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.ports import Locales
from bot.service import Person
from handlers.views.i18n import t
from policy.membership import NotMember, SlackUser, Workspace, not_member

log = logging.getLogger(__name__)

TTL_S = 600.0
REFUSED_TTL_S = 60.0  # a refusal, or a lookup that failed, is asked again after this long
SIZE = 50_000  # people remembered at most (the oldest entry goes first)
LOCALES_READ = 5_000  # locales read from the book at a time
# Each read starts this far before the last one began: a worker's write stamped earlier may
# commit a little later, or come from a clock a little behind, and is still found. Only the
# rows stamped in those seconds are read twice. (Reads used to start this far before the
# newest row seen: while no locale changed, every read, every 2 s, read the same rows again:
# a workspace learnt at start in one page, 2,482 rows in the benchmark, for 10 ms of the
# acking loop each time.)
LOCALES_LATE = timedelta(seconds=5)
# Every member's locale is learnt at a worker's start, from users.list, a page of LIST_PAGE
# (Slack's advice: 200 at most) every LIST_PAUSE_S: within Tier 2's 20 calls a minute, so a
# long list never meets a 429 of its own making (the client would wait one out): 4,000
# members a minute. A first help is then answered in the person's language at once.
LIST_PAGE = 200  # (under LOCALES_READ: a page is stored stamped alike)
LIST_PAUSE_S = 3.0
LIST_PAGES = 2_500  # 500,000 members (two hours): a list that never ends is cut off there
# What Slack's locales look like ("en-US", "sv-SE", "zh-TW", "es-LA") and its member ids: any
# other value in an answer is no locale (the person reads English), never a row.
_LOCALE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}")
_MEMBER = re.compile(r"[UW][A-Z0-9]{2,39}")


class NotAMember(Exception):
    """This Slack user may not use the bot; ``why`` says which rule refused them."""

    def __init__(self, why: NotMember) -> None:
        super().__init__(why.value)
        self.why = why

    def text(self, locale: str = "en") -> str:
        """Why, in plain words, for the person themselves."""
        return t(locale, f"member.{self.why.value}")


@dataclass(frozen=True, slots=True)
class _Entry:
    until: float
    person: Person | None
    why: NotMember | None
    locale: str


def slack_locale(value: object) -> str:
    """``value`` when it is a locale as Slack writes them, else ""."""
    return value if isinstance(value, str) and _LOCALE.fullmatch(value) else ""


def _members_locales(answer: Any) -> list[tuple[str, str]]:
    """(member id, locale) of each person a users.list page names: not deleted, not a bot
    (a flag that is not False counts as set), with an id and a locale as Slack writes them."""
    members = answer.get("members")
    found = []
    for user in members if isinstance(members, list) else ():
        if not isinstance(user, dict) or user.get("deleted") is not False or (
                user.get("is_bot") is not False):
            continue
        user_id, locale = user.get("id"), slack_locale(user.get("locale"))
        if isinstance(user_id, str) and _MEMBER.fullmatch(user_id) and locale:
            found.append((user_id, locale))
    return found


def _facts(user_id: str, user: dict[str, Any]) -> SlackUser:
    """users.info's user object as policy.membership reads it. Fields of another type than
    Slack documents read as the safe value (a guest flag that is not False is a guest)."""
    profile, grid = (user.get(k) for k in ("profile", "enterprise_user"))
    profile = profile if isinstance(profile, dict) else {}
    grid = grid if isinstance(grid, dict) else {}

    def flag(name: str) -> bool:
        return user.get(name) is not False and name in user

    return SlackUser(
        user_id=user_id,
        team_id=str(user.get("team_id") or ""),
        enterprise_id=str(grid.get("enterprise_id") or ""),
        deleted=flag("deleted"),
        is_bot=flag("is_bot") or flag("is_app_user"),
        is_restricted=flag("is_restricted"),
        is_ultra_restricted=flag("is_ultra_restricted"),
        is_stranger=flag("is_stranger"),
        email=str(profile.get("email") or ""),
        email_confirmed=user.get("is_email_confirmed") is True,
    )


class Identity:
    def __init__(self, client: AsyncWebClient, ttl_s: float = TTL_S,
                 refused_ttl_s: float = REFUSED_TTL_S, list_pause_s: float = LIST_PAUSE_S,
                 ) -> None:
        """``list_pause_s``: between two pages of users.list (LIST_PAUSE_S: Slack's limit)."""
        self._client = client
        self._list_pause_s = list_pause_s
        self._ttl = ttl_s
        self._refused_ttl = refused_ttl_s
        self._cache: dict[str, _Entry] = {}
        self._locales: dict[str, tuple[float, str]] = {}  # read from the book
        self._book: Locales | None = None
        self._read_from: datetime | None = None  # the next read's start (None: everything)
        self._stored: dict[str, str] = {}  # what this Identity wrote there (the walk skips it)
        self._home: Workspace | None = None
        self._home_lock = asyncio.Lock()
        self._lookups: dict[str, asyncio.Future[_Entry]] = {}

    async def person(self, user_id: str, *, fresh: bool = False) -> Person:
        """The member behind ``user_id``; NotAMember when they are none (or Slack did not say).
        ``fresh``: asked of Slack again even when known (a decision or a reveal: an account
        deactivated or made a guest a minute ago must not act); a refusal still stands for
        its minute, so this bounds nothing less, and when Slack does not answer, the member
        known from minutes ago stands."""
        entry = await self._entry(user_id, fresh=fresh)
        if entry.person is None:
            raise NotAMember(entry.why or NotMember.UNKNOWN)
        return entry.person

    def locale(self, user_id: str) -> str:
        """The cached Slack locale ("sv-SE"), or "" when not looked up yet."""
        hit = self._cache.get(user_id)
        if hit is not None and hit.locale:
            return hit.locale
        seen = self._locales.get(user_id)
        return seen[1] if seen else ""

    def keep_locales_in(self, book: Locales) -> None:
        """Share locales through ``book`` (the store): each one users.info tells this Identity
        is written there (a worker's), and ``read_locales`` learns those of every process (a
        front's: it answers helps at once, in the language a worker looked up)."""
        self._book = book

    async def read_locales(self) -> int:
        """Learn the locales written to the book since the last read began (and a few seconds
        before: ``LOCALES_LATE``); how many rows were read."""
        if self._book is None:
            return 0
        # (this clock's, not the rows' stamps: a worker's clock ahead of it would hide the
        # locales the others stamp meanwhile)
        began, since = datetime.now(UTC), self._read_from
        read = 0
        while True:
            rows = await self._book.locales_since(since, LOCALES_READ)
            until = time.monotonic() + self._ttl
            for user_id, locale, _ in rows:
                self._locales[user_id] = (until, locale)
            read += len(rows)
            if len(rows) < LOCALES_READ or rows[-1][2] == since:
                break
            since = rows[-1][2]
        self._read_from = began - LOCALES_LATE
        while len(self._locales) > SIZE:
            self._locales.pop(next(iter(self._locales)))
        return read

    async def locale_of(self, user_id: str) -> str:
        """The person's Slack locale, looked up when not cached. Never raises: any failure
        reads as "" (English), and is remembered like any other answer."""
        seen = self._locales.get(user_id)
        if seen and seen[0] > time.monotonic() and user_id not in self._cache:
            return seen[1]
        try:
            return (await self._entry(user_id)).locale
        except Exception:  # a message in English beats no message
            log.exception("locale lookup failed")
            return self.locale(user_id)

    async def learn_every_locale(self, pause_s: float | None = None) -> int:
        """Store the locale of every person users.list names (not deleted, not a bot) for
        the fronts, a page at a time; how many were sent to the book (new or changed as far
        as this Identity knows: the book re-stamps only what changed). Slack's errors raise
        (the caller tries again later); what was stored until then stays. A cursor that
        comes again, or more than LIST_PAGES pages, ends the walk (one log line)."""
        if self._book is None:
            return 0
        learned, cursor, asked = 0, "", set[str]()
        while True:
            answer = await self._client.users_list(limit=LIST_PAGE, include_locale=True,
                                                   cursor=cursor or None)
            listed_at = datetime.now(UTC)  # (a users.info answer after it is newer)
            page = [(user_id, locale) for user_id, locale in _members_locales(answer)
                    if self._stored.get(user_id) != locale]
            known = {user_id: self._stored.get(user_id) for user_id, _ in page}
            for start in range(0, len(page), LIST_PAGE):  # (a page longer than asked for)
                chunk = page[start:start + LIST_PAGE]
                # (each chunk a microsecond after the last: the fronts read by stamp)
                held = await self._book.remember_locales(
                    chunk, listed_at + timedelta(microseconds=start // LIST_PAGE))
                self._wrote(chunk, known, held)
                learned += len(chunk)
            metadata = answer.get("response_metadata")
            cursor = str((metadata or {}).get("next_cursor") or "") if isinstance(
                metadata, dict) else ""
            if not cursor:
                return learned
            if cursor in asked or len(asked) >= LIST_PAGES:
                log.warning("users.list stopped after %d pages: %s", len(asked) + 1,
                            "a cursor came again" if cursor in asked else "too many pages")
                return learned
            asked.add(cursor)
            await asyncio.sleep(self._list_pause_s if pause_s is None else pause_s)

    def _wrote(self, locales: list[tuple[str, str]],
               known: dict[str, str | None] | None = None, held: set[str] | None = None
               ) -> None:
        """Remember what was written to the book (SIZE people at most, the oldest go).
        ``known``: what was remembered when the page came, ``held``: whose locale the book
        held after the page's write. A person users.info told of since (here, or another
        worker) may hold a newer locale there than the page's (the book keeps the newer):
        forgotten, so the next walk writes that person's again. (A users.info answer is
        written unless the book holds it already, ``_book_lacks``.)"""
        for user_id, locale in locales:
            if known is None or (user_id in (held or ()) and
                                 self._stored.get(user_id) == known.get(user_id)):
                self._stored[user_id] = locale
            else:
                self._stored.pop(user_id, None)
        while len(self._stored) > SIZE:
            self._stored.pop(next(iter(self._stored)))

    async def _book_lacks(self, user_id: str, locale: str) -> bool:
        """Whether a users.info answer's locale must be written: unless this Identity wrote
        that one before and the book still holds it. Another worker may have written another
        one since (the person changed it and changed it back), which the book would keep;
        asked by a read, not a write, since most answers change nothing, and a write beside
        the acks would take the write lock they wait for (SQLite)."""
        if self._book is None:
            return False
        if self._stored.get(user_id) != locale:
            return True
        try:
            return await self._book.locale_of(user_id) != locale
        except Exception:  # noqa: BLE001 - the write then says whether the book is there
            return True

    async def _tell_book(self, user_id: str, locale: str) -> None:
        """Store a member's locale for the fronts (a failure is tried again at the person's
        next lookup)."""
        if self._book is None:
            return
        try:
            await self._book.remember_locale(user_id, locale, datetime.now(UTC))
            self._wrote([(user_id, locale)])
        except Exception:  # noqa: BLE001 - it stands here; the fronts ask again next help
            log.warning("a locale could not be stored")

    async def home(self) -> Workspace:
        """The bot's own workspace, from auth.test (asked once; again after a failure)."""
        async with self._home_lock:
            if self._home is None:
                answer = await self._client.auth_test()
                self._home = Workspace(str(answer.get("team_id") or ""),
                                       str(answer.get("enterprise_id") or ""))
            return self._home

    async def _entry(self, user_id: str, *, fresh: bool = False) -> _Entry:
        hit = self._cache.get(user_id)
        if hit is not None and hit.until > time.monotonic() and not (fresh and hit.person):
            return hit
        running = self._lookups.get(user_id)  # one lookup at a time per person
        if running is None:
            running = asyncio.ensure_future(self._look_up(user_id))
            self._lookups[user_id] = running
            running.add_done_callback(lambda _: self._lookups.pop(user_id, None))
        return await asyncio.shield(running)

    async def _look_up(self, user_id: str) -> _Entry:
        why: NotMember | None
        person, locale = None, ""
        try:
            answer = await self._client.users_info(user=user_id, include_locale=True)
            user = answer.get("user")
            if isinstance(user, dict) and user.get("id") == user_id:
                facts = _facts(user_id, user)
                why = not_member(facts, await self.home())
                locale = slack_locale(user.get("locale"))
            else:
                log.warning("users.info did not answer about %s", user_id[:20])
                why = NotMember.UNKNOWN
            if why is None:
                assert isinstance(user, dict)
                profile = user.get("profile")
                name = (profile.get("real_name") if isinstance(profile, dict) else None) or (
                    user.get("real_name") or user.get("name") or "")
                person = Person(user_id, facts.email, str(name))
        except SlackApiError as exc:
            log.warning("users.info or auth.test refused for %s: %s", user_id[:20],
                        exc.response.get("error") if exc.response else exc)
            why = NotMember.UNKNOWN
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("users.info or auth.test failed for %s: %s", user_id[:20],
                        type(exc).__name__)
            why = NotMember.UNKNOWN
        known = self._cache.get(user_id)
        if why is NotMember.UNKNOWN and known is not None and known.person is not None and (
                known.until > time.monotonic()):
            # Slack did not answer this time (a fresh look at a decision): what it said of this
            # member minutes ago stands; only an answer, deleted or guest, takes it back.
            return known
        if person is not None and locale and await self._book_lacks(user_id, locale):
            await self._tell_book(user_id, locale)
        ttl = self._ttl if person is not None else self._refused_ttl
        entry = _Entry(time.monotonic() + ttl, person, why, locale)
        if len(self._cache) >= SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[user_id] = entry
        return entry
