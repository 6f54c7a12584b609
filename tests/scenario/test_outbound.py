"""Outbound only where it belongs: a reply goes to a response_url only on Slack's hosts (or,
for an emulator, the host of SLACK_API_URL). A signed request can still carry any
response_url (a compromised proxy, a replayed body, a Slack bug): the bot must not post what it
knows about devices and requests to another host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qsl, urlencode

import pytest
from aiohttp import web

from handlers.slack.context import slack_hosted
from tests.scenario.harness import Stack

API = "http://127.0.0.1:4000/api/"


@pytest.mark.parametrize(("url", "allowed"), [
    ("https://hooks.slack.com/commands/T1/2/abc", True),
    ("https://HOOKS.SLACK.COM/actions/T1/2/abc", True),
    ("https://hooks.slack-gov.com/commands/T1/2/abc", True),
    ("https://hooks.slack.com:443/commands/T1/2/abc", True),
    ("http://127.0.0.1:4000/response/x", True),  # the emulator's host, scheme and port
    ("http://hooks.slack.com/commands/T1/2/abc", False),  # not https
    ("https://hooks.slack.com:8443/commands/T1", False),
    ("https://hooks.slack.com.evil.example/commands/T1", False),
    ("https://evil.example/hooks.slack.com/", False),
    ("https://user:pw@hooks.slack.com/commands/T1", False),
    ("https://hooks.slack.com@evil.example/commands/T1", False),
    ("http://127.0.0.1:4001/response/x", False),  # another port of the same host
    ("https://127.0.0.1:4000/response/x", False),  # another scheme
    ("http://localhost:4000/response/x", False),
    ("https://hooks.slack.com:notaport/x", False),
    ("", False),
    ("javascript:alert(1)", False),
])
def test_only_slacks_hosts_receive_replies(url: str, allowed: bool) -> None:
    assert slack_hosted(url, API) is allowed


@pytest.fixture
async def elsewhere() -> AsyncIterator[tuple[str, list[str]]]:
    """A server on another port of this machine that records whatever reaches it."""
    seen: list[str] = []

    async def record(request: web.Request) -> web.Response:
        seen.append(await request.text())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/{tail:.*}", record)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/steal", seen
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("text", ["reset PIXEL8-ALICE", "status", "reset NO-SUCH-DEVICE"])
async def test_a_command_whose_response_url_is_elsewhere_sends_nothing_there(
    stack: Stack, elsewhere: tuple[str, list[str]], text: str
) -> None:
    url, seen = elsewhere
    fields = dict(parse_qsl(stack.driver.command_body("UALICE", text)))
    fields["response_url"] = url
    answer = await stack.driver.post(urlencode(fields))
    assert answer.status == 200
    await stack.settle()
    assert seen == []
    assert stack.emu.calls_to("response_url") == []
