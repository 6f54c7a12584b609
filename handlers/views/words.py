"""The one place the core's codes become words: a ``Reply``'s key and values, a stored
request's refusal, warning and failure, each in the reader's language from the catalogs
(handlers/locale, through ``i18n.t``), English included.

Values a person or a backend controls (a typed query, a device's name, a backend's detail, an
OS version) are shown as literals (``blocks.literal``); our own values (request ids, role
names) escaped (``blocks.esc``); a state by its catalog label; who decided as a mention."""

from __future__ import annotations

from collections.abc import Mapping

from bot.domain import ResetRequest
from bot.ports import FailureCode
from bot.service import Reply
from handlers.views.blocks import esc, literal, mention
from handlers.views.i18n import has, t
from policy.platforms import MATRIX, Result, Row, Scope

Params = Mapping[str, str | int]

# Values a person or a backend controls, and how much of each is shown.
_LITERAL = {"query": 200, "name": 200, "detail": 300, "version": 100, "text": 500, "hint": 500,
            # the managedDevice values an unknown-platform refusal names (policy.seen_values)
            "operating_system": 60, "device_type": 60, "enrollment_type": 60,
            "management_agent": 60, "os_version": 60}
# The values policy names for a device it cannot place (refused.row.unknown.seen).
_SEEN = ("operating_system", "device_type", "enrollment_type", "management_agent", "os_version")
LEGACY = "legacy"  # a text stored by a version before codes (bot/storage/legacy_words.py)


def _values(locale: str, params: Params, *, plain: bool = False) -> dict[str, object]:
    """A message's values as the message shows them (mrkdwn, or ``plain`` text)."""
    out: dict[str, object] = {}
    for name, value in params.items():
        if name == "state":
            out[name] = t(locale, f"state.{value}")
        elif name == "by":
            out[name] = t(locale, "by", who=mention(str(value))) if value else ""
        elif isinstance(value, int) or plain:
            out[name] = value
        elif name in _LITERAL:
            out[name] = literal(value, _LITERAL[name])
        else:
            out[name] = esc(value)
    return out


def reply_text(reply: Reply, locale: str = "en") -> str:
    """What the core answered, as mrkdwn in the reader's language."""
    if reply.key == "refused" and reply.request is not None:
        return refusal_text(reply.request, locale)
    values = _values(locale, reply.params)
    if reply.key == "reveal.not_shown":
        values["button"] = t(locale, "button.show")
    return t(locale, f"reply.{reply.key}", **values)


def reply_plain(reply: Reply, locale: str = "en") -> str:
    """What the core answered, as plain text (a modal's text) in the reader's language."""
    return t(locale, f"reply.{reply.key}", **_values(locale, reply.params, plain=True))


def platform(row: Row, locale: str = "en") -> str:
    """The name of a row's platform (plain text)."""
    return t(locale, f"platform.{row.value}")


# -- a refused request --------------------------------------------------------------------


def refusal_text(r: ResetRequest, locale: str = "en", *, hint: bool = True) -> str:
    """Why ``r`` was refused (and, with ``hint``, what to do instead), as mrkdwn. The words are
    the catalog's ``refused.<code>`` (scope-specific: ``refused.<code>.<scope>``) and
    ``refused.<code>.hint``: a new refusal rule needs its code in policy and these entries."""
    code, params = r.refusal, r.refusal_params
    if not code:
        return ""
    if code == LEGACY:
        text = literal(params.get("text", ""), _LITERAL["text"])
        if hint and params.get("hint"):
            text += " " + literal(params["hint"], _LITERAL["hint"])
        return text
    key = f"refused.{code}"
    values = _values(locale, params)
    if params.get("version") == "" and has(f"{key}.none"):
        values["version"] = t(locale, f"{key}.none")
    values["label"] = esc(platform(r.row, locale))
    scoped = f"{key}.{r.scope.value}"
    text = t(locale, scoped if has(scoped) else key, **values)
    if all(name in params for name in _SEEN) and has(f"{key}.seen"):
        text += " " + t(locale, f"{key}.seen", **{name: values[name] for name in _SEEN})
    if hint and has(f"{key}.hint"):
        text += " " + t(locale, f"{key}.hint")
    return text


def warning_text(r: ResetRequest, locale: str = "en") -> str:
    """The warning an approver reads before approving, as mrkdwn ("" when there is none)."""
    if not r.warning:
        return ""
    if r.warning == LEGACY:
        return literal(r.warning_params.get("text", ""), _LITERAL["text"])
    # One code or several, space-separated (bot/usecases/warnings.py), values shared.
    values = _values(locale, r.warning_params)
    return " ".join(t(locale, f"warning.{code}", **values) for code in r.warning.split())


# -- a failed reset -----------------------------------------------------------------------


def failure_text(r: ResetRequest, locale: str = "en") -> str:
    """What failed, as mrkdwn: our own words by their code, else the backend's own detail as a
    literal (it cannot format), else a generic sentence."""
    words = r.failure_params.get("words")
    if words:
        seconds = r.failure_params.get("seconds")
        values = _values(locale, {k: v for k, v in r.failure_params.items()
                                  if k not in {"words", "seconds"}})
        if seconds is not None:
            values["span"] = span(int(seconds), locale)
        return t(locale, f"failure.{words}", **values)
    if r.failure_detail.strip():
        return literal(r.failure_detail, 500)
    return esc(t(locale, "failure.generic"))


def span(seconds: int, locale: str = "en") -> str:
    """A duration as a person says it: "15 minutes", "90 seconds", "2 hours"."""
    if seconds % 3600 == 0 and seconds >= 7200:
        return t(locale, "span.hours", n=seconds // 3600)
    if seconds % 60 == 0 and seconds >= 120:
        return t(locale, "span.minutes", n=seconds // 60)
    return t(locale, "span.seconds", n=seconds)


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
