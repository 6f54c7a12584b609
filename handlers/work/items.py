"""The work after an ack, as typed items: what a listener asks for, one frozen dataclass per
kind, with real types (``approve: bool``, not ``verdict="approve"``).

Listeners build an item and hand it to ``Context.later``; handlers/work/worker.py runs it,
chosen by its type (``handles``). Each kind carries what a log line calls it (``what``) and
whether a failure is only logged (``quiet``: nobody asked, so nobody is told). Where the work
runs in another process (handlers/runtime/), an item crosses as its type name and its fields
(``encode``), and is rebuilt there through the one table of known kinds (``decode``), which
refuses an unknown name and a field of the wrong type.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class ReplyTo:
    """Where to tell someone privately what became of their command or click: by the
    command's ``response_url``; else ephemeral in the ``channel`` they clicked in; else (App
    Home, the picker's modal) in a DM. ``from_home``: the click came from App Home, whose tab
    is published again afterwards."""

    response_url: str = ""
    channel: str = ""
    from_home: bool = False


@dataclass(frozen=True)
class WorkItem:
    """One piece of work after an ack, for the Slack user ``user``."""

    what: ClassVar[str] = "work"  # what a log line calls it
    quiet: ClassVar[bool] = False  # nobody asked: a failure is only logged

    user: str

    def answer_to(self) -> ReplyTo:
        """Where a refusal or an apology goes (the default: a DM)."""
        return ReplyTo()


@dataclass(frozen=True)
class ResetCommand(WorkItem):
    """/passcode reset <device>. ``request_id``: the id the request gets, chosen at the ack,
    so that the item run again (its worker died running it) finds the request it made
    instead of making another ("": an item of a release that chose none)."""

    what: ClassVar[str] = "reset command"
    query: str
    response_url: str
    request_id: str = ""

    def answer_to(self) -> ReplyTo:
        return ReplyTo(response_url=self.response_url)


@dataclass(frozen=True)
class StatusCommand(WorkItem):
    """/passcode status [request id]."""

    what: ClassVar[str] = "status command"
    query: str
    response_url: str

    def answer_to(self) -> ReplyTo:
        return ReplyTo(response_url=self.response_url)


@dataclass(frozen=True)
class OpenPicker(WorkItem):
    """/passcode reset with no device: open the picker modal (``trigger_id`` lives 3 s)."""

    what: ClassVar[str] = "open device picker"
    trigger_id: str
    response_url: str

    def answer_to(self) -> ReplyTo:
        return ReplyTo(response_url=self.response_url)


@dataclass(frozen=True)
class LearnLocale(WorkItem):
    """Someone's first /passcode help was answered in English: look their locale up."""

    what: ClassVar[str] = "locale lookup"
    quiet: ClassVar[bool] = True


@dataclass(frozen=True)
class Decide(WorkItem):
    """An Approve (``approve``) or Deny click on ``request``."""

    what: ClassVar[str] = "decision click"
    request: str
    approve: bool
    reply_to: ReplyTo

    def answer_to(self) -> ReplyTo:
        return self.reply_to


@dataclass(frozen=True)
class Cancel(WorkItem):
    """The requester's Cancel click on ``request``."""

    what: ClassVar[str] = "cancel click"
    request: str
    reply_to: ReplyTo

    def answer_to(self) -> ReplyTo:
        return self.reply_to


@dataclass(frozen=True)
class Reveal(WorkItem):
    """Show passcode on ``request``: a modal through ``trigger_id`` (good for 3 s)."""

    what: ClassVar[str] = "reveal click"
    request: str
    trigger_id: str
    reply_to: ReplyTo

    def answer_to(self) -> ReplyTo:
        return self.reply_to


@dataclass(frozen=True)
class PickerSubmitted(WorkItem):
    """The picker's modal was submitted with ``device`` (the answer comes as a DM)."""

    what: ClassVar[str] = "reset modal"
    device: str
    request_id: str = ""  # as ResetCommand's


@dataclass(frozen=True)
class HomeOpened(WorkItem):
    """Someone opened the bot's App Home tab."""

    what: ClassVar[str] = "app home"
    quiet: ClassVar[bool] = True


@dataclass(frozen=True)
class TryAgain(WorkItem):
    """An approver's Try again click on an unconfirmed ``request`` (issue 12)."""

    what: ClassVar[str] = "try again click"
    request: str
    reply_to: ReplyTo

    def answer_to(self) -> ReplyTo:
        return self.reply_to


KINDS: dict[str, type[WorkItem]] = {  # every kind of item, by the name it travels under
    kind.__name__: kind
    for kind in (ResetCommand, StatusCommand, OpenPicker, LearnLocale, Decide, Cancel, Reveal,
                 PickerSubmitted, HomeOpened, TryAgain)
}


class BadItem(ValueError):
    """A work item that did not arrive whole: an unknown kind, or a missing, unknown or
    ill-typed field. The message names the kind and the field, never a value."""


def encode(item: WorkItem) -> dict[str, Any]:
    """``{"type": <kind>, "fields": {...}}``, as JSON takes it (``decode`` undoes it)."""
    return {"type": type(item).__name__, "fields": _fields_of(item)}


def decode(message: Any) -> WorkItem:
    """The item ``encode`` made, rebuilt as one of ``KINDS``; BadItem for anything else."""
    if not isinstance(message, dict):
        raise BadItem("not a work item")
    name = message.get("type")
    kind = KINDS.get(name) if isinstance(name, str) else None
    if kind is None:
        raise BadItem(f"no such work: {str(name)[:40]!r}")
    return _build(kind, message.get("fields"))


# What each field of a kind (or of ReplyTo) may hold: (name, type, required, nested). Worked
# out once: typing.get_type_hints is slow, and the front encodes on the ack's path.
_Field = tuple[str, Any, bool, bool]


def _schema(cls: type[Any]) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name],
                  f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING,
                  dataclasses.is_dataclass(hints[f.name]))
                 for f in dataclasses.fields(cls))


_SCHEMAS: dict[type[Any], tuple[_Field, ...]] = {ReplyTo: _schema(ReplyTo)}
_SCHEMAS.update((kind, _schema(kind)) for kind in KINDS.values())


def _fields_of(value: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, _, _, nested in _SCHEMAS[type(value)]:
        field = getattr(value, name)
        out[name] = _fields_of(field) if nested else field
    return out


_T = typing.TypeVar("_T")


def _build(cls: type[_T], data: Any) -> _T:
    what = cls.__name__
    if not isinstance(data, dict):
        raise BadItem(f"{what}: its fields are not an object")
    schema = _SCHEMAS[cls]
    known = {name for name, *_ in schema}
    unknown = sorted(str(k)[:40] for k in data if k not in known)
    if unknown:
        raise BadItem(f"{what}: no field {unknown[0]!r}")
    values: dict[str, Any] = {}
    for name, hint, required, _ in schema:
        if name in data:
            values[name] = _value(what, name, hint, data[name])
        elif required:
            raise BadItem(f"{what}: {name} is missing")
    return cls(**values)


def _value(what: str, name: str, hint: Any, value: Any) -> Any:
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return _build(hint, value)
    if hint is bool and type(value) is bool:  # not 1, not "1"
        return value
    if hint is str and isinstance(value, str):
        return value
    raise BadItem(f"{what}: {name} is not a {getattr(hint, '__name__', hint)}")
