"""Who asks for what: the synthetic fleet's primary users as Slack users, each with a device
they may reset. Deterministic, so the emulator, our server and the load generator agree."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from bench import FLEET_SEED
from bot.backends.devices import device_from_graph
from bot.backends.simulated import synthetic_fleet
from policy.platforms import decide


@dataclass(frozen=True, slots=True)
class Requester:
    user_id: str
    email: str
    device_id: str
    device_name: str


def user_id_for(email: str) -> str:
    """A stable Slack user id for an email, the same whatever the fleet's size."""
    return "U" + hashlib.sha1(email.encode()).hexdigest()[:10].upper()


def fleet(n: int) -> list[dict[str, Any]]:
    return synthetic_fleet(n, seed=FLEET_SEED)


def users(entries: list[dict[str, Any]]) -> dict[str, str]:
    """user id -> email of every primary user in the fleet."""
    emails = {str(e["emailAddress"]) for e in entries if e.get("emailAddress")}
    return {user_id_for(email): email for email in sorted(emails)}


def requesters(entries: list[dict[str, Any]]) -> list[Requester]:
    """One per primary user: their first device a reset is supported on, in fleet order."""
    found: dict[str, Requester] = {}
    for entry in entries:
        email = str(entry.get("emailAddress") or "")
        if not email or email in found:
            continue
        device = device_from_graph(entry)
        if decide(device.facts).allowed:
            found[email] = Requester(user_id_for(email), email, device.id, device.name)
    return list(found.values())
