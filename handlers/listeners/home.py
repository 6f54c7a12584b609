"""App Home: my requests, and for approvers the queue with Approve / Deny (built after the
ack by handlers.work.publish_home)."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers.slack.context import Context
from handlers.work.items import HomeOpened


def register(app: AsyncApp, ctx: Context) -> None:
    @app.event("app_home_opened")
    async def handle_home_opened(event: dict[str, Any]) -> None:
        """Publish the Home tab whenever someone opens it."""
        user_id = str(event.get("user") or "")
        if event.get("tab", "home") != "home" or not user_id or not ctx.admit(user_id):
            return
        await ctx.later(HomeOpened(user_id))  # Bolt acks the event after this returns
