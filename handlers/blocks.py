"""Block Kit builders (pure functions) and the action / callback ids they use.

Two ways text enters mrkdwn here. Our own words go through ``esc`` (&, <, > escaped).
Every string a person or Intune controls — device names, serial numbers, device ids, owner
emails, a typed query echoed back, failure details from the backend — goes through
``literal``: shown inside a code span, so it can make no bold, italic, strike, link,
mention, emoji or code break, and no ``<!channel>`` or ``<@U…>`` in it ever pings anyone.
Plain-text objects (modal titles, headers, option text) show text as is."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from bot.domain import ResetRequest, State
from bot.ports import Device, FailureCode
from handlers.i18n import has, t
from handlers.i18n import when as moment_text
from policy.approval import same_email
from policy.platforms import MATRIX, Result, Scope

ACTION_APPROVE = "approve"
ACTION_DENY = "deny"
ACTION_CANCEL = "cancel"
ACTION_REVEAL = "reveal"
ACTION_DEVICE_PICK = "device_pick"
ACTION_TRY_AGAIN = "try_again"  # on an unconfirmed reset's approvals post (issue 12)
BLOCK_DEVICE = "device"
CALLBACK_RESET_MODAL = "reset_modal"

Block = dict[str, Any]

def _escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def esc(text: object, limit: int = 500) -> str:
    """Our own words in mrkdwn: escape &, <, > and bound the length. Not for text a person
    or Intune controls (``literal``): it would still format (*bold*, _italic_, links)."""
    s = str(text)
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return _escape(s)


# A backtick would end the code span ``literal`` puts text in: it becomes U+02CB MODIFIER
# LETTER GRAVE ACCENT, which looks the same and formats nothing.
BACKTICK_STAND_IN = "\u02cb"
EMPTY = "—"
_LINE_BREAKS = re.compile("[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]+")
# Bidirectional embeddings, overrides and isolates would reorder what follows the code span
# on screen; each shows as U+FFFD (the replacement character) instead.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def literal(text: object, limit: int = 200) -> str:
    """A string a person or Intune controls, shown in mrkdwn exactly as it is and unable to
    format: inside an inline code span, with each backtick shown as U+02CB (see
    ``BACKTICK_STAND_IN``), &, < and > escaped, line breaks folded to spaces, bidirectional
    controls shown as U+FFFD, at most ``limit`` characters (then "…"). Empty (or only
    spaces): "—"."""
    s = _LINE_BREAKS.sub(" ", "" if text is None else str(text)).strip()
    if not s:
        return EMPTY
    if len(s) > limit:
        s = s[: max(limit - 1, 0)].rstrip() + "…"
    s = _BIDI_CONTROLS.sub("\ufffd", s.replace("`", BACKTICK_STAND_IN))
    return f"`{_escape(s)}`"


def mention(user_id: str) -> str:
    """A user mention, only for ids we got from Slack itself (never for typed text)."""
    return f"<@{user_id}>" if user_id.isalnum() else literal(user_id, 40)


def when(moment: datetime | None, locale: str | None = "en") -> str:
    """A moment as the reader's language writes it (``i18n.when``, Babel)."""
    return moment_text(locale, moment)


def fit(text: str, limit: int = 3000) -> str:
    """mrkdwn cut to Slack's ``limit`` without cutting a literal's code span in half: the rest
    of a half span would be read as markup (``literal`` spans hold no backtick inside)."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if cut.count("`") % 2:
        cut = cut[: cut.rindex("`")]
    return cut + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": fit(text)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": fit(text)}]}


def button(text: str, action_id: str, value: str, style: str | None = None) -> Block:
    b: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action_id,
        "value": value,
    }
    if style:
        b["style"] = style
    return b


def actions(block_id: str, *elements: Block) -> Block:
    return {"type": "actions", "block_id": block_id[:255], "elements": list(elements)}


def device_summary(r: ResetRequest, locale: str = "en") -> str:
    expected = t(locale, f"result.{r.expected.value}") if r.expected else "—"
    serial = literal(r.device_serial) if r.device_serial.strip() else t(locale, "unknown")
    return t(
        locale, "summary", name=literal(r.device_name), serial=serial,
        id=literal(r.device_id), platform=esc(MATRIX[r.row].label),
        scope=t(locale, f"scope.{r.scope.value}"), expected=expected,
    )


# -- the device's owner -----------------------------------------------------------------
# Who owns the device is read and worded here only: today the device's primary user's email
# as Intune reported it when the request was made (``device_owner_email``).

OWNER_USER = "owner_user"  # request.surface: the owner's Slack user id, "" when none was found


def owner_email(r: ResetRequest) -> str:
    """The device's owner (its primary user) as the request recorded it; "" when userless."""
    return r.device_owner_email.strip()


def owner_user(r: ResetRequest) -> str:
    """The owner's Slack user id, once the notifier has looked it up; else ""."""
    return str(r.surface.get(OWNER_USER) or "")


def on_behalf(r: ResetRequest) -> bool:
    """The requester asks for someone else's device: the device has an owner, and the
    requester is not them (emails compared as policy compares them)."""
    return bool(owner_email(r)) and not same_email(r.requester_email, owner_email(r))


def owner_name(r: ResetRequest) -> str:
    """The owner as mrkdwn: a mention when they are a Slack user (the requester, when it is
    their own device), else their email as a literal."""
    user = owner_user(r) if on_behalf(r) else r.requester_id
    return mention(user) if user else literal(owner_email(r))


def owner_line(r: ResetRequest) -> str:
    """The approvals post's line about the device's owner (English: a shared channel)."""
    if not owner_email(r):
        return "*Owner:* none — this device has no primary user."
    if on_behalf(r):
        return (f"*Owner:* {owner_name(r)} (primary user) — not the requester: "
                f"{mention(r.requester_id)} acts on behalf of {owner_name(r)}.")
    return f"*Owner:* {owner_name(r)} (primary user) — the requester's own device."


# -- approval message ------------------------------------------------------------------


def approval_message(r: ResetRequest) -> tuple[str, list[Block]]:
    text = f"Passcode reset requested for {literal(r.device_name)} ({r.id})"
    blocks = [
        section(f":key: {mention(r.requester_id)} asks for a passcode reset — *{r.id}*\n"
                f"{owner_line(r)}"),
        section(device_summary(r)),
    ]
    if r.warning:
        blocks.append(section(f":warning: {esc(r.warning)}"))
    blocks.append(context(f"Undecided requests expire at {when(r.approval_deadline)}."))
    if r.state is State.AWAITING_APPROVAL:
        blocks.append(
            actions(
                f"decide:{r.id}",
                button("Approve", ACTION_APPROVE, r.id, "primary"),
                button("Deny", ACTION_DENY, r.id, "danger"),
            )
        )
    elif r.state is State.UNCONFIRMED:
        blocks.extend(unconfirmed_blocks(r))
    else:
        blocks.append(section(outcome_line(r)))
    return text, blocks


def unconfirmed_blocks(r: ResetRequest, locale: str = "en") -> list[Block]:
    """An unconfirmed reset on the approvals post: what is known, and Try again (issue 12)."""
    by = t(locale, "by", who=mention(r.decided_by)) if r.decided_by else ""
    return [
        section(":grey_question: " + t(locale, "approval.unconfirmed", by=by)),
        actions(f"again:{r.id}", button(t(locale, "button.try_again"), ACTION_TRY_AGAIN, r.id)),
    ]


def outcome_line(r: ResetRequest) -> str:
    by = f" by {mention(r.decided_by)}" if r.decided_by else ""
    lines = {
        State.APPROVED: f":white_check_mark: Approved{by}; the reset is starting.",
        State.EXECUTING: f":hourglass_flowing_sand: Approved{by}; the reset is running.",
        State.DENIED: f":no_entry: Denied{by}.",
        State.CANCELLED: ":leftwards_arrow_with_hook: Cancelled by the requester.",
        State.EXPIRED: ":alarm_clock: Expired: nobody decided in time.",
        State.COMPLETED: f":white_check_mark: Approved{by}; the reset completed.",
        State.REVEALED: f":white_check_mark: Approved{by}; the reset completed.",
        State.PASSCODE_EXPIRED: f":white_check_mark: Approved{by}; the reset completed.",
        State.FAILED: f":x: Approved{by}; the reset failed: {failure_text(r)}",
    }
    return lines.get(r.state, f"Request is {r.state.label}.")


# -- direct messages to the requester ----------------------------------------------------


def waiting_dm(r: ResetRequest, locale: str = "en") -> tuple[str, list[Block]]:
    name = literal(r.device_name)
    if r.state is State.AWAITING_APPROVAL:
        text = t(locale, "dm.waiting", name=name, id=r.id)
        blocks = [section(f":hourglass: {text}"), section(device_summary(r, locale))]
    else:
        text = t(locale, "dm.title", name=name, id=r.id)
        # Not in bold: a literal inside our own *…* could be read as closing it.
        blocks = [section(f":memo: {text}"), section(device_summary(r, locale))]
    if r.state is State.AWAITING_APPROVAL:
        blocks.append(actions(
            f"cancel:{r.id}", button(t(locale, "button.cancel"), ACTION_CANCEL, r.id)
        ))
    else:
        blocks.append(section(decision_dm_line(r, locale)))
    return text, blocks


def decision_dm_line(r: ResetRequest, locale: str = "en") -> str:
    by = t(locale, "by", who=mention(r.decided_by)) if r.decided_by else ""
    if r.state is State.DENIED:
        return t(locale, "dm.denied", by=by)
    if r.state is State.CANCELLED:
        return t(locale, "dm.cancelled")
    if r.state is State.EXPIRED:
        return t(locale, "dm.expired")
    return t(locale, "dm.approved", by=by)


HINT_KEYS = {
    FailureCode.RESET_TOKEN_NOT_ACTIVATED: "hint.reset_token_not_activated",
    FailureCode.IOS_UNLOCK_TOKEN: "hint.ios_unlock_token",
    FailureCode.NO_PASSCODE_POLICY: "hint.no_passcode_policy",
}


def failure_hint(r: ResetRequest, locale: str = "en") -> str | None:
    code = failure_hint_code(r)
    return None if code is None else t(locale, HINT_KEYS[code])


def failure_hint_code(r: ResetRequest) -> FailureCode | None:
    """The product's advice for a failed reset: from the failure code when the backend named
    the cause, else from the platform row (Intune reports only that the action failed)."""
    known = {c.value for c in FailureCode}
    code = FailureCode(r.failure_code) if r.failure_code in known else None
    if code in HINT_KEYS:
        return code
    if code not in {None, FailureCode.BACKEND_ERROR, FailureCode.NOT_SUPPORTED}:
        return None
    if r.expected is Result.PASSCODE_REMOVED:
        return FailureCode.IOS_UNLOCK_TOKEN
    if r.scope is Scope.WORK_PROFILE:
        return FailureCode.RESET_TOKEN_NOT_ACTIVATED
    if MATRIX[r.row].needs_passcode_policy:
        return FailureCode.NO_PASSCODE_POLICY
    return None


# Failures the service words itself; any other detail is the backend's, shown as a literal.
OWN_FAILURE_WORDS = frozenset({FailureCode.TIMED_OUT.value, FailureCode.DEVICE_NOT_FOUND.value})


def failure_text(r: ResetRequest, locale: str = "en") -> str:
    """What failed, as mrkdwn: the backend's own detail cannot format."""
    if not r.failure_detail.strip():
        return esc(t(locale, "failure.generic"))
    if r.failure_code in OWN_FAILURE_WORDS:
        return esc(r.failure_detail)
    return literal(r.failure_detail, 500)


def result_dm(r: ResetRequest, locale: str = "en") -> tuple[str, list[Block]]:
    """The DM with the outcome. Never contains the passcode itself."""
    name = literal(r.device_name)
    if r.state is State.UNCONFIRMED:
        text = t(locale, "result.unconfirmed", name=name, id=r.id)
        return text, [section(f":grey_question: {text} {t(locale, 'result.unconfirmed.more')}")]
    if r.state is State.FAILED:
        text = t(locale, "result.failed", name=name, id=r.id)
        blocks = [section(f":x: {text}\n{failure_text(r, locale)}")]
        hint = failure_hint(r, locale)
        if hint:
            blocks.append(section(esc(hint)))
        return text, blocks
    if r.state is State.PASSCODE_EXPIRED:
        text = t(locale, "result.expired", name=name, id=r.id)
        return text, [section(f":lock: {text} {t(locale, 'result.expired.more')}")]
    if r.has_passcode:
        kind = t(locale, f"result.{(r.expected or Result.NEW_PASSCODE).value}")
        text = t(locale, "result.ready", kind=kind[:1].upper() + kind[1:], name=name, id=r.id)
        blocks = [
            section(f":key: {text} {t(locale, f'result.type.{r.scope.value}')}"),
            context(t(locale, "result.only_you", until=when(r.passcode_expires_at, locale))),
            actions(f"reveal:{r.id}",
                    button(t(locale, "button.show"), ACTION_REVEAL, r.id, "primary")),
        ]
        return text, blocks
    if r.expected is Result.PASSCODE_REMOVED:
        text = t(locale, "result.removed", name=name, id=r.id)
        return text, [section(f":unlock: {text} {t(locale, 'result.removed.more')}")]
    text = t(locale, "result.none", name=name, id=r.id)
    return text, [section(f":grey_question: {text} {t(locale, 'result.none.more')}")]


# -- direct messages to the device's owner ----------------------------------------------

OWNER_APPROVED, OWNER_RESULT = "owner_approved", "owner_result"  # which owner DM


def owner_dm(r: ResetRequest, which: str, locale: str = "en") -> tuple[str, list[Block]]:
    """The owner hears that someone else's reset of their device was approved (``which`` is
    OWNER_APPROVED) or has ended (OWNER_RESULT). Never the passcode, never a button."""
    values = {"name": literal(r.device_name), "id": r.id, "requester": mention(r.requester_id)}
    if which == OWNER_APPROVED:
        text = t(locale, "owner.approved", approver=mention(r.decided_by), **values)
    elif r.state is State.FAILED:
        text = t(locale, "owner.failed", **values)
    else:
        text = t(locale, "owner.completed", **values)
    return text, [section(text), context(t(locale, "owner.unexpected"))]


# -- modals -----------------------------------------------------------------------------


def passcode_modal(r: ResetRequest, passcode: str, locale: str = "en") -> Block:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": t(locale, "modal.passcode.title")},
        "close": {"type": "plain_text", "text": t(locale, "modal.done")},
        "blocks": [
            section(t(locale, "modal.passcode.device", name=literal(r.device_name), id=r.id)),
            {"type": "header", "text": {"type": "plain_text", "text": passcode}},
            section(t(locale, f"modal.passcode.type.{r.scope.value}")),
            context(t(locale, "modal.passcode.until", until=when(r.passcode_expires_at, locale))),
        ],
    }


def notice_modal(title: str, text: str, locale: str = "en") -> Block:
    return {
        "type": "modal",
        "title": {"type": "plain_text", "text": title[:24]},
        "close": {"type": "plain_text", "text": t(locale, "modal.close")},
        "blocks": [section(esc(text, 2900))],
    }


def reset_modal(locale: str = "en") -> Block:
    return {
        "type": "modal",
        "callback_id": CALLBACK_RESET_MODAL,
        "title": {"type": "plain_text", "text": t(locale, "picker.title")},
        "submit": {"type": "plain_text", "text": t(locale, "picker.submit")},
        "close": {"type": "plain_text", "text": t(locale, "picker.cancel")},
        "blocks": [
            {
                "type": "input",
                "block_id": BLOCK_DEVICE,
                "label": {"type": "plain_text", "text": t(locale, "picker.device")},
                "element": {
                    "type": "external_select",
                    "action_id": ACTION_DEVICE_PICK,
                    "placeholder": {"type": "plain_text", "text": t(locale, "picker.placeholder")},
                    "min_query_length": 0,
                },
            },
            context(t(locale, "picker.note")),
        ],
    }


def device_options(devices: list[Device]) -> list[Block]:
    options = []
    for d in devices[:100]:
        label = f"{d.name} · {d.serial}" if d.serial else d.name
        options.append(
            {"text": {"type": "plain_text", "text": label[:75]}, "value": d.id[:150]}
        )
    return options


# -- status, help, home -------------------------------------------------------------------


def status_line(r: ResetRequest, locale: str = "en") -> str:
    """One request in /passcode status (in the person's language) and App Home (English)."""
    line = t(locale, "status.line", id=r.id, name=literal(r.device_name),
             state=t(locale, f"state.{r.state.value}"), when=when(r.created_at, locale))
    if r.reason:
        # Worded here in every language: a stored reason may quote the device (its OS version).
        reason = refusal_text(r, locale, hint=False)
        line += f"\n>{esc(r.reason) if reason is None else reason}"
    if r.surface.get("delivery_problem"):
        line += "\n>" + t(locale, "status.delivery_problem")
    return line


def status_blocks(requests: list[ResetRequest], empty: str, locale: str = "en") -> list[Block]:
    if not requests:
        return [section(empty)]
    return [section(status_line(r, locale)) for r in requests[:40]]


# -- refusals in the person's language ----------------------------------------------------------

Params = Mapping[str, str | int]

# The service's keys for refusals; verdict refusals carry no values, and the catalog's English
# of every key here is the service's (policy's) English word for word (tests/unit check it).
REFUSAL_KEYS = frozenset({"refused.userless", "refused.not_yours", "refused.unknown_os_version",
                          "refused.old_os_version"})
_UNKNOWN_VERSION, _OLD_VERSION = "refused.unknown_os_version", "refused.old_os_version"


def refusal_text(r: ResetRequest, locale: str, key: str = "", params: Params | None = None,
                 *, hint: bool = True, recognise: bool = True) -> str | None:
    """A refused request's reason (and hint) in the locale's language, as escaped mrkdwn, or
    None when the reason is not one the bot words itself (the stored English then stands).
    A reply passes the service's key and values (``recognise=False``: never read the English);
    a stored request has none, and its reason is recognised (see ``refusal_key``)."""
    found = refusal_key(r, key, params, recognise=recognise)
    if found is None:
        return None
    key, values = found
    text = _refusal_reason(r, locale, key, values)
    if hint and r.hint:
        hint_key = f"{key}.hint"
        english = (MATRIX[r.row].hint if key.startswith("row.")
                   else t("en", hint_key) if has(hint_key) else None)
        text += " " + (t(locale, hint_key) if r.hint == english else esc(r.hint))
    return text


def refusal_key(r: ResetRequest, key: str = "", params: Params | None = None, *,
                recognise: bool = True) -> tuple[str, dict[str, str | int]] | None:
    """Which refusal ``r`` is, as a catalog key and its values: the row's own reason, or the
    service's key when its reply carried one; else (a stored request keeps no key, and
    ``recognise``) recognised from the stored English reason, and only when wording that key
    in English gives exactly the same text back."""
    if key in REFUSAL_KEYS:
        return key, dict(params or {})
    row = MATRIX[r.row]
    if row.reason and r.reason == row.reason:
        return f"row.{r.row.value}", {}
    if not recognise:
        return None
    for k in ("refused.userless", "refused.not_yours"):
        if r.reason == t("en", k):
            return k, {}
    candidates: list[tuple[str, dict[str, str | int]]] = [(_UNKNOWN_VERSION, {})]
    if row.min_major is not None:
        candidates.append((_OLD_VERSION, {"min": row.min_major}))
    for k, values in candidates:
        head, _, tail = _refusal_reason(r, "en", k, {**values, "version": "\0"}, escape=False
                                        ).partition("\0")
        if len(r.reason) < len(head) + len(tail):
            continue
        version = r.reason[len(head):len(r.reason) - len(tail)]
        if k == _UNKNOWN_VERSION and version == t("en", f"{k}.none"):
            version = ""
        values = {**values, "version": version}
        if _refusal_reason(r, "en", k, values, escape=False) == r.reason:
            return k, values
    return None


def _refusal_reason(r: ResetRequest, locale: str, key: str, values: Params,
                    escape: bool = True) -> str:
    def e(value: object) -> str:  # a value the device reported (its OS version)
        return literal(value, 100) if escape else str(value)

    if key.startswith("row."):
        return t(locale, f"{key}.reason")
    if key == _UNKNOWN_VERSION:
        version = str(values.get("version") or "")
        return t(locale, key, version=e(version) if version else t(locale, f"{key}.none"))
    if key == _OLD_VERSION:
        label = MATRIX[r.row].label
        return t(locale, f"{key}.{r.scope.value}", label=esc(label) if escape else label,
                 min=values.get("min", ""), version=e(values.get("version", "")))
    return t(locale, key)


def help_text(locale: str = "en") -> str:
    return t(locale, "help")


def help_blocks(locale: str = "en") -> list[Block]:
    return [section(help_text(locale))]


def home_view(mine: list[ResetRequest], queue: list[ResetRequest] | None) -> Block:
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "My passcode resets"}},
        *status_blocks(mine, "You have not asked for a passcode reset yet. Try `/passcode reset`."),
    ]
    if queue is not None:
        blocks.append({"type": "divider"})
        blocks.append(
            {"type": "header", "text": {"type": "plain_text", "text": "Waiting for approval"}}
        )
        if not queue:
            blocks.append(section("Nothing is waiting for approval."))
        for r in queue[:20]:
            blocks.append(section(f"{mention(r.requester_id)} · *{r.id}*\n{owner_line(r)}\n"
                                  f"{device_summary(r)}"))
            blocks.append(
                actions(
                    f"home:{r.id}",
                    button("Approve", ACTION_APPROVE, r.id, "primary"),
                    button("Deny", ACTION_DENY, r.id, "danger"),
                )
            )
    return {"type": "home", "blocks": blocks[:100]}


def notice_home(text: str) -> Block:
    """App Home for someone who may not use the bot: why not (plain text)."""
    return {"type": "home", "blocks": [
        {"type": "header", "text": {"type": "plain_text", "text": "passcode-bot"}},
        section(esc(text, 2900)),
    ]}
