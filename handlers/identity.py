"""Who clicked: a Slack user id -> Person with the profile email from users.info (cached)."""

from __future__ import annotations

import time

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.service import Person

TTL_S = 600.0


class NoEmail(Exception):
    """Slack gave no email for the user (bots, or a missing users:read.email scope)."""


class Identity:
    def __init__(self, client: AsyncWebClient, ttl_s: float = TTL_S) -> None:
        self._client = client
        self._ttl = ttl_s
        self._cache: dict[str, tuple[float, Person, str]] = {}
        self._locales: dict[str, tuple[float, str]] = {}  # users without an email, too

    async def person(self, user_id: str) -> Person:
        hit = self._cache.get(user_id)
        if hit and hit[0] > time.monotonic():
            return hit[1]
        try:
            answer = await self._client.users_info(user=user_id, include_locale=True)
        except SlackApiError as exc:
            raise NoEmail(f"Slack did not tell me who you are ({exc.response.get('error')}).") from None
        user = answer.get("user") or {}
        profile = user.get("profile") or {}
        email = str(profile.get("email") or "")
        if not email:
            raise NoEmail(
                "Slack did not give me your email address, so I cannot match you to your devices."
            )
        name = str(profile.get("real_name") or user.get("real_name") or user.get("name") or "")
        person = Person(user_id, email, name)
        self._cache[user_id] = (time.monotonic() + self._ttl, person, str(user.get("locale") or ""))
        return person

    def locale(self, user_id: str) -> str:
        """The cached Slack locale ("sv-SE"), or "" when not looked up yet."""
        hit = self._cache.get(user_id)
        if hit:
            return hit[2]
        seen = self._locales.get(user_id)
        return seen[1] if seen else ""

    def learn(self, user_id: str, locale: str) -> None:
        """Remember a locale looked up elsewhere (the worker process tells the front)."""
        self._locales[user_id] = (time.monotonic() + self._ttl, locale)

    async def locale_of(self, user_id: str) -> str:
        """The person's Slack locale, looked up (users.info, include_locale) when not cached.
        Never raises: any failure reads as "" (English)."""
        hit = self._cache.get(user_id)
        if hit and hit[0] > time.monotonic():
            return hit[2]
        seen = self._locales.get(user_id)
        if seen and seen[0] > time.monotonic():
            return seen[1]
        try:
            answer = await self._client.users_info(user=user_id, include_locale=True)
            locale = str((answer.get("user") or {}).get("locale") or "")
        except Exception:  # noqa: BLE001 - a message in English beats no message
            return self.locale(user_id)
        self._locales[user_id] = (time.monotonic() + self._ttl, locale)
        return locale
