"""Who counts as a person of this workspace, and when two email addresses name the same one.

Pure rules over facts the Slack surface reads from ``users.info`` and ``auth.test``
(product.md, "Decisions of 2026-12": "Who a person is").
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

_ASCII_UPPER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def email_key(email: str) -> str:
    """The address as it is compared: trimmed, A-Z lowered and nothing else (``casefold`` would
    fold "ß" to "ss" and the Kelvin sign to "k", so two different mailboxes could compare
    equal). "" when the address is no usable identity: empty, without exactly one "@", or
    with a character outside ASCII in its local part, so such an address never matches a role
    or a device by accident."""
    key = email.strip().translate(_ASCII_UPPER)
    local, at, domain = key.partition("@")
    if not at or not local or not domain or "@" in domain or not local.isascii():
        return ""
    return key


def same_email(a: str, b: str) -> bool:
    """Whether two addresses name one mailbox, for matching roles and devices (``email_key``)."""
    key = email_key(a)
    return bool(key) and key == email_key(b)


def maybe_same_person(a: str, b: str) -> bool:
    """Whether two addresses may name one person, for four eyes, where a false match only
    refuses a click: the ``same_email`` rule, and also two identical addresses that it does
    not accept (a local part outside ASCII), after the same trimming and A-Z lowering."""
    if same_email(a, b):
        return True
    x, y = (e.strip().translate(_ASCII_UPPER) for e in (a, b))
    return bool(x) and x == y


class NotMember(StrEnum):
    """Why a Slack user may not use the bot; each has its own words at the surface."""

    UNKNOWN = "unknown"  # Slack did not say who they are
    DELETED = "deleted"
    BOT = "bot"
    GUEST = "guest"  # single- or multi-channel guest
    STRANGER = "stranger"  # Slack Connect: a user of another organisation
    OTHER_WORKSPACE = "other_workspace"
    NO_EMAIL = "no_email"
    UNCONFIRMED_EMAIL = "unconfirmed_email"


@dataclass(frozen=True, slots=True)
class Workspace:
    """The bot's own workspace (``auth.test``): its team, and on Enterprise Grid its org."""

    team_id: str
    enterprise_id: str = ""


@dataclass(frozen=True, slots=True)
class SlackUser:
    """What ``users.info`` says of a user, as far as membership goes."""

    user_id: str
    team_id: str = ""
    enterprise_id: str = ""  # user.enterprise_user.enterprise_id on Enterprise Grid
    deleted: bool = False
    is_bot: bool = False
    is_restricted: bool = False  # multi-channel guest
    is_ultra_restricted: bool = False  # single-channel guest
    is_stranger: bool = False
    email: str = ""
    email_confirmed: bool = False


def not_member(user: SlackUser, home: Workspace) -> NotMember | None:
    """Why ``user`` is not a member of the bot's workspace, or None when they are one: not
    deleted, not a bot, not a guest, of this workspace (on Enterprise Grid: of this
    organisation) and not a stranger, with a confirmed email that can identify them."""
    if user.deleted:
        return NotMember.DELETED
    if user.is_bot or user.user_id == "USLACKBOT":
        return NotMember.BOT
    if user.is_stranger:
        return NotMember.STRANGER
    if home.enterprise_id:
        if user.enterprise_id != home.enterprise_id:
            return NotMember.OTHER_WORKSPACE
    elif not home.team_id or user.team_id != home.team_id:
        return NotMember.OTHER_WORKSPACE
    if user.is_restricted or user.is_ultra_restricted:
        return NotMember.GUEST
    if not user.email.strip():
        return NotMember.NO_EMAIL
    if not user.email_confirmed:
        return NotMember.UNCONFIRMED_EMAIL
    return None


# -- the directory's user for a Slack email (product.md, "Who a person is") ------------------


class NoDirectoryUser(StrEnum):
    """Why an email leads to no one directory user; each has its own words at the surface."""

    NONE = "no_directory_user"  # no user's UPN nor mail is this address
    AMBIGUOUS = "ambiguous_directory_user"  # more than one user has it: never a guess


@dataclass(frozen=True, slots=True)
class DirectoryEntry:
    """A directory user as the directory reports them (Entra: id, userPrincipalName, mail)."""

    id: str
    upn: str = ""
    mail: str = ""
    display_name: str = ""


def match_directory_user(
    email: str, candidates: Iterable[DirectoryEntry]
) -> DirectoryEntry | NoDirectoryUser:
    """The one user whose UPN is ``email`` (``email_key``, exact), else the one whose mail is;
    more than one at either step is AMBIGUOUS, none at both is NONE. The directory's own
    filter may match loosely (case, a substring): every candidate is re-checked here."""
    key = email_key(email)
    rows = [c for c in candidates if c.id]
    if not key:
        return NoDirectoryUser.NONE
    for by_mail in (False, True):
        found = {c.id: c for c in rows if email_key(c.mail if by_mail else c.upn) == key}
        if len(found) > 1:
            return NoDirectoryUser.AMBIGUOUS
        if found:
            return next(iter(found.values()))
    return NoDirectoryUser.NONE
