"""What approvers and requesters read about a request outside their DMs: the approvals
channel's card (with the device's owner), /passcode status lines, help and App Home. Pure
functions over the primitives of handlers/views/blocks.py; every word from the catalogs. The
approvals channel is shared, so its card is worded in ``locale`` "en" unless told otherwise."""

from __future__ import annotations

import re

from bot.domain import ResetRequest, State
from handlers.views.blocks import (
    ACTION_APPROVE,
    ACTION_DENY,
    ACTION_TRY_AGAIN,
    Block,
    actions,
    button,
    context,
    esc,
    literal,
    mention,
    section,
    when,
)
from handlers.views.i18n import has, t
from handlers.views.words import failure_text, platform, refusal_text, warning_text
from policy.approval import same_email


def device_summary(r: ResetRequest, locale: str = "en") -> str:
    expected = t(locale, f"result.{r.expected.value}") if r.expected else "—"
    serial = literal(r.device_serial) if r.device_serial.strip() else t(locale, "unknown")
    return t(
        locale, "summary", name=literal(r.device_name), serial=serial,
        id=literal(r.device_id), platform=esc(platform(r.row, locale)),
        scope=t(locale, f"scope.{r.scope.value}"), expected=expected,
    )


# -- the device's owner -----------------------------------------------------------------
# Who owns the device is read and worded here only: the device's primary user as Intune
# reported it when the request was made (``device_owner_id``, reached at ``device_owner_email``).

OWNER_USER = "owner_user"  # request.surface: the owner's Slack user id, "" when none was found


def owner_email(r: ResetRequest) -> str:
    """The device's owner (its primary user) as the request recorded it; "" when userless."""
    return r.device_owner_email.strip()


def owner_user(r: ResetRequest) -> str:
    """The owner's Slack user id, once the notifier has looked it up; else ""."""
    return str(r.surface.get(OWNER_USER) or "")


def on_behalf(r: ResetRequest) -> bool:
    """The requester asks for someone else's device: the device has an owner, and the
    requester is not them (by directory id when both were recorded, else emails compared as
    policy compares them)."""
    if r.device_owner_id is not None and r.requester_principal:
        return bool(r.device_owner_id) and r.device_owner_id != r.requester_principal
    return bool(owner_email(r)) and not same_email(r.requester_email, owner_email(r))


def owner_name(r: ResetRequest) -> str:
    """The owner as mrkdwn: a mention when they are a Slack user (the requester, when it is
    their own device), else their email as a literal."""
    user = owner_user(r) if on_behalf(r) else r.requester_id
    return mention(user) if user else literal(owner_email(r))


def owner_line(r: ResetRequest, locale: str = "en") -> str:
    """The approvals post's line about the device's owner."""
    if not owner_email(r):
        return t(locale, "owner.line.none")
    if on_behalf(r):
        return t(locale, "owner.line.on_behalf", owner=owner_name(r),
                 requester=mention(r.requester_id))
    return t(locale, "owner.line.own", owner=owner_name(r))


def decide_buttons(block_id: str, r: ResetRequest, locale: str = "en") -> Block:
    return actions(block_id,
                   button(t(locale, "button.approve"), ACTION_APPROVE, r.id, "primary"),
                   button(t(locale, "button.deny"), ACTION_DENY, r.id, "danger"))


# -- approval message ------------------------------------------------------------------


def approval_message(r: ResetRequest, locale: str = "en") -> tuple[str, list[Block]]:
    text = t(locale, "card.text", name=literal(r.device_name), id=r.id)
    blocks = [
        section(t(locale, "card.head", requester=mention(r.requester_id), id=r.id)
                + f"\n{owner_line(r, locale)}"),
        section(device_summary(r, locale)),
    ]
    if r.warning:
        blocks.append(section(f":warning: {warning_text(r, locale)}"))
    who_approves = approvers_line(r, locale)
    if who_approves:
        blocks.append(context(who_approves))
    blocks.append(context(t(locale, "card.expires", when=when(r.approval_deadline, locale))))
    if r.state is State.AWAITING_APPROVAL:
        blocks.append(decide_buttons(f"decide:{r.id}", r, locale))
    elif r.state is State.UNCONFIRMED:
        blocks.extend(unconfirmed_blocks(r, locale))
    else:
        blocks.append(section(outcome_line(r, locale)))
    return text, blocks


def approvers_line(r: ResetRequest, locale: str = "en") -> str:
    """Who can approve this request, as the role source said when it was made: the roles,
    and with ROLES_FILE the people (a Slack id as a mention, an email as a literal)."""
    roles = [x for x in r.approver_roles.split("\n") if x.strip()]
    people = [x for x in r.approver_people.split("\n") if x.strip()]
    if not roles:
        return ""
    named = ", ".join(_role(role) for role in roles[:12])
    if not people:
        return t(locale, "approvers.roles", roles=named)
    shown = ", ".join(literal(p, 100) if "@" in p else mention(p) for p in people[:20])
    if len(people) > 20:
        shown += ", …"
    return t(locale, "approvers.people", people=shown, roles=named)


# A role name that can make no mrkdwn (no *, _, ~, `, link or domain): shown as words.
_PLAIN_ROLE = re.compile(r"[A-Za-z0-9 ():-]{1,100}")


def _role(name: str) -> str:
    """A role's name: as words when it cannot format, else (a custom role's or a roles file's
    name is the tenant's text) a literal."""
    return esc(name, 100) if _PLAIN_ROLE.fullmatch(name) else literal(name, 100)


def unconfirmed_blocks(r: ResetRequest, locale: str = "en") -> list[Block]:
    """An unconfirmed reset on the approvals post: what is known, and Try again (issue 12)."""
    return [
        section(f"{outcome_line(r, locale)}\n{failure_text(r, locale)}"),
        actions(f"again:{r.id}",
                button(t(locale, "button.try_again"), ACTION_TRY_AGAIN, r.id)),
    ]


_OUTCOMES = {State.REVEALED: "completed", State.PASSCODE_EXPIRED: "completed"}


def outcome_line(r: ResetRequest, locale: str = "en") -> str:
    by = t(locale, "by", who=mention(r.decided_by)) if r.decided_by else ""
    key = f"card.outcome.{_OUTCOMES.get(r.state, r.state.value)}"
    if r.state is State.FAILED:
        return t(locale, key, by=by, failure=failure_text(r, locale))
    if has(key):
        return t(locale, key, by=by)
    return t(locale, "card.outcome.other", state=t(locale, f"state.{r.state.value}"))


# -- status, help, home -------------------------------------------------------------------


def status_line(r: ResetRequest, locale: str = "en") -> str:
    """One request in /passcode status and App Home, in the person's language."""
    line = t(locale, "status.line", id=r.id, name=literal(r.device_name),
             state=t(locale, f"state.{r.state.value}"), when=when(r.created_at, locale))
    if r.refusal:
        line += f"\n>{refusal_text(r, locale, hint=False)}"
    if r.surface.get("delivery_problem"):
        line += "\n>" + t(locale, "status.delivery_problem")
    return line


def status_blocks(requests: list[ResetRequest], empty: str, locale: str = "en") -> list[Block]:
    if not requests:
        return [section(empty)]
    return [section(status_line(r, locale)) for r in requests[:40]]


def help_text(locale: str = "en") -> str:
    return t(locale, "help")


def help_blocks(locale: str = "en") -> list[Block]:
    return [section(help_text(locale))]


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text}}


def home_view(mine: list[ResetRequest], queue: list[ResetRequest] | None,
              locale: str = "en") -> Block:
    blocks: list[Block] = [
        _header(t(locale, "home.mine")),
        *status_blocks(mine, t(locale, "home.mine.none"), locale),
    ]
    if queue is not None:
        blocks.append({"type": "divider"})
        blocks.append(_header(t(locale, "home.queue")))
        if not queue:
            blocks.append(section(t(locale, "home.queue.none")))
        for r in queue[:20]:
            blocks.append(section(f"{mention(r.requester_id)} · *{r.id}*\n"
                                  f"{owner_line(r, locale)}\n{device_summary(r, locale)}"))
            blocks.append(decide_buttons(f"home:{r.id}", r, locale))
    return {"type": "home", "blocks": blocks[:100]}


def notice_home(text: str, locale: str = "en") -> Block:
    """App Home for someone who may not use the bot: why not (plain text)."""
    return {"type": "home", "blocks": [_header(t(locale, "home.notice")),
                                       section(esc(text, 2900))]}
