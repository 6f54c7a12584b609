"""The Intune device backend: managedDevices and resetPasscode through Microsoft Graph
(fact sheet shared/docs/intune-graph.md)."""

from __future__ import annotations

import itertools
import logging
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from bot.backends import fallback, graph_index
from bot.backends.devices import SELECT_FIELDS, device_from_graph
from bot.backends.graph_http import GraphClient, OutcomeUnknown
from bot.backends.graph_index import IntuneIndex
from bot.backends.index import matches_key, name_order, owned_by
from bot.backends.owners import GraphOwners
from bot.people import GraphPeople
from bot.ports import (
    ActionRef,
    ActionState,
    ActionStatus,
    BackendError,
    Clock,
    Device,
    FailureCode,
    Identity,
)
from policy.platforms import Scope, decide

logger = logging.getLogger(__name__)

# One Graph version for every managedDevice call: deviceType/ownerType exist only in beta and
# are what tells Android device administrator from a work profile (§3.2 caveat); the admin
# centre itself resets and reads the passcode through beta (§1, §2, Uncertain 1).
GRAPH_VERSION = "beta"
MANAGED_DEVICES = f"{GRAPH_VERSION}/deviceManagement/managedDevices"
SELECT = ",".join(SELECT_FIELDS)
# Our clock and Intune's may disagree; a reset up to a minute "before" our POST is ours (§2).
CLOCK_SKEW = timedelta(seconds=60)
# The most rows the picker's live lookup reads per property: an ignored filter returns every
# device, and an options load has 3 s.
PICKER_MAX_ROWS = 2000
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


class GraphBackend:
    """DeviceBackend over Microsoft Intune, through Microsoft Graph."""

    name = "intune"

    def __init__(
        self,
        graph: GraphClient,
        *,
        clock: Clock | None = None,
        index_refresh: timedelta = graph_index.REFRESH,
        index_delta: timedelta | None = graph_index.DELTA_EVERY,
        lookup_wait_s: float = fallback.WAIT_S,
        people: GraphPeople | None = None,
    ) -> None:
        """``graph`` is shared (one token, one connection pool); whoever made it closes it;
        so is ``people`` (the Entra user lookup the Graph roles use too). The picker's index
        and how it stays fresh: bot/backends/graph_index.py."""
        self.graph = graph
        self._clock: Clock = clock or graph.clock
        self.people = people or GraphPeople(graph, clock=self._clock)
        self._owners = GraphOwners(graph)
        self._index = IntuneIndex(
            graph, MANAGED_DEVICES, SELECT, parse_time=parse_graph_time, clock=self._clock,
            lookup=lambda key: self._lookup_exact(key, max_rows=PICKER_MAX_ROWS),
            refresh=index_refresh, delta_every=index_delta, lookup_wait_s=lookup_wait_s,
        )

    # ------------------------------------------------------------------ people and owners

    async def identify(self, email: str) -> Identity:
        """The one Entra user for the email (UPN, then mail), cached briefly."""
        return await self.people.identify(email)

    async def owner_of(self, device: Device) -> Identity:
        """The primary user from managedDevices/{id}/users, read live."""
        return await self._owners.owner_of(device.id)

    async def devices_of(self, user_id: str, text: str = "", limit: int = 100) -> list[Device]:
        """The person's own devices, read live (not from the 15-minute index)."""
        return await self._owners.devices_of(user_id, text, limit)

    # ------------------------------------------------------------------ lookups

    async def find_devices(
        self, query: str, *, primary_email: str | None = None, limit: int = 10
    ) -> list[Device]:
        """Devices whose Intune id, serial number or name equals ``query``, asked of Intune
        live (the index may not know a device enrolled a minute ago); the index learns them."""
        key = query.strip()
        if not key or limit <= 0:
            return []
        found = await self._lookup_exact(key)
        self._index.learn(found)
        return list(itertools.islice(owned_by(found, primary_email), limit))

    async def _lookup_exact(self, key: str, *, max_rows: int | None = None) -> list[Device]:
        """The devices whose id, serial or name is ``key``, from Graph, in name order; at most
        ``max_rows`` rows read per property (the picker's bound on an ignored filter)."""
        found: dict[str, Device] = {}
        if _GUID.match(key):
            device = await self.get_device(key)
            if device is not None and matches_key(device, key):
                found[device.id] = device
        if not found:
            # One property per query: "a or b" across properties returned only a's matches (§4).
            for prop in ("serialNumber", "deviceName"):
                params = {"$filter": f"{prop} eq {odata_literal(key)}", "$select": SELECT}
                read = 0
                async for rows in self.graph.pages(
                    MANAGED_DEVICES, params=params, what=f"devices matching {key!r}"
                ):
                    for row in rows:
                        device = device_from_graph(row)
                        # Graph silently ignores filters it does not support and returns every
                        # device, and its eq has matched substrings: each result is checked
                        # here, and only exact matches are kept ("Checked 2026-12", Filters).
                        if matches_key(device, key):
                            found.setdefault(device.id, device)
                    read += len(rows)
                    if max_rows is not None and read >= max_rows:
                        logger.warning("$filter on %s returned %d+ devices: not honoured? "
                                       "the lookup stops there", prop, read)
                        break
        return sorted(found.values(), key=name_order)

    async def search_devices(
        self, text: str, *, primary_email: str | None = None, limit: int = 100
    ) -> list[Device]:
        """Devices whose name or serial contains ``text``, from the cached device index; for
        an approver (no ``primary_email``), a miss is asked of Intune live by exact id, serial
        and name (bot/backends/fallback.py), and the index learns what that finds."""
        index = await self._index.current()
        hits = index.search(text, primary_email=primary_email, limit=limit)
        if hits or primary_email is not None or limit <= 0:
            return hits
        known = index.find(text, limit=limit)  # an Intune id the index knows: no need to ask
        return known or (await self._index.fallback.after_miss(text))[:limit]

    async def get_device(self, device_id: str) -> Device | None:
        """The device with this Intune id, or None if Intune does not know it. An id that is
        no Intune id (a GUID's characters) is not sent: ``..`` would be a path step."""
        if not _INTUNE_ID.fullmatch(device_id.strip()):
            return None
        status, body = await self.graph.get_json(
            f"{MANAGED_DEVICES}/{quote(device_id.strip(), safe='')}",
            params={"$select": SELECT},
            # 404: no such device; 400: not even a well-formed device id.
            accept={400, 404},
            what=f"device {device_id}",
        )
        if status in (400, 404):
            return None
        return device_from_graph(body)

    async def refresh_index(self) -> None:
        """Reload the picker's device index now (all devices, paged)."""
        await self._index.refresh()

    # ------------------------------------------------------------------ reset

    async def start_reset(self, device: Device, scope: Scope) -> ActionRef:
        """POST resetPasscode once; resend only when Graph certainly did not take it."""
        decision = decide(device.facts, scope)
        if not decision.allowed:
            # Policy refuses it: no words of Intune's to show; the service words it.
            raise BackendError("", failure=FailureCode.NOT_SUPPORTED)
        posted_at = self._clock.now()
        path = f"{MANAGED_DEVICES}/{quote(device.id, safe='')}/resetPasscode"
        what = f"device {device.name} ({device.id})"
        policy = self.graph.retry
        tries = 0
        waited = 0.0
        while True:
            tries += 1
            try:
                # 429, and 503 with Retry-After, are resent inside request(); resetPasscode is
                # not idempotent, so 502/504/timeouts come back as OutcomeUnknown (§6).
                await self.graph.request("POST", path, idempotent=False, what=what)
                logger.info("resetPasscode queued for device %s", device.id)
                return ActionRef(device.id, posted_at, "")
            except OutcomeUnknown as exc:
                logger.warning("resetPasscode for %s: %s; checking the device", device.id, exc)
            # Never a blind resend (bot/retry.py): wait a step, look, POST only if nothing shows.
            delay = policy.delay(tries)
            may_resend = policy.may_retry(tries, waited, delay)
            if may_resend:
                # Give Intune a moment to list the action before looking for it.
                await self.graph.sleep(delay)
                waited += delay
            try:
                found = await self.find_started_action(device.id, posted_at)
            except BackendError as exc:
                raise BackendError(
                    f"Intune did not confirm the passcode reset of {what}, and the bot could not "
                    f"check whether it was queued: {exc.message}",
                    retryable=True,
                ) from None
            if found is not None:
                logger.info("resetPasscode for %s went through after all", device.id)
                return found
            if not may_resend:
                raise BackendError(
                    f"Intune did not confirm the passcode reset of {what}, and it does not show "
                    "among the device's actions yet. Check the device's actions in Intune "
                    "before asking again, so it is not reset twice.",
                    retryable=True,
                )

    async def action_status(self, ref: ActionRef) -> ActionStatus:
        """The reset's state from the device's deviceActionResults (§2)."""
        body = await self._action_results(ref.device_id, missing_ok=False)
        if body is None:  # not reached: a 404 raised BackendError(DEVICE_NOT_FOUND) already
            raise BackendError(
                f"Intune no longer knows device {ref.device_id}.",
                failure=FailureCode.DEVICE_NOT_FOUND,
            )
        entry = newest_reset(body, ref.started_at - CLOCK_SKEW)
        if entry is None:
            return ActionStatus(ActionState.PENDING)
        return status_of(entry[1])

    async def find_started_action(self, device_id: str, since: datetime) -> ActionRef | None:
        """A reset of this device that Intune shows as started at or after ``since``."""
        body = await self._action_results(device_id, missing_ok=True)
        if body is None:
            return None
        entry = newest_reset(body, since - CLOCK_SKEW)
        return None if entry is None else ActionRef(device_id, entry[0], "")

    async def _action_results(self, device_id: str, *, missing_ok: bool) -> dict[str, Any] | None:
        status, body = await self.graph.get_json(
            f"{MANAGED_DEVICES}/{quote(device_id, safe='')}",
            params={"$select": "id,deviceActionResults"},
            accept={404} if missing_ok else (),
            what=f"device {device_id}",
        )
        return None if status == 404 else body

    async def aclose(self) -> None:
        """Stop the background refresh and lookups (the Graph client belongs to whoever made
        it)."""
        await self._index.aclose()


def odata_literal(value: str) -> str:
    """An OData string literal: quotes doubled."""
    return "'" + value.replace("'", "''") + "'"


_INTUNE_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


def parse_graph_time(value: object) -> datetime | None:
    """A Graph DateTimeOffset ("2026-05-04T09:12:03.4411223Z") as an aware datetime."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    # Seven fractional digits are more than some Python versions accept: keep six.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def is_reset_entry(entry: Mapping[str, Any]) -> bool:
    """A resetPasscodeActionResult, by @odata.type or else by actionName (§2)."""
    kind = str(entry.get("@odata.type") or "")
    if kind.lower().endswith("resetpasscodeactionresult"):
        return True
    return str(entry.get("actionName") or "").strip().casefold() == "resetpasscode"


def newest_reset(
    body: Mapping[str, Any], not_before: datetime
) -> tuple[datetime, Mapping[str, Any]] | None:
    """The newest reset entry started at or after ``not_before``, with its start time."""
    results = body.get("deviceActionResults")
    best: tuple[datetime, Mapping[str, Any]] | None = None
    for entry in results if isinstance(results, list) else []:
        if not isinstance(entry, Mapping) or not is_reset_entry(entry):
            continue
        started = parse_graph_time(entry.get("startDateTime"))
        if started is None or started < not_before:
            continue
        if best is None or started > best[0]:
            best = (started, entry)
    return best


def status_of(entry: Mapping[str, Any]) -> ActionStatus:
    """ActionStatus for one resetPasscodeActionResult; unknown states stay pending (§2)."""
    state = str(entry.get("actionState") or "").strip().casefold()
    raw = entry.get("passcode")
    passcode = raw if isinstance(raw, str) and raw.strip() else None
    if state == "done":
        return ActionStatus(ActionState.DONE, passcode=passcode)
    if state == "notsupported":
        return ActionStatus(
            ActionState.FAILED,
            failure=FailureCode.NOT_SUPPORTED,
            detail="Intune reports that this device does not support a passcode reset.",
        )
    if state == "failed":
        code = entry.get("errorCode")
        suffix = f" (error code {code})" if isinstance(code, int) and code else ""
        return ActionStatus(
            ActionState.FAILED,
            failure=FailureCode.BACKEND_ERROR,
            detail=f"Intune reports that the passcode reset failed{suffix}.",
        )
    if state == "canceled":
        return ActionStatus(
            ActionState.FAILED,
            failure=FailureCode.BACKEND_ERROR,
            detail="The passcode reset was canceled in Intune.",
        )
    if passcode is not None:
        # The admin centre shows the passcode as soon as it exists (§2, Uncertain 1).
        return ActionStatus(ActionState.DONE, passcode=passcode)
    return ActionStatus(ActionState.PENDING)
