"""Who a person is in Entra ID: a Slack email -> exactly one Entra user (by userPrincipalName,
then mail; policy.membership.match_directory_user), cached briefly (product.md, "Decisions of
2026-12": "Who a person is"; fact sheet §7).

Graph's ``eq`` on these properties is case-insensitive, and filters have matched loosely
before (fact sheet "Checked 2026-12", Filters): every row is re-checked here, and two users
with the address are a refusal, never a guess."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from bot.backends.graph_http import GraphClient
from bot.ports import Clock, Identity
from policy.membership import (
    DirectoryEntry,
    NoDirectoryUser,
    email_key,
    match_directory_user,
)

logger = logging.getLogger(__name__)

USERS = "v1.0/users"
SELECT = "id,userPrincipalName,mail,displayName"


def odata_literal(value: str) -> str:
    """An OData string literal: quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


def entry_of(row: Any) -> DirectoryEntry | None:
    if not isinstance(row, dict) or not isinstance(row.get("id"), str):
        return None
    def text(key: str) -> str:
        value = row.get(key)
        return value.strip() if isinstance(value, str) else ""

    return DirectoryEntry(text("id"), text("userPrincipalName"), text("mail"),
                          text("displayName"))


class GraphPeople:
    """Slack emails -> Entra users through ``GET /users?$filter=``, cached for ``ttl``."""

    def __init__(self, graph: GraphClient, *, clock: Clock | None = None,
                 ttl: timedelta = timedelta(seconds=60)) -> None:
        self.graph = graph
        self._clock: Clock = clock or graph.clock
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, Identity]] = {}

    async def identify(self, email: str) -> Identity:
        """The one Entra user for ``email``, or why none (NoDirectoryUser). Raises
        BackendError when Graph cannot say (retryable for outages); nothing is cached then."""
        key = email_key(email)
        if not key:
            return Identity(refusal=NoDirectoryUser.NONE.value)
        now = self._clock.now()
        cached = self._cache.get(key)
        if cached is not None and now < cached[0]:
            return cached[1]
        found = await self._lookup(key)
        self._cache[key] = (now + self._ttl, found)
        if found.refusal:
            logger.info("no single Entra user for %s: %s", key, found.refusal)
        return found

    async def _lookup(self, key: str) -> Identity:
        rows: list[DirectoryEntry] = []
        # By UPN first; by mail only when no user's UPN is the address (the order of the rule).
        for prop in ("userPrincipalName", "mail"):
            rows.extend(await self._users_where(prop, key))
            found = match_directory_user(key, rows)
            if isinstance(found, DirectoryEntry):
                return Identity(found.id, upn=found.upn, display_name=found.display_name,
                                mail=found.mail)
            if found is NoDirectoryUser.AMBIGUOUS:
                return Identity(refusal=found.value)
        return Identity(refusal=NoDirectoryUser.NONE.value)

    async def _users_where(self, prop: str, key: str) -> list[DirectoryEntry]:
        found: list[DirectoryEntry] = []
        async for page in self.graph.pages(
            USERS, params={"$filter": f"{prop} eq {odata_literal(key)}", "$select": SELECT},
            what="the user",
        ):
            found.extend(e for e in map(entry_of, page) if e is not None)
        return found
