"""`python -m bench.serve_bare --mode default|pbr --slack-url URL`: the baseline, a bare
slack-bolt AsyncApp whose listeners only ack, served exactly as ours is (Bolt's aiohttp
adapter, no access log). ``pbr`` is process_before_response=True."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bench import SIGNING_SECRET
from bench.child import rss_mb, serve_commands
from bench.proc import pin
from handlers.demo.slack_emulator import BOT_TOKEN


def bare_app(mode: str, slack_url: str) -> AsyncApp:
    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack_url),
        signing_secret=SIGNING_SECRET,
        process_before_response=mode == "pbr",
    )

    @app.command("/passcode")
    async def command(ack: AsyncAck) -> None:
        await ack()

    @app.action("approve")
    async def action(ack: AsyncAck) -> None:
        await ack()

    @app.options("device_pick")
    async def options(ack: AsyncAck) -> None:
        await ack(options=[])

    return app


async def main() -> None:
    pin()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=["default", "pbr"], required=True)
    parser.add_argument("--slack-url", required=True)
    args = parser.parse_args()
    runner = web.AppRunner(bare_app(args.mode, args.slack_url).web_app(path="/slack/events"),
                           access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]

    async def stats(_: list[str]) -> dict[str, Any]:
        return {"rss_mb": rss_mb()}

    try:
        await serve_commands({"port": port}, {"stats": stats})
    finally:
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
