"""`passcode-bot`: serve (the default), web, worker, demo, check-config, status, check-db and
the operator tools (rotate-key, audit, migrate-store)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot import cli as core_cli
from bot.config import ConfigError, load_settings
from bot.logs import setup_logging
from bot.storage import StoreError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="passcode-bot",
        description="Slack bot for approved, audited passcode resets of Intune-managed devices.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser(
        "serve",
        help="run the bot (the default): HTTP, or Socket Mode with SLACK_APP_TOKEN; the acks "
        "and, with BACKGROUND_WORK=process, a worker process at WORKER_PRIORITY",
    )
    sub.add_parser(
        "web",
        help="only acknowledge Slack (and answer the picker, open its modals); the work "
        "waits in the database for a `passcode-bot worker`",
    )
    worker = sub.add_parser(
        "worker", help="only do the work after the acks (the inbox and the jobs); no Slack door")
    worker.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # started by `serve`
    sub.add_parser(
        "demo",
        help="a scripted conversation on a local Slack emulator; no tokens needed",
    )
    sub.add_parser("check-config", help="validate the settings and print a summary")
    status = sub.add_parser("status", help="read a running bot's GET /readyz and print its "
                            "checks; exits 1 when it is not ready")
    status.add_argument("--url", help="the /readyz to read (default STATUS_URL, else "
                        "http://127.0.0.1:PORT/readyz)")
    sub.add_parser(
        "check-db",
        help="check that the database is consistent (states, sealed passcodes, audit chain, "
        "jobs); exits 1 listing the problems",
    )
    sub.add_parser(
        "rotate-key",
        help="re-seal stored passcodes under PASSCODE_BOT_SECRET, opening them with "
        "PASSCODE_BOT_OLD_SECRETS",
    )
    migrate = sub.add_parser(
        "migrate-store",
        help="copy requests, the audit chain, jobs, the inbox's work and the simulated "
        "resets into another, empty database (SQLite to PostgreSQL or back)",
    )
    migrate.add_argument("--from", dest="source", required=True, metavar="URL",
                         help="sqlite:///path/to/file.db or postgresql://user:pw@host:5432/db")
    migrate.add_argument("--to", dest="target", required=True, metavar="URL")
    audit = sub.add_parser("audit", help="verify or export the audit trail")
    audit_sub = audit.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    audit_sub.add_parser("verify", help="check the hash chain: edited, deleted or reordered events")
    export = audit_sub.add_parser(
        "export", help="who requested, who approved, which device, when, outcome"
    )
    export.add_argument("--since", help="only events at or after this date/time (ISO 8601)")
    export.add_argument("--format", choices=["jsonl", "csv"], default="jsonl")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup_logging()  # text until the settings say otherwise
    command = args.command or "serve"
    if command == "demo":
        from handlers.demo.run import run_demo

        logging.getLogger().setLevel(logging.WARNING)
        return asyncio.run(run_demo())
    if command == "check-config":
        return core_cli.check_config()
    if command == "status":
        from handlers.slack.health import status as ready_status

        try:
            settings = load_settings()
        except ConfigError as exc:
            print(f"passcode-bot: {exc}", file=sys.stderr)
            return 2
        url = args.url or settings.status_url or f"http://127.0.0.1:{settings.port}/readyz"
        return asyncio.run(ready_status(url))
    if command == "migrate-store":
        try:
            return asyncio.run(core_cli.migrate_store(args.source, args.target))
        except StoreError as exc:
            print(f"passcode-bot: {exc}", file=sys.stderr)
            return 2
    if command in {"rotate-key", "audit", "check-db"}:
        try:
            settings = load_settings()
            setup_logging(json_lines=settings.log_format == "json")
            if command == "check-db":
                from bot.consistency import check_db

                return asyncio.run(check_db(settings.database_path))
            if command == "rotate-key":
                return asyncio.run(core_cli.rotate_key(settings))
            if args.audit_command == "verify":
                return asyncio.run(core_cli.audit_verify(settings))
            return asyncio.run(core_cli.audit_export(settings, args.since, args.format))
        except (ConfigError, StoreError) as exc:
            print(f"passcode-bot: {exc}", file=sys.stderr)
            return 2
    from handlers.bootstrap import serve
    from handlers.runtime import RuntimeGone

    try:
        settings = load_settings()
        setup_logging(json_lines=settings.log_format == "json")
        if command == "worker":
            from handlers.runtime.worker import work

            return asyncio.run(work(settings, args.parent))
        return asyncio.run(serve(settings, "web" if command == "web" else "serve"))
    except (ConfigError, StoreError) as exc:
        print(f"passcode-bot: {exc}", file=sys.stderr)
        return 2
    except RuntimeGone as exc:
        print(f"passcode-bot: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
