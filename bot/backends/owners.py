"""Whose device it is, as Intune says: the primary user from ``managedDevices/{id}/users``, and a
person's own devices read live (fact sheet "Checked 2026-12", Ownership).

A managedDevice's ``userPrincipalName`` / ``emailAddress`` can name the enrolling or a former
user, and a list and a GET can disagree: they are display only. The primary user is the
``users`` navigation, compared by Entra object id."""

from __future__ import annotations

import dataclasses
import logging
import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.backends.devices import SELECT_FIELDS, device_from_graph
from bot.backends.graph_http import GraphClient
from bot.backends.index import contains
from bot.ports import BackendError, Device, Identity

logger = logging.getLogger(__name__)

GRAPH_VERSION = "beta"  # as bot/backends/graph.py: deviceType exists only there
# A person has a few devices; the users/{id}/managedDevices navigation may also list devices
# they only enrolled, each of which is checked against its primary user.
MAX_OWN_CANDIDATES = 50
# How long a person's own devices, once read, answer the picker's keystrokes: short enough that
# a phone enrolled a minute ago is there, long enough that typing a name costs one read.
OWN_FOR = timedelta(seconds=10)
_INTUNE_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


class GraphOwners:
    """Primary users and a person's own devices, read live through Graph."""

    def __init__(self, graph: GraphClient) -> None:
        self.graph = graph
        self._own: dict[str, tuple[datetime, list[Device]]] = {}

    async def owner_of(self, device_id: str) -> Identity:
        """The device's primary user (Entra object id, UPN, name); user_id "" when it has none
        (userless) or Intune no longer knows the device. More than one is a BackendError:
        never a guess."""
        if not _INTUNE_ID.fullmatch(device_id.strip()):
            return Identity()
        status, body = await self.graph.get_json(
            f"{GRAPH_VERSION}/deviceManagement/managedDevices/"
            f"{quote(device_id.strip(), safe='')}/users",
            params={"$select": "id,userPrincipalName,mail,displayName"}, accept={404},
            what=f"device {device_id}'s primary user",
        )
        if status == 404:
            return Identity()
        rows = {str(r["id"]): r for r in _rows(body) if isinstance(r.get("id"), str)
                and r["id"].strip()}
        if len(rows) > 1:
            raise BackendError(
                f"Intune names more than one primary user for device {device_id}; the bot "
                "will not guess whose device it is."
            )
        if not rows:
            return Identity()
        user_id, row = next(iter(rows.items()))
        return Identity(user_id, upn=str(row.get("userPrincipalName") or ""),
                        display_name=str(row.get("displayName") or ""),
                        mail=str(row.get("mail") or ""))

    async def devices_of(self, user_id: str, text: str = "", limit: int = 100) -> list[Device]:
        """The devices whose primary user is ``user_id``, read live: the user's managedDevices
        navigation, each candidate confirmed by its own primary user. Kept ``OWN_FOR`` so a
        person typing in the picker costs one read, not one per keystroke."""
        if not user_id or limit <= 0:
            return []
        now = self.graph.clock.now()
        cached = self._own.get(user_id)
        if cached is None or now >= cached[0]:
            cached = (now + OWN_FOR, await self._read_own(user_id))
            self._own[user_id] = cached
        needle = text.strip().casefold()
        return [d for d in cached[1] if contains(d, needle)][:limit]

    async def _read_own(self, user_id: str) -> list[Device]:
        candidates: list[Device] = []
        async for page in self.graph.pages(
            f"{GRAPH_VERSION}/users/{quote(user_id, safe='')}/managedDevices",
            params={"$select": ",".join(SELECT_FIELDS)}, what="your devices",
        ):
            candidates.extend(device_from_graph(row) for row in page if isinstance(row, dict))
            if len(candidates) >= MAX_OWN_CANDIDATES:
                break
        mine: list[Device] = []
        seen: set[str] = set()
        for device in sorted(candidates, key=lambda d: (d.name.casefold(), d.id)):
            if device.id in seen:
                continue
            seen.add(device.id)
            if (await self.owner_of(device.id)).user_id == user_id:
                mine.append(dataclasses.replace(device, primary_user_id=user_id))
        return mine


def _rows(body: Any) -> list[dict[str, Any]]:
    value = body.get("value") if isinstance(body, dict) else None
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []
