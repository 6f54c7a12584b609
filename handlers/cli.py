"""`passcode-bot`: serve (the default), demo, check-config."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot import cli as core_cli
from bot.config import ConfigError, load_settings


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="passcode-bot",
        description="Slack bot for approved, audited passcode resets of Intune-managed devices.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("serve", help="run the bot (the default): HTTP, or Socket Mode with SLACK_APP_TOKEN")
    sub.add_parser("demo", help="a scripted conversation on a local Slack emulator; no tokens needed")
    sub.add_parser("check-config", help="validate the settings and print a summary")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    command = args.command or "serve"
    if command == "demo":
        from handlers.demo import run_demo

        logging.getLogger().setLevel(logging.WARNING)
        return asyncio.run(run_demo())
    if command == "check-config":
        return core_cli.check_config()
    from handlers.server import serve

    try:
        asyncio.run(serve(load_settings()))
    except ConfigError as exc:
        print(f"passcode-bot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
