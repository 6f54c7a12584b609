"""The work after an ack: what each command, click and submission does once Slack has its
HTTP 200, one handler per kind of work item (handlers/work/items.py), chosen by its type.

Listeners only commit the item and ack (``await ctx.later(ResetCommand(user, query, url))``);
the runtime (handlers/runtime/) decides where a Worker runs it, and neither the listeners nor
the work know which process that is. Every item is guarded: a failure is
logged with a reference id and the person gets a short apology with that id, never a stack
trace. ``WorkItem.answer_to`` says where that apology (and any refusal) goes: the command's
response_url, an ephemeral message in the clicked channel, or a DM.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import ResetRequest
from bot.jobs import JobRunner
from bot.service import Outcome, Person, ResetService, ShowFailed
from handlers.slack.context import PooledRespond
from handlers.slack.identity import Identity, NotAMember
from handlers.views import blocks, cards, dms, words
from handlers.views.i18n import t
from handlers.work.items import (
    Cancel,
    Decide,
    HomeOpened,
    LearnLocale,
    OpenPicker,
    PickerSubmitted,
    ReplyTo,
    ResetCommand,
    Reveal,
    StatusCommand,
    TryAgain,
    WorkItem,
)

log = logging.getLogger("handlers")

Say = Callable[[str], Awaitable[None]]


@dataclass
class Worker:
    """Runs work items against the core (service, job runner) and Slack's Web API, on this
    event loop (the runtime wraps it: handlers/runtime/inline.py)."""

    service: ResetService
    identity: Identity
    client: AsyncWebClient
    runner: JobRunner
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def later(self, item: WorkItem,
              then: Callable[[], Awaitable[None]] | None = None) -> asyncio.Task[None]:
        """Run ``item`` in a task of its own, then ``then`` (the runtime marks it done)."""

        async def work() -> None:
            await self.run(item)
            if then is not None:
                await then()

        return self.track(work(), type(item).__name__)

    def track(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run ``work`` in a task that ``settle`` and ``aclose`` wait for."""
        task = asyncio.create_task(work, name=name)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def run(self, item: WorkItem) -> None:
        work = HANDLERS.get(type(item))
        if work is None:
            log.error("no such work: %r", type(item).__name__[:40])
            return
        tell = _nobody if item.quiet else self.teller(item.user, item.answer_to())
        try:
            await work(self, item)
        except NotAMember as exc:
            await _quietly(tell(exc.text(self.identity.locale(item.user))))
        except Exception:
            ref = secrets.token_hex(4)
            log.exception("%s failed (ref %s)", item.what, ref)
            await _quietly(tell(t(self.identity.locale(item.user), "apology", ref=ref)))

    async def options(self, user_id: str, query: str) -> list[dict[str, Any]]:
        """The device picker's options: the person's own devices, or the fleet for approvers."""
        try:
            person = await self.person(user_id)
            devices = await self.service.find_devices(person, query, limit=100)
        except NotAMember:
            devices = []
        except Exception:  # an options load can only answer with options
            log.exception("device options failed")
            devices = []
        return dms.device_options(devices)

    async def settle(self, rounds: int = 20) -> None:
        """Wait until every work item and every due job has finished (tests, the demo)."""
        for _ in range(rounds):
            if self.tasks:
                await asyncio.gather(*list(self.tasks), return_exceptions=True)
            await self.runner.drain()
            if not self.tasks:
                return

    async def aclose(self) -> None:
        if self.tasks:
            await asyncio.gather(*list(self.tasks), return_exceptions=True)

    async def person(self, user_id: str, *, fresh: bool = False) -> Person:
        return await self.identity.person(user_id, fresh=fresh)

    def respond(self, response_url: str) -> PooledRespond:
        """Answer through a command's response_url (only ever to Slack: ``slack_hosted``)."""
        return PooledRespond(response_url, self.client.session, self.client.base_url)

    def teller(self, user: str, reply_to: ReplyTo, *, mrkdwn: bool = False) -> Say:
        """Tell ``user`` privately: by the command's response_url, ephemeral in the channel
        they clicked in, or else in a DM (App Home, the picker's modal). The message is plain
        text (escaped here), or with ``mrkdwn`` already escaped mrkdwn."""
        url, channel = reply_to.response_url, reply_to.channel

        async def tell(message: str) -> None:
            text = message[:2900] if mrkdwn else blocks.esc(message, 2900)
            if url:
                await self.respond(url)(
                    response_type="ephemeral", text=text, replace_original=False)
            elif channel and user:
                await self.client.chat_postEphemeral(channel=channel, user=user, text=text)
            elif user:
                await self.dm(user, text)

        return tell

    async def dm(self, user_id: str, text: str, body: list[blocks.Block] | None = None) -> None:
        opened = await self.client.conversations_open(users=user_id)
        await self.client.chat_postMessage(channel=opened["channel"]["id"], text=text,
                                           blocks=body or None)


async def _nobody(_: str) -> None:
    return None


async def _quietly(sending: Awaitable[None]) -> None:
    try:
        await sending
    except Exception:
        log.exception("could not tell the person about a failure")


Item = TypeVar("Item", bound=WorkItem)
Work = Callable[[Worker, Item], Awaitable[None]]

HANDLERS: dict[type[WorkItem], Work[Any]] = {}  # kind of item -> what does it


def handles(kind: type[Item]) -> Callable[[Work[Item]], Work[Item]]:
    """Register the work for one kind of item (one each: tests/unit/test_work_items.py)."""

    def register(work: Work[Item]) -> Work[Item]:
        if kind in HANDLERS:
            raise TypeError(f"{kind.__name__} has work already")
        HANDLERS[kind] = work
        return work

    return register


# --- /passcode ------------------------------------------------------------------------------

@handles(ResetCommand)
async def reset_command(w: Worker, item: ResetCommand) -> None:
    """/passcode reset <device>: a request, or why not, for the requester's eyes only."""
    person = await w.person(item.user)
    reply = await w.service.request_reset(person, item.query,
                                          request_id=item.request_id or None)
    locale = w.identity.locale(item.user)
    await w.respond(item.response_url)(
        response_type="ephemeral", text=words.reply_text(reply, locale)[:2900],
        blocks=dms.reply_blocks(reply, locale))


@handles(StatusCommand)
async def status_command(w: Worker, item: StatusCommand) -> None:
    person = await w.person(item.user)
    request_id = item.query
    found = await w.service.status(person, request_id or None)
    locale = w.identity.locale(item.user)
    empty = (
        t(locale, "status.not_found", id=blocks.literal(request_id, 20))
        if request_id
        else t(locale, "status.none")
    )
    text = "\n".join(cards.status_line(r, locale) for r in found) or empty
    await w.respond(item.response_url)(
        response_type="ephemeral", text=text[:2900],
        blocks=cards.status_blocks(found, empty, locale))


@handles(OpenPicker)
async def open_picker(w: Worker, item: OpenPicker) -> None:
    """/passcode reset with no device: the picker modal (trigger_id is good for 3 s)."""
    locale = await w.identity.locale_of(item.user)
    await w.client.views_open(trigger_id=item.trigger_id, view=dms.reset_modal(locale))


@handles(LearnLocale)
async def learn_locale(w: Worker, item: LearnLocale) -> None:
    """Someone's first /passcode help was answered in English: look their locale up."""
    await w.identity.locale_of(item.user)  # (which stores it for the fronts to read)


# --- clicks and the picker's modal -----------------------------------------------------------

@handles(Decide)
async def decide(w: Worker, item: Decide) -> None:
    """Approve or Deny: checked at click time (role, four eyes), decided exactly once."""
    person = await w.person(item.user, fresh=True)  # still a member, this minute
    reply = await w.service.decide(item.request, person, approve=item.approve)
    if not reply.ok:
        locale = w.identity.locale(item.user)
        await w.teller(item.user, item.reply_to, mrkdwn=True)(words.reply_text(reply, locale))
    if item.reply_to.from_home:
        await publish_home(w, item.user)


@handles(TryAgain)
async def try_again(w: Worker, item: TryAgain) -> None:
    """Try again on an unconfirmed reset: the same checks as Approve, exactly once."""
    person = await w.person(item.user, fresh=True)
    reply = await w.service.try_again(item.request, person)
    if not reply.ok:
        locale = w.identity.locale(item.user)
        await w.teller(item.user, item.reply_to, mrkdwn=True)(words.reply_text(reply, locale))


@handles(Cancel)
async def cancel(w: Worker, item: Cancel) -> None:
    person = await w.person(item.user)
    reply = await w.service.cancel(item.request, person)
    if not reply.ok:
        locale = w.identity.locale(item.user)
        await w.teller(item.user, item.reply_to, mrkdwn=True)(words.reply_text(reply, locale))


@handles(Reveal)
async def reveal(w: Worker, item: Reveal) -> None:
    """Show passcode: a modal for the requester only. The reveal counts once the modal is open;
    if Slack refuses it (the trigger_id is spent by then), the person is told to click again."""
    person = await w.person(item.user, fresh=True)
    locale = w.identity.locale(item.user)

    async def show(request: ResetRequest, passcode: str) -> None:
        try:
            await w.client.views_open(trigger_id=item.trigger_id,
                                      view=dms.passcode_modal(request, passcode, locale))
        except SlackApiError as exc:
            raise ShowFailed(str(exc.response.get("error") or "slack_error")) from None

    reply = await w.service.reveal(item.request, person, show)
    if reply.outcome is Outcome.SHOWN:
        return
    if reply.outcome is Outcome.NOT_SHOWN:
        await w.teller(item.user, item.reply_to, mrkdwn=True)(
            words.reply_text(reply, locale))
        return
    view = dms.notice_modal(t(locale, "modal.unavailable.title"),
                               words.reply_plain(reply, locale), locale)
    await w.client.views_open(trigger_id=item.trigger_id, view=view)


@handles(PickerSubmitted)
async def picker_submitted(w: Worker, item: PickerSubmitted) -> None:
    """The picker's modal was submitted (and closed): the answer comes as a DM."""
    person = await w.person(item.user)
    reply = await w.service.request_reset(person, device_id=item.device,
                                          request_id=item.request_id or None)
    locale = w.identity.locale(item.user)
    await w.dm(item.user, words.reply_text(reply, locale)[:2900], dms.reply_blocks(reply, locale))


@handles(HomeOpened)
async def home_opened(w: Worker, item: HomeOpened) -> None:
    await publish_home(w, item.user)


async def publish_home(w: Worker, user_id: str) -> None:
    """App Home: my requests, and for approvers the queue with Approve / Deny; for someone
    who may not use the bot, why not."""
    try:
        person = await w.person(user_id)
    except NotAMember as exc:
        view = cards.notice_home(exc.text(w.identity.locale(user_id)))
        await w.client.views_publish(user_id=user_id, view=view)
        return
    mine = await w.service.status(person)
    queue = await w.service.queue(person) if await w.service.is_approver(person) else None
    await w.client.views_publish(user_id=user_id, view=cards.home_view(mine, queue))
