"""Who may ask for a reset of which device, and who may decide on a request."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from policy.membership import maybe_same_person
from policy.membership import same_email as same_email  # re-exported: callers match emails

# The four roles the Intune admin centre accepts for the passcode reset action (product.md).
# What the Graph role directory calls a custom Intune role that carries the "Remote tasks /
# Reset passcode" permission; newer Intune documents accept such roles for this action.
CUSTOM_RESET_PASSCODE_ROLE = "Intune custom role with Reset passcode"

DEFAULT_PERMITTED_ROLES: frozenset[str] = frozenset(
    {
        "Global Administrator",
        "Intune Administrator",
        "Helpdesk Operator",
        "Role Administrator",
        CUSTOM_RESET_PASSCODE_ROLE,
    }
)

# Older and newer names of the same roles, so a ROLES_FILE or the directory may use either.
ROLE_ALIASES: dict[str, str] = {
    "intune service administrator": "Intune Administrator",
    "help desk operator": "Helpdesk Operator",
    "intune role administrator": "Role Administrator",
    "global admin": "Global Administrator",
}

# Custom Intune roles holding this resource action count as permitted (fact sheet §7.2).
RESET_PASSCODE_PERMISSION = "Microsoft.Intune_RemoteTasks_ResetPasscode"


def canonical_role(name: str) -> str:
    """The canonical spelling of a role name ("Help Desk Operator" -> "Helpdesk Operator")."""
    cleaned = " ".join(name.split())
    return ROLE_ALIASES.get(cleaned.lower(), cleaned)


@dataclass(frozen=True, slots=True)
class Actor:
    """A person acting through the bot, as the policy sees them."""

    user_id: str
    email: str
    roles: frozenset[str] = frozenset()
    principal: str = ""  # the directory's id for the person (Entra object id), if any


@dataclass(frozen=True, slots=True)
class Verdict:
    """Allowed, or which rule refused as a code and the values its wording needs (the words
    live in the catalogs, filed under the code): ``userless``, ``not_yours``,
    ``own_request``, ``no_role`` (``roles``), ``not_requester``."""

    allowed: bool
    code: str = ""
    params: Mapping[str, str | int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Verdict(True)


def holds_permitted_role(actor: Actor, permitted: Iterable[str] = DEFAULT_PERMITTED_ROLES) -> bool:
    wanted = {canonical_role(r).lower() for r in permitted}
    return any(canonical_role(r).lower() in wanted for r in actor.roles)


def may_request(
    actor: Actor,
    device_primary_email: str,
    *,
    userless: bool = False,
    permitted: Iterable[str] = DEFAULT_PERMITTED_ROLES,
) -> Verdict:
    """Anyone may ask for their own device (primary user = their email, ``same_email``);
    role holders may ask for any device, userless ones included."""
    if holds_permitted_role(actor, permitted):
        return ALLOW
    if userless:
        return Verdict(False, "userless")
    if not same_email(actor.email, device_primary_email):
        return Verdict(False, "not_yours")
    return ALLOW


def may_decide(
    actor: Actor,
    requester_id: str,
    permitted: Iterable[str] = DEFAULT_PERMITTED_ROLES,
    *,
    requester_email: str,
    requester_principal: str = "",
) -> Verdict:
    """Approve and deny need a permitted role, and never on one's own request (four eyes):
    not from the requester's Slack account, nor from a second account with their email or
    (with a directory) one that leads to the same principal."""
    permitted = tuple(permitted)  # read twice below; a one-shot iterator would name no roles
    same_principal = bool(actor.principal) and actor.principal == requester_principal
    if (actor.user_id == requester_id or maybe_same_person(actor.email, requester_email)
            or same_principal):
        return Verdict(False, "own_request")
    if not holds_permitted_role(actor, permitted):
        return Verdict(False, "no_role", {"roles": ", ".join(sorted(permitted))})
    return ALLOW


def may_cancel(actor: Actor, requester_id: str) -> Verdict:
    if actor.user_id != requester_id:
        return Verdict(False, "not_requester")
    return ALLOW
