"""App Home: my requests, and for approvers the queue with Approve / Deny."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from handlers import blocks
from handlers.context import Context


async def publish_home(ctx: Context, user_id: str) -> None:
    person = await ctx.person(user_id)
    mine = await ctx.service.status(person)
    queue = await ctx.service.queue() if await ctx.service.is_approver(person) else None
    await ctx.client.views_publish(user_id=user_id, view=blocks.home_view(mine, queue))


def register(app: AsyncApp, ctx: Context) -> None:
    @app.event("app_home_opened")
    async def handle_home_opened(event: dict[str, Any]) -> None:
        """Publish the Home tab whenever someone opens it."""
        user_id = str(event.get("user") or "")
        if event.get("tab", "home") != "home" or not user_id:
            return

        async def nobody_to_tell(_: str) -> None:
            return None

        ctx.spawn(publish_home(ctx, user_id), nobody_to_tell, "app home")
