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
from bot.backends.graph_http import GRAPH_CLOCK_MARGIN, GraphClient, OutcomeUnknown
from bot.backends.graph_index import IntuneIndex
from bot.backends.index import matches_key, name_order, owned_by
from bot.backends.owners import GraphOwners
from bot.backends.reset_check import (
    LOST_ANSWER,
    OTHER_RESET,
    ResetLook,
    ResetUnconfirmed,
    judge_reset,
    parse_graph_time,
    reset_entries,
)
from bot.people import GraphPeople
from bot.ports import (
    ActionRef,
    ActionState,
    ActionStatus,
    BackendError,
    Clock,
    Device,
    DeviceFilter,
    FailureCode,
    Identity,
    WriteBudget,
)
from bot.retry import INTUNE_WINDOW_S, INTUNE_WRITES_PER_WINDOW
from bot.storage.budget import MemoryWriteBudget
from policy.platforms import Scope, decide

logger = logging.getLogger(__name__)

# One Graph version for every managedDevice call: deviceType/ownerType exist only in beta and
# are what tells Android device administrator from a work profile (§3.2 caveat); the admin
# centre itself resets and reads the passcode through beta (§1, §2, Uncertain 1).
GRAPH_VERSION = "beta"
MANAGED_DEVICES = f"{GRAPH_VERSION}/deviceManagement/managedDevices"
SELECT = ",".join(SELECT_FIELDS)
REMOTE_ACTION_AUDITS = "beta/deviceManagement/remoteActionAudits"
# Before Graph's Date header told its clock, a reset up to a minute "before" our POST could be
# ours (§2); once it did, GRAPH_CLOCK_MARGIN replaces this minute (issue 12 point 5).
CLOCK_SKEW = timedelta(seconds=60)
# The most rows the picker's live lookup reads per property: an ignored filter returns every
# device, and an options load has 3 s.
PICKER_MAX_ROWS = 2000
# How long Intune gets to list an action whose POST got no certain answer before the bot looks.
RESET_GRACE = timedelta(seconds=30)
# The write budget's window is counted a little longer than Intune's: a slot is taken a moment
# before the POST arrives.
WRITE_WINDOW_SLACK_S = 1.0
AUDIT_PAGE_LIMIT = 20
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
        reset_grace: timedelta = RESET_GRACE,
        budget: WriteBudget | None = None,
        write_budget: tuple[int, float] = (INTUNE_WRITES_PER_WINDOW, INTUNE_WINDOW_S),
        audit_initiator: str = "",
    ) -> None:
        """``graph`` is shared (one token, one connection pool); whoever made it closes it;
        so is ``people`` (the Entra user lookup the Graph roles use too). The picker's index
        and how it stays fresh: bot/backends/graph_index.py. ``budget``: where writes are
        counted (default: this process alone; the bootstrap hands it the database's).
        ``audit_initiator``: what Intune records in remoteActionAudits as the initiator of
        this app's actions, if a pilot found it."""
        self.graph = graph
        self._clock: Clock = clock or graph.clock
        self.people = people or GraphPeople(graph, clock=self._clock)
        self._owners = GraphOwners(graph)
        self._reset_grace = reset_grace
        self._budget: WriteBudget = budget or MemoryWriteBudget()
        self._write_budget = write_budget
        self._bucket = f"intune-writes:{graph.tenant_id}:{graph.client_id}"
        self._our_initiators = frozenset(
            v.strip().casefold() for v in (graph.client_id, audit_initiator) if v.strip()
        )
        graph.before_write = self._take_write_slot
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
        self, text: str, *, primary_email: str | None = None, limit: int = 100,
        keep: DeviceFilter | None = None,
    ) -> list[Device]:
        """Devices whose name or serial contains ``text``, from the cached device index; for
        an approver (no ``primary_email``), a miss is asked of Intune live by exact id, serial
        and name (bot/backends/fallback.py), and the index learns what that finds. Only those
        ``keep`` admits, when given (the live lookup's too)."""
        index = await self._index.current()
        hits = index.search(text, primary_email=primary_email, limit=limit, keep=keep)
        if hits or primary_email is not None or limit <= 0:
            return hits
        # An Intune id the index knows: no need to ask.
        known = index.find(text, limit=limit) or await self._index.fallback.after_miss(text)
        return [d for d in known if keep is None or keep.admits(d)][:limit]

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
        """POST resetPasscode once. After an unknown outcome (no answer, 500/502/504, a 503
        without Retry-After) POST again only when, after ``reset_grace``, both
        deviceActionResults and remoteActionAudits read fine and show no reset since the first
        POST; otherwise raise ResetUnconfirmed. Never more than two POSTs (issue 12 point 5)."""
        decision = decide(device.facts, scope)
        if not decision.allowed:
            # Policy refuses it: no words of Intune's to show; the service words it.
            raise BackendError("", failure=FailureCode.NOT_SUPPORTED)
        path = f"{MANAGED_DEVICES}/{quote(device.id, safe='')}/resetPasscode"
        what = f"device {device.name} ({device.id})"
        # Our moment before the first POST; the checks turn it into Graph's (``_lower_bound``).
        posted_at = self._clock.now()
        lower: datetime | None = None
        for attempt in (1, 2):
            if await self._post_reset(path, what):
                logger.info("resetPasscode queued for device %s", device.id)
                return ActionRef(device.id, posted_at, "")
            # On Graph's clock as it stood at the POST: ours may step before the reads.
            lower = lower or self._lower_bound(posted_at)
            await self.graph.sleep(self._reset_grace.total_seconds())
            look = await self.look_for_reset(device.id, posted_at, lower)
            if look.ours is not None:
                logger.info("resetPasscode for %s went through after all (%s)", device.id,
                            look.seen)
                return look.ours
            if attempt == 2 or not look.clear:
                break
            # Both independent records read fine and show nothing: Intune did not take it.
            logger.warning("resetPasscode for %s: not queued (%s); posting once more",
                           device.id, look.seen)
        raise ResetUnconfirmed(
            f"Intune did not confirm the passcode reset of {what}, and the bot could not tell "
            f"whether it was queued ({look.seen}); nothing more was sent", LOST_ANSWER,
            look.others)

    async def _post_reset(self, path: str, what: str) -> bool:
        """One resetPasscode POST (429, and 503 with Retry-After, are resent inside
        ``request``, each resend taking a write slot): True when Intune answered 2xx, False
        when the outcome is unknown."""
        try:
            await self.graph.request("POST", path, idempotent=False, what=what)
        except OutcomeUnknown as exc:
            logger.warning("resetPasscode: %s; looking before anything else", exc.message)
            return False
        return True

    async def _take_write_slot(self, url: str) -> None:
        """Wait for a slot of the write budget every process shares (issue 12 point 6): the
        Intune devices budget counts writes to deviceManagement's device resources (fact
        sheet §6), not the role directory's POSTs on the same client."""
        if "/deviceManagement/" not in url:
            return
        limit, window = self._write_budget
        while True:
            wait = await self._budget.take_slot(self._bucket, self._clock.now(), limit,
                                                window + WRITE_WINDOW_SLACK_S)
            if wait <= 0:
                return
            await self.graph.sleep(wait)

    def share_budget(self, budget: WriteBudget) -> None:
        """Count this backend's writes in ``budget`` (the database's, shared by every
        process), instead of its own."""
        self._budget = budget

    async def action_status(self, ref: ActionRef) -> ActionStatus:
        """The reset's state from the device's deviceActionResults (§2)."""
        body = await self._action_results(ref.device_id, missing_ok=False)
        if body is None:  # not reached: a 404 raised BackendError(DEVICE_NOT_FOUND) already
            raise BackendError(
                f"Intune no longer knows device {ref.device_id}.",
                failure=FailureCode.DEVICE_NOT_FOUND,
            )
        entry = newest_reset(body, self._lower_bound(ref.started_at))
        if entry is None:
            return ActionStatus(ActionState.PENDING)
        return status_of(entry[1])

    async def find_started_action(self, device_id: str, since: datetime) -> ActionRef | None:
        """A reset of this device that Intune shows as ours, started at or after ``since``
        (our clock): how a restart finds the reset instead of starting a second one. None only
        when both records read fine and show no reset since; raises (retryable) when one
        cannot be read, and ResetUnconfirmed when only another admin's reset shows. Not
        before ``reset_grace`` after ``since``: "not listed yet" is not "nothing queued"."""
        if (wait := (since + self._reset_grace - self._clock.now()).total_seconds()) > 0:
            await self.graph.sleep(wait)
        look = await self.look_for_reset(device_id, since)
        if look.ours is not None or look.clear:
            return look.ours
        if look.unread:
            raise BackendError(f"The bot could not check the actions of device {device_id} "
                               f"({look.seen}).", retryable=True)
        raise ResetUnconfirmed(
            f"Intune shows another reset of device {device_id} since this one was approved "
            f"({look.seen}); the bot sends none on top of it", OTHER_RESET, look.others)

    async def look_for_reset(self, device_id: str, since: datetime,
                             lower: datetime | None = None) -> ResetLook:
        """Read both of Intune's records of queued actions for a reset of ours since
        ``since`` (our clock; or ``lower``, Graph's). Each conclusion's fact: where it is drawn."""
        results: list[Mapping[str, Any]] | None = None
        results_error = ""
        try:
            body = await self._action_results(device_id, missing_ok=True)
            results = [] if body is None else reset_entries(body)
        except BackendError as exc:
            results_error = exc.message
        audits, audits_error = await self._reset_audits(device_id)
        # After the reads: their Date headers told Graph's clock.
        return judge_reset(ActionRef(device_id, since, ""), lower or self._lower_bound(since),
                           results, audits, self._our_initiators, results_error, audits_error)

    def _lower_bound(self, since: datetime) -> datetime:
        """The earliest Intune stamp a reset we started at ``since`` (our clock) can carry.
        Relies on Graph's clock as its Date headers tell it (known to GRAPH_CLOCK_MARGIN);
        before any answer told it, on the old minute of skew (§2)."""
        graph_since = self.graph.graph_time(since)
        if graph_since is None:
            return since - CLOCK_SKEW
        return graph_since - GRAPH_CLOCK_MARGIN

    async def _reset_audits(self, device_id: str) -> tuple[list[Mapping[str, Any]] | None, str]:
        """The device's resetPasscode rows in beta remoteActionAudits (§2: a second,
        independent record of a queued action), or None and why when they cannot be read."""
        rows: list[Mapping[str, Any]] = []
        params = {"$filter": f"managedDeviceId eq {odata_literal(device_id)}"}
        pages = 0
        try:
            async for page in self.graph.pages(REMOTE_ACTION_AUDITS, params=params,
                                               what=f"the action audit of device {device_id}"):
                pages += 1
                # The filter may be ignored (§4, "Filters"): every row is checked here.
                rows.extend(r for r in page
                            if str(r.get("managedDeviceId") or "").casefold()
                            == device_id.casefold()
                            and str(r.get("action") or "").casefold() == "resetpasscode")
                if pages >= AUDIT_PAGE_LIMIT:
                    return None, "the action audit is too long to read through"
        except BackendError as exc:
            return None, exc.message
        return rows, ""

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


def newest_reset(
    body: Mapping[str, Any], not_before: datetime
) -> tuple[datetime, Mapping[str, Any]] | None:
    """The newest reset entry started at or after ``not_before``, with its start time."""
    best: tuple[datetime, Mapping[str, Any]] | None = None
    for entry in reset_entries(body):
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
