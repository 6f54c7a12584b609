"""The Locales port (bot/ports.py) over the ``locales`` table: each person's Slack locale as a
worker's users.info last said it, read by the processes that ack."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.storage.connection import Database, Tx, dt, ts

# A locale that did not change keeps its stamp: the fronts read only what changed (a daily
# walk over users.list re-stamping every row made each of them read the whole workspace again).
_UPSERT = ("INSERT INTO locales (user_id, locale, learned_at) VALUES (?,?,?)"
           " ON CONFLICT (user_id) DO UPDATE SET locale = excluded.locale,"
           " learned_at = excluded.learned_at WHERE locales.locale <> excluded.locale")
# users.list's pages, stamped when the page came: a locale learnt after that (users.info
# answering meanwhile) is newer than the page and stays.
_UPSERT_LISTED = _UPSERT + " AND locales.learned_at <= excluded.learned_at"


class SqlLocales:
    _db: Database

    async def remember_locale(self, user_id: str, locale: str, now: datetime) -> None:
        await self._db.execute(_UPSERT, (user_id, locale, ts(now)))

    async def locale_of(self, user_id: str) -> str | None:
        rows = await self._db.read("SELECT locale FROM locales WHERE user_id = ?", (user_id,))
        return str(rows[0]["locale"]) if rows else None

    async def remember_locales(self, locales: Sequence[tuple[str, str]], now: datetime
                               ) -> set[str]:
        """Those of a users.list page Slack answered at ``now``; the people whose locale the
        book holds now is the page's (not those a newer users.info answer kept). (Stamped
        alike: fewer than ``locales_since``'s readers' ``limit`` at a time, or they would
        read the same rows again instead of the next.)"""

        async def work(tx: Tx) -> set[str]:
            await tx.executemany(_UPSERT_LISTED, [(user_id, locale, ts(now))
                                           for user_id, locale in locales])
            held = await tx.fetch(
                "SELECT user_id, locale FROM locales WHERE user_id IN ("
                + tx.dialect.rows_of_json(("TEXT",)) + ")",
                [tx.dialect.json_of_rows([user_id] for user_id, _ in locales)])
            page = dict(locales)
            return {r["user_id"] for r in held if page.get(r["user_id"]) == r["locale"]}

        return await self._db.write(work, bulk=True)

    async def last_walk(self) -> datetime | None:
        """When users.list was last walked to its end (``walked``), if ever."""
        rows = await self._db.read("SELECT finished_at FROM locale_walks WHERE id = 1")
        return _when(rows[0]["finished_at"]) if rows and rows[0]["finished_at"] else None

    async def walked(self, at: datetime) -> None:
        await self._db.execute(
            "INSERT INTO locale_walks (id, finished_at) VALUES (1, ?)"
            " ON CONFLICT (id) DO UPDATE SET finished_at = excluded.finished_at", (ts(at),))

    async def locales_since(self, since: datetime | None, limit: int
                            ) -> list[tuple[str, str, datetime]]:
        """(user id, locale, learned at) of the locales learnt at ``since`` or later (None:
        all), oldest first, at most ``limit``."""
        rows = await self._db.read(
            "SELECT user_id, locale, learned_at FROM locales WHERE learned_at >= ?"
            " ORDER BY learned_at LIMIT ?", (ts(since) or "", limit))
        return [(r["user_id"], r["locale"], _when(r["learned_at"])) for r in rows]


def _when(text: str) -> datetime:
    """A stamp as written (``ts``); one written by hand is read as UTC if it names no zone,
    and as long ago if it is no time at all, never an error every reader trips over."""
    try:
        when = dt(text) or _LONG_AGO
    except (ValueError, TypeError):  # (a row not written here: no time, or no text at all)
        return _LONG_AGO
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


_LONG_AGO = datetime(1970, 1, 1, tzinfo=UTC)
