"""A local fake of the Microsoft Entra token endpoint and Microsoft Graph (Intune devices,
Entra roles, Intune RBAC), served by aiohttp over real HTTPS with a throwaway CA.

Tests point AZURE_AUTHORITY_HOST and GRAPH_API_URL at it. It copies the behaviour the fact
sheet (shared/docs/intune-graph.md) describes, quirks included, so the adapter's defences
(client-side re-check, paging, retries, token renewal) are exercised.

It imports nothing from bot/ or policy/ (tests/integration/test_graph_fake.py checks): what
Intune does with a resetPasscode POST is its own table (RESET_PASSCODE_RULES), written from the
fact sheet, so a classification bug in the product makes the two disagree instead of being
copied here.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import shutil
import ssl
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

import trustme
from aiohttp import web

# Role template / definition ids, written out here on purpose rather than imported from the
# client: a fake that shares the client's constants cannot catch a wrong one (fact sheet §7).
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
INTUNE_ADMINISTRATOR = "3a2c62db-5318-420d-8d74-23affee5d9d5"
HELP_DESK_OPERATOR = "9e0cc482-82df-4ab2-a24c-0c23a3f52e1e"
INTUNE_ROLE_ADMINISTRATOR = "fb2603eb-3c87-4be3-8b5b-d58a5b4a0bc0"
READ_ONLY_OPERATOR = "fa1d7878-e8cb-41a1-8254-0142355c9f84"
SCHOOL_ADMINISTRATOR = "2f9f4f7e-2d13-427b-adf2-361a1eef7ae8"
RESET_PASSCODE_ACTION = "Microsoft.Intune_RemoteTasks_ResetPasscode"

# Properties the real service is observed to honour in managedDevices $filter (fact sheet §4).
DEFAULT_FILTERABLE = frozenset(
    {
        "deviceName",
        "serialNumber",
        "userPrincipalName",
        "emailAddress",
        "operatingSystem",
        "azureADDeviceId",
        "deviceType",
    }
)
# managedDevice properties that exist only in beta (fact sheet §3.1).
BETA_ONLY_FIELDS = frozenset({"deviceType", "ownerType", "joinType"})
TERMINAL_FAIL_STATES = frozenset({"failed", "canceled", "notSupported"})

# lt/gt are documented on these two (fact sheet §4); null never matches, as in OData.
DATE_FILTERABLE = frozenset({"enrolledDateTime", "lastSyncDateTime"})
_DATED = re.compile(r"^(\w+)\s+(gt|lt)\s+(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)$", re.I)
_EQ = re.compile(r"^(\w+)\s+eq\s+'((?:[^']|'')*)'$", re.IGNORECASE)
_STARTSWITH = re.compile(r"^startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)$", re.IGNORECASE)
_AND = re.compile(r"\s+and\s+(?=(?:[^']*'[^']*')*[^']*$)", re.IGNORECASE)

Json = dict[str, Any]


class Clock(Protocol):
    """What the fake needs of a clock (bot.clock.ManualClock fits, for tests that move time)."""

    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


# ---------------------------------------------------------------------- what Intune does


@dataclass(frozen=True, slots=True)
class ResetAnswer:
    """What Intune does with ``POST .../resetPasscode`` for one kind of device."""

    accepted: bool  # 204 and an action is queued; False: 400 BadRequest (fact sheet §1, §6)
    passcode: bool = False  # the finished action carries a new passcode (iOS: removed, none)
    work_profile: bool = False  # resets the work profile: needs an activated reset token
    android: bool = False  # fails on the device without an assigned passcode policy


REFUSED = ResetAnswer(accepted=False)
PASSCODE_REMOVED = ResetAnswer(accepted=True)
NEW_PIN = ResetAnswer(accepted=True, passcode=True)
NEW_PASSCODE = ResetAnswer(accepted=True, passcode=True, android=True)
WORK_PROFILE_PASSCODE = ResetAnswer(accepted=True, passcode=True, work_profile=True, android=True)


@dataclass(frozen=True, slots=True)
class ResetRule:
    """A device matches when each named managedDevice property has one of the listed values
    (case-insensitive; "" stands for absent or empty) and, where ``os_major`` is given, the
    leading number of ``osVersion`` is in it."""

    what: str
    when: Mapping[str, tuple[str, ...]]
    answer: ResetAnswer
    os_major: range | None = None


_IOS = ("iOS", "iPadOS")
_APPLE_TYPES = ("iPhone", "iPad", "iPod")
_APPLE_USER_ENROLLMENT = (
    "appleUserEnrollment",
    "appleUserEnrollmentWithServiceAccount",
    "appleAccountDrivenUserEnrollment",
)
_BYOD_ENROLLMENT = ("userEnrollment", "deviceEnrollmentManager", "")
_ANDROID_8_ON = range(8, 10_000)

# First match wins; a device no rule matches is refused. Sources: fact sheet §1 (which platforms
# the action supports), §3.1-3.2 (how the properties show the platform) and "Checked 2026-12".
# The stored device is the truth here: beta-only properties count even when a v1.0 read hides
# them, as the real service knows what it enrolled.
RESET_PASSCODE_RULES: tuple[ResetRule, ...] = (
    # No MDM channel to the device: Exchange ActiveSync only, another MDM, an agent (§3.2 row 12).
    ResetRule(
        "not managed through Intune MDM",
        {"managementAgent": ("eas", "easIntuneClient", "intuneClient", "jamf",
                             "configurationManagerClient", "msSense")},
        REFUSED,
    ),
    # Apple forbids ClearPasscode in User Enrollment.
    ResetRule("iOS/iPadOS User Enrollment",
              {"operatingSystem": _IOS, "deviceEnrollmentType": _APPLE_USER_ENROLLMENT}, REFUSED),
    ResetRule("iOS/iPadOS User Enrollment",
              {"deviceType": _APPLE_TYPES, "deviceEnrollmentType": _APPLE_USER_ENROLLMENT},
              REFUSED),
    # "Remove passcode" is resetPasscode on iOS/iPadOS: cleared, no new passcode.
    ResetRule("iOS/iPadOS", {"operatingSystem": _IOS}, PASSCODE_REMOVED),
    ResetRule("iOS/iPadOS", {"deviceType": _APPLE_TYPES}, PASSCODE_REMOVED),
    ResetRule("macOS", {"operatingSystem": ("macOS",)}, REFUSED),
    ResetRule("macOS", {"deviceType": ("macMDM", "mac")}, REFUSED),
    ResetRule("Windows 10 Mobile", {"deviceType": ("windowsPhone", "winMO6")}, NEW_PIN),
    ResetRule("Windows 10 Mobile", {"operatingSystem": ("Windows Mobile",)}, NEW_PIN),
    # No Graph action resets a Windows password or Windows Hello PIN.
    ResetRule("Windows", {"operatingSystem": ("Windows",)}, REFUSED),
    ResetRule(
        "Windows",
        {"deviceEnrollmentType": ("windowsAzureADJoin", "windowsBulkUserless",
                                  "windowsAutoEnrollment", "windowsBulkAzureDomainJoin",
                                  "windowsCoManagement", "windowsAzureADJoinUsingDeviceAuth",
                                  "azureAdJoinUsingAzureVmExtension")},
        REFUSED,
    ),
    ResetRule(
        "Windows",
        {"deviceType": ("desktop", "windowsRT", "winEmbedded", "surfaceHub", "holoLens",
                        "cloudPC", "windows10x")},
        REFUSED,
    ),
    # Android Enterprise needs Android 8.0 or later; the corporate work profile resets the
    # work profile, the others the device.
    ResetRule("Android Enterprise dedicated",
              {"deviceEnrollmentType": ("androidEnterpriseDedicatedDevice",)}, NEW_PASSCODE,
              _ANDROID_8_ON),
    ResetRule("Android Enterprise fully managed",
              {"deviceEnrollmentType": ("androidEnterpriseFullyManaged",)}, NEW_PASSCODE,
              _ANDROID_8_ON),
    ResetRule("Android Enterprise corporate-owned work profile",
              {"deviceEnrollmentType": ("androidEnterpriseCorporateWorkProfile",)},
              WORK_PROFILE_PASSCODE, _ANDROID_8_ON),
    ResetRule("AOSP user-associated",
              {"deviceEnrollmentType": ("androidAOSPUserOwnedDeviceEnrollment",)}, NEW_PASSCODE),
    ResetRule("AOSP userless",
              {"deviceEnrollmentType": ("androidAOSPUserlessDeviceEnrollment",)}, NEW_PASSCODE),
    # A personally-owned work profile has no enrollment type of its own; beta deviceType says.
    ResetRule("Android Enterprise personally-owned work profile",
              {"deviceType": ("androidForWork",), "deviceEnrollmentType": _BYOD_ENROLLMENT},
              WORK_PROFILE_PASSCODE, _ANDROID_8_ON),
    # Device administrator: Google took passcode reset away from it on Android 7.0.
    ResetRule("Android device administrator, 6.x or earlier",
              {"deviceType": ("android",), "deviceEnrollmentType": _BYOD_ENROLLMENT},
              NEW_PASSCODE, range(0, 7)),
    ResetRule("Android device administrator, 7.0 or later",
              {"deviceType": ("android",), "deviceEnrollmentType": _BYOD_ENROLLMENT},
              REFUSED, range(7, 10_000)),
)

_LEADING_NUMBER = re.compile(r"\s*v?(\d+)")


def reset_passcode_answer(device: Mapping[str, Any]) -> tuple[str, ResetAnswer]:
    """The first rule a Graph-shaped managedDevice matches (its ``what``, its answer); a
    device no rule matches is refused ("unknown")."""
    for rule in RESET_PASSCODE_RULES:
        if _rule_matches(rule, device):
            return rule.what, rule.answer
    return "unknown", REFUSED


def _rule_matches(rule: ResetRule, device: Mapping[str, Any]) -> bool:
    for prop, values in rule.when.items():
        actual = str(device.get(prop) or "").strip().casefold()
        if actual not in {v.casefold() for v in values}:
            return False
    if rule.os_major is not None:
        number = _LEADING_NUMBER.match(str(device.get("osVersion") or ""))
        if number is None or int(number.group(1)) not in rule.os_major:
            return False
    return True


@dataclass(frozen=True, slots=True)
class TestCA:
    """A throwaway CA: the server's TLS context and the PEM file a client must trust."""

    __test__ = False  # not a pytest test class, despite the name

    ca: trustme.CA
    server_ssl: ssl.SSLContext
    ca_bundle: Path


def make_test_ca(directory: Path | None = None) -> TestCA:
    """A trustme CA with a certificate for 127.0.0.1 and localhost; the CA PEM is written to
    ``directory`` (default: a new temp dir) so MSAL/requests and httpx can be pointed at it."""
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost", "::1")
    server_ssl = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ssl)
    folder = directory or Path(tempfile.mkdtemp(prefix="graph-emulator-ca-"))
    bundle = folder / "graph-emulator-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    return TestCA(ca, server_ssl, bundle)


@dataclass(slots=True)
class _Fault:
    substring: str
    status: int
    times: int
    retry_after: str | None
    body: Json | str | None
    method: str | None


@dataclass(slots=True)
class _Drop:
    substring: str
    times: int
    method: str | None
    after_handling: bool


class Hold:
    """A request the emulator handled but has not answered yet (see ``hold_next``)."""

    def __init__(self, substring: str, method: str | None) -> None:
        self.substring = substring
        self.method = method
        self.handled = asyncio.Event()  # set once the request took effect
        self.taken = False  # a matching request arrived (one request per hold)
        self._released = asyncio.Event()

    def release(self) -> None:
        """Send the held answer (a client that has gone away just never reads it)."""
        self._released.set()

    async def wait_handled(self, timeout: float = 10.0) -> None:
        """Return once a matching request has been handled; TimeoutError if none came."""
        await asyncio.wait_for(self.handled.wait(), timeout)

    async def until_released(self) -> None:
        await self._released.wait()


@dataclass(slots=True)
class _Action:
    """One resetPasscode the emulator queued, and how it will end."""

    entry: Json
    created: datetime
    end_state: str
    passcode: str | None
    error_code: int
    reads: int = 0


@dataclass(slots=True)
class _Page:
    version: str
    ids: list[str]
    offset: int
    size: int
    select: list[str] | None


@dataclass(slots=True)
class _User:
    id: str
    upn: str
    mail: str
    display_name: str


@dataclass(slots=True)
class _RoleAssignment:
    id: str
    display_name: str
    role_definition_id: str
    members: list[str]
    resource_scopes: list[str] = field(default_factory=list)
    # beta only (fact sheet "Checked 2026-12", RBAC scope): v1.0 answers without them.
    scope_type: str = "resourceScope"
    scope_members: list[str] = field(default_factory=list)
    role_scope_tag_ids: list[str] = field(default_factory=list)


class GraphEmulator:
    """Fake Entra ID + Microsoft Graph over HTTPS on 127.0.0.1 (port 0 by default)."""

    def __init__(
        self,
        devices: Iterable[Mapping[str, Any]] = (),
        *,
        tenant_id: str = "00000000-0000-4000-8000-0000000000aa",
        client_id: str = "11111111-1111-4111-8111-111111111111",
        client_secret: str = "emulator-client-secret",
        ssl_context: ssl.SSLContext | None = None,
        ca_bundle: Path | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
        token_expires_in: int = 3599,
        page_size: int = 1000,
        filterable: Iterable[str] = DEFAULT_FILTERABLE,
        ignore_unsupported_filters: bool = True,
        action_pending_reads: int = 1,
        action_pending_seconds: float = 0.0,
        users: Iterable[Mapping[str, Any]] = (),
        groups: Mapping[str, Iterable[str]] | None = None,
        directory_role_assignments: Iterable[Mapping[str, Any]] = (),
        role_definitions: Iterable[Mapping[str, Any]] | None = None,
        role_assignments: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        self.tenant_id = tenant_id
        self.client_id = client_id
        self.client_secret = client_secret
        self.host = host
        self.port = port
        self.clock: Clock = clock or SystemClock()
        self.token_expires_in = token_expires_in
        self.page_size = page_size
        self.filterable = frozenset(filterable)
        self.ignore_unsupported_filters = ignore_unsupported_filters
        self.substring_eq: set[str] = set()  # see "the picker's live lookups" below
        self._eq_index: dict[str, dict[str, list[str]]] = {}  # ditto
        self.date_filterable: set[str] = set(DATE_FILTERABLE)  # ditto
        self.action_pending_reads = action_pending_reads
        self.action_pending_seconds = action_pending_seconds
        self._test_ca: TestCA | None = None
        if ssl_context is None:
            self._test_ca = make_test_ca()
            ssl_context, ca_bundle = self._test_ca.server_ssl, self._test_ca.ca_bundle
        self.ssl_context = ssl_context
        self.ca_bundle = ca_bundle

        # What crossed the wire: (method, path, decoded query string, lower-cased headers).
        self.requests: list[tuple[str, str, str, dict[str, str]]] = []
        # Token requests as form fields, client_secret removed.
        self.token_requests: list[dict[str, str]] = []

        self._devices: dict[str, Json] = {}
        self._simulate: dict[str, Mapping[str, Any]] = {}
        # Primary users (managedDevices/{id}/users), set by a device's "primaryUserId" or
        # set_primary_user; a device missing here has as primary user the user whose UPN is
        # its userPrincipalName (the enrolling user, the common case), if any.
        self._primary_users: dict[str, str | None] = {}
        self._entra_devices: dict[str, str] = {}  # Entra device object id -> deviceId
        self._static_results: dict[str, list[Json]] = {}
        self._actions: dict[str, list[_Action]] = {}
        self._reset_posts: dict[str, int] = {}
        for device in devices:
            self.add_device(device)
        self._tokens: dict[str, datetime] = {}
        self._pages: dict[str, _Page] = {}
        self._faults: list[_Fault] = []
        self._drops: list[_Drop] = []
        self._holds: list[Hold] = []
        self._down_forever = False
        self._down_until = 0.0
        self._down_retry_after: int | None = None

        self._users: dict[str, _User] = {}
        self._by_upn: dict[str, list[str]] = {}  # casefolded UPN -> user ids (listings' userId)
        for user in users:
            self.add_user(
                str(user["userPrincipalName"]),
                id=user.get("id"),
                mail=user.get("mail"),
                display_name=user.get("displayName"),
            )
        self._groups: dict[str, set[str]] = {g: set(m) for g, m in (groups or {}).items()}
        self.known_groups: set[str] = set()  # groups that exist without members
        # transitiveMembers' largest page ($top up to 999; without it 100): a test lowers it.
        self.member_page_max = 999
        self._directory_roles: list[Json] = []
        # The Entra role assignment lists ignore $filter and return every row (the quirk
        # managedDevices shows, fact sheet "Checked 2026-12", Filters).
        self.directory_filter_ignored = False
        for assignment in directory_role_assignments:
            self.assign_directory_role(
                str(assignment["principalId"]),
                str(assignment["roleDefinitionId"]),
                directory_scope_id=str(assignment.get("directoryScopeId", "/")),
            )
        self._role_definitions: dict[str, Json] = {}
        for definition in (
            _builtin_role_definitions() if role_definitions is None else role_definitions
        ):
            self._role_definitions[str(definition["id"])] = dict(definition)
        self._role_assignments: dict[str, _RoleAssignment] = {}
        for ra in role_assignments:
            self.assign_intune_role(
                str(ra["roleDefinitionId"]),
                list(ra.get("members", [])),
                id=ra.get("id"),
                display_name=ra.get("displayName"),
                resource_scopes=ra.get("resourceScopes", ()),
                scope_type=ra.get("scopeType", "resourceScope"),
                scope_members=ra.get("scopeMembers", ()),
                role_scope_tag_ids=ra.get("roleScopeTagIds", ()),
            )

        self._runner: web.AppRunner | None = None
        self._init_reset_quirks()

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def with_test_ca(
        cls, devices: Iterable[Mapping[str, Any]] = (), *, ca: TestCA | None = None, **kwargs: Any
    ) -> GraphEmulator:
        """An emulator serving with ``ca`` (or a fresh throwaway CA); trust ``.ca_bundle``."""
        test_ca = ca or make_test_ca()
        return cls(devices, ssl_context=test_ca.server_ssl, ca_bundle=test_ca.ca_bundle, **kwargs)

    async def start(self) -> None:
        """Listen on ``host``:``port`` (0 picks a free port)."""
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        self.port = int(self._runner.addresses[0][1])

    async def stop(self) -> None:
        """Stop listening (held answers are let go first); a CA this emulator made for itself
        is deleted."""
        for hold in self._holds:
            hold.release()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._test_ca is not None:
            shutil.rmtree(self._test_ca.ca_bundle.parent, ignore_errors=True)
            self._test_ca = None

    async def __aenter__(self) -> GraphEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """Origin of the server: both the authority host and the Graph URL."""
        return f"https://{self.host}:{self.port}"

    def settings_overrides(self) -> dict[str, Any]:
        """Settings fields that point the bot at this emulator."""
        return {
            "azure_tenant_id": self.tenant_id,
            "azure_client_id": self.client_id,
            "azure_client_secret": self.client_secret,
            "azure_authority_host": self.url,
            "graph_api_url": self.url,
        }

    # ------------------------------------------------------------------ configuration

    def add_device(self, device: Mapping[str, Any]) -> str:
        """Add a Graph-shaped managedDevice (optional ``simulate`` and ``deviceActionResults``)."""
        data = dict(device)
        device_id = str(data.get("id") or uuid.uuid4())
        data["id"] = device_id
        if "primaryUserId" in data:
            self._primary_users[device_id] = data.pop("primaryUserId") or None
        self._simulate[device_id] = data.pop("simulate", None) or {}
        self._static_results[device_id] = list(data.pop("deviceActionResults", None) or [])
        self._devices[device_id] = data
        self._eq_index.clear()
        return device_id

    def remove_device(self, device_id: str) -> None:
        self._devices.pop(device_id, None)
        self._eq_index.clear()

    def add_user(
        self,
        upn: str,
        *,
        id: str | None = None,
        mail: str | None = None,
        display_name: str | None = None,
    ) -> str:
        user = _User(str(id or uuid.uuid4()), upn, mail or upn, display_name or upn.split("@")[0])
        self._users[user.id] = user
        self._by_upn.setdefault(upn.casefold(), []).append(user.id)
        return user.id

    def add_group_member(self, group_id: str, member_id: str) -> None:
        """Put a user (or a nested group) into a security group."""
        self._groups.setdefault(group_id, set()).add(member_id)

    def assign_directory_role(
        self, principal_id: str, role_template_id: str, *, directory_scope_id: str = "/"
    ) -> str:
        """An Entra role assignment to a user or a role-assignable group (fact sheet §7.1)."""
        assignment_id = secrets.token_urlsafe(24)
        self._directory_roles.append(
            {
                "id": assignment_id,
                "principalId": principal_id,
                "roleDefinitionId": role_template_id,
                "directoryScopeId": directory_scope_id,
                "resourceScope": directory_scope_id,
            }
        )
        return assignment_id

    def add_role_definition(
        self,
        display_name: str,
        allowed_actions: Iterable[str] = (),
        *,
        built_in: bool = False,
        id: str | None = None,
        not_allowed_actions: Iterable[str] = (),
    ) -> str:
        """An Intune role definition (custom unless ``built_in``)."""
        definition_id = str(id or uuid.uuid4())
        self._role_definitions[definition_id] = _role_definition(
            definition_id, display_name, built_in, list(allowed_actions), list(not_allowed_actions)
        )
        return definition_id

    def assign_intune_role(
        self,
        role_definition_id: str,
        members: Iterable[str],
        *,
        id: str | None = None,
        display_name: str | None = None,
        resource_scopes: Iterable[str] = (),
        scope_type: str = "resourceScope",
        scope_members: Iterable[str] = (),
        role_scope_tag_ids: Iterable[str] = (),
    ) -> str:
        """An Intune role assignment whose ``members`` are Entra group ids (fact sheet §7.2),
        scoped to ``resource_scopes`` groups (or ``scope_type`` allDevices...) and tags."""
        assignment = _RoleAssignment(
            str(id or uuid.uuid4()),
            display_name or f"assignment {len(self._role_assignments) + 1}",
            role_definition_id,
            list(members),
            list(resource_scopes),
            scope_type,
            list(scope_members),
            list(role_scope_tag_ids),
        )
        self._role_assignments[assignment.id] = assignment
        return assignment.id

    def remove_intune_role_assignment(self, assignment_id: str) -> None:
        """An administrator deletes an Intune role assignment (its people lose the role)."""
        self._role_assignments.pop(assignment_id, None)

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self,
        path_substring: str,
        status: int,
        *,
        times: int = 1,
        retry_after: int | str | None = None,
        body: Json | str | None = None,
        method: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests whose path contains ``path_substring`` with
        ``status`` (Graph-shaped error body unless ``body``), before any handling."""
        self._faults.append(
            _Fault(
                path_substring,
                status,
                times,
                None if retry_after is None else str(retry_after),
                body,
                method.upper() if method else None,
            )
        )

    def drop_next(
        self,
        path_substring: str,
        *,
        times: int = 1,
        method: str | None = None,
        after_handling: bool = True,
    ) -> None:
        """Close the connection instead of answering; by default after the request was
        processed (a POST that reached Intune but whose 204 got lost)."""
        self._drops.append(
            _Drop(path_substring, times, method.upper() if method else None, after_handling)
        )

    def hold_next(self, path_substring: str, *, method: str | None = None) -> Hold:
        """Handle the next request whose path contains ``path_substring`` as usual, then keep
        its answer until ``release()``: a POST that reached Intune and took effect while the
        caller is still waiting (and, if the caller dies meanwhile, never hears of it)."""
        hold = Hold(path_substring, method.upper() if method else None)
        self._holds.append(hold)
        return hold

    def down(self, seconds: float, *, retry_after: int | None = None) -> None:
        """Answer 503 to everything for ``seconds`` (real time)."""
        self._down_until = time.monotonic() + seconds
        self._down_retry_after = retry_after

    def set_down(self, down: bool, *, retry_after: int | None = None) -> None:
        self._down_forever = down
        self._down_retry_after = retry_after
        if not down:
            self._down_until = 0.0

    def expire_tokens(self) -> None:
        """Every token issued so far is now expired (next Graph call: 401)."""
        past = self.clock.now() - timedelta(seconds=1)
        for token in self._tokens:
            self._tokens[token] = past

    # ------------------------------------------------------------------ inspection

    def reset_posts(self, device_id: str) -> int:
        """How many resetPasscode POSTs for this device reached the handler."""
        return self._reset_posts.get(device_id, 0)

    def action_results(self, device_id: str) -> list[Json]:
        """The deviceActionResults entries as Graph would return them now (no state change)."""
        return [dict(e) for e in self._static_results.get(device_id, [])] + [
            dict(a.entry) for a in self._actions.get(device_id, [])
            if (self.listing_delay_reads == 0 or a.reads > self.listing_delay_reads)
            and (not self.records_lag or self.clock.now() >= a.created + self.records_lag)
        ]

    def issued_passcode(self, device_id: str) -> str | None:
        """The passcode the latest reset of this device produces when it completes."""
        actions = self._actions.get(device_id) or []
        return actions[-1].passcode if actions else None

    def graph_requests(self, path_substring: str = "", method: str | None = None) -> list[str]:
        """Paths (with query) of recorded requests matching the substring and method."""
        return [
            f"{p}?{q}" if q else p
            for m, p, q, _ in self.requests
            if path_substring in p and (method is None or m == method.upper())
        ]

    # ------------------------------------------------------------------ the picker's live lookups

    def eq_matches_substrings(self, *properties: str) -> None:
        """From now on ``prop eq 'x'`` answers every device whose ``prop`` contains x: eq on
        userPrincipalName has behaved like a substring match ("Checked 2026-12", Filters:
        Intune-PowerShell-SDK #39). An unsupported filter is ignored: pass ``filterable``."""
        self.substring_eq.update(properties)

    def _dated_filter(self, expression: str) -> Callable[[Mapping[str, Any]], bool] | None:
        """``enrolledDateTime gt 2026-12-01T10:00:00Z`` (or lt, or lastSyncDateTime) while the
        property is in ``date_filterable``; None: not such a filter (then the usual rules: one
        the service does not know is ignored, every device comes back)."""
        match = _DATED.match(expression)
        if match is None or match.group(1) not in self.date_filterable:
            return None
        prop, after, bound = match.group(1), match.group(2).lower() == "gt", _when(match.group(3))

        def matches(device: Mapping[str, Any]) -> bool:
            value = device.get(prop)
            if not isinstance(value, str) or not value:
                return False
            at = _when(value)
            return at > bound if after else at < bound

        return matches

    def prime_lookups(self, *properties: str) -> None:
        """Build the eq tables of ``properties`` now (a change to the devices drops them),
        so the next lookup is not the one that pays for reading every device."""
        for prop in properties:
            self._indexed_eq(f"{prop} eq 'x'")

    def _indexed_eq(self, expression: str) -> list[str] | None:
        """``prop eq 'x'`` on an honoured property answered from a per-property table, as a
        real service would (the same devices, in the same order, as the scan in _filter):
        so a 100,000-device benchmark measures the bot, not this fake's loop. None: scan."""
        match = _EQ.match(expression.strip())
        if match is None:
            return None
        prop, value = match.group(1), match.group(2).replace("''", "'")
        if prop not in self.filterable or prop in self.substring_eq or value == "":
            return None
        table = self._eq_index.get(prop)
        if table is None:
            table = {}
            for device_id, device in self._devices.items():
                key = str(device.get(prop) or "").casefold()
                table.setdefault(key, []).append(device_id)
            self._eq_index[prop] = table
        return list(table.get(value.casefold(), []))

    def device_lookups(self) -> list[str]:
        """The $filter of every filtered managedDevices list (first pages), in order."""
        return [
            q for m, p, q, _ in self.requests
            if m == "GET" and p.endswith("/deviceManagement/managedDevices") and "$filter" in q
        ]

    # ------------------------------------------------------------------ dispatch

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        self.requests.append(
            (
                request.method,
                path,
                request.query_string,
                {k.lower(): v for k, v in request.headers.items()},
            )
        )
        if self._down_forever or time.monotonic() < self._down_until:
            headers = {}
            if self._down_retry_after is not None:
                headers["Retry-After"] = str(self._down_retry_after)
            return _graph_error(503, "ServiceUnavailable", "Service is down.", headers)
        fault = self._take(self._faults, request.method, path)
        if fault is not None:
            return _fault_response(fault)
        drop = self._take(self._drops, request.method, path)
        if drop is not None and not drop.after_handling:
            return _drop(request)
        hold = next(
            (h for h in self._holds if not h.taken and h.substring in path
             and (h.method is None or h.method == request.method)),
            None,
        )
        if hold is not None:
            hold.taken = True
        response = await self._route(request)
        if hold is not None:
            hold.handled.set()
            await hold.until_released()
        if drop is not None:
            return _drop(request)
        lost = self._lost_answer(request)
        if lost is not None:
            return lost
        self._stamp_date(response)
        return response

    def _take(self, items: list[Any], method: str, path: str) -> Any:
        for item in items:
            if item.substring in path and (item.method is None or item.method == method):
                item.times -= 1
                if item.times <= 0:
                    items.remove(item)
                return item
        return None

    async def _route(self, request: web.Request) -> web.StreamResponse:
        parts = [p for p in request.path.split("/") if p]
        if (
            len(parts) >= 2
            and parts[1] == "v2.0"
            and parts[2:]
            == [
                ".well-known",
                "openid-configuration",
            ]
        ):
            return self._openid_configuration(parts[0])
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            if request.method != "POST":
                return _graph_error(405, "MethodNotAllowed", "Use POST.")
            return await self._token(request, parts[0])
        if parts and parts[0] in ("v1.0", "beta"):
            denied = self._check_token(request)
            if denied is not None:
                return denied
            return await self._graph(request, parts[0], parts[1:])
        return _graph_error(404, "NotFound", f"No such endpoint: {request.path}")

    # ------------------------------------------------------------------ Entra ID

    def _openid_configuration(self, tenant: str) -> web.Response:
        base = f"{self.url}/{tenant}"
        return web.json_response(
            {
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "issuer": f"{base}/v2.0",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "response_types_supported": ["code", "id_token", "code id_token", "token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": ["client_secret_post"],
                "tenant_region_scope": "EU",
            }
        )

    async def _token(self, request: web.Request, tenant: str) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        secret = form.pop("client_secret", "")
        self.token_requests.append(form)
        if tenant != self.tenant_id:
            return _oauth_error(400, "invalid_request", 90002, f"Tenant '{tenant}' not found.")
        if form.get("grant_type") != "client_credentials":
            return _oauth_error(400, "unsupported_grant_type", 70003, "Unsupported grant type.")
        if form.get("client_id") != self.client_id:
            return _oauth_error(
                400, "unauthorized_client", 700016, "Application not found in the directory."
            )
        if not secrets.compare_digest(secret, self.client_secret):
            return _oauth_error(401, "invalid_client", 7000215, "Invalid client secret provided.")
        if not form.get("scope", "").endswith("/.default"):
            return _oauth_error(
                400, "invalid_scope", 1002012, "Client credentials need a scope ending in .default."
            )
        token = "emu." + secrets.token_urlsafe(32)
        self._tokens[token] = self.clock.now() + timedelta(seconds=self.token_expires_in)
        return web.json_response(
            {
                "token_type": "Bearer",
                "expires_in": self.token_expires_in,
                "ext_expires_in": self.token_expires_in,
                "access_token": token,
            }
        )

    def _check_token(self, request: web.Request) -> web.Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _graph_error(401, "InvalidAuthenticationToken", "Access token is empty.")
        expires = self._tokens.get(token)
        if expires is None:
            return _graph_error(
                401, "InvalidAuthenticationToken", "Access token validation failure."
            )
        if self.clock.now() >= expires:
            return _graph_error(
                401,
                "InvalidAuthenticationToken",
                "Lifetime validation failed, the token is expired.",
            )
        return None

    # ------------------------------------------------------------------ Graph routing

    async def _graph(self, request: web.Request, version: str, parts: list[str]) -> web.Response:
        method = request.method
        query = request.query
        route = "/".join(parts)
        # managedDevices('{id}') is the OData key syntax the admin centre uses (fact sheet §1).
        route = re.sub(r"managedDevices\('([^']*)'\)", r"managedDevices/\1", route)
        parts = route.split("/")

        owned = self._people_route(request, version, parts)
        if owned is not None:
            return await owned if asyncio.iscoroutine(owned) else owned
        if parts[:2] == ["deviceManagement", "managedDevices"]:
            if len(parts) == 2 and method == "GET":
                return self._list_devices(version, query)
            if len(parts) == 3 and method == "GET":
                return self._get_device(version, parts[2], query)
            if len(parts) == 4 and parts[3] == "resetPasscode" and method == "POST":
                throttled = self._throttle_write()
                if throttled is not None:
                    return throttled
                return self._reset_passcode(parts[2])
        if parts[:2] == ["deviceManagement", "remoteActionAudits"] and method == "GET":
            return self._remote_action_audits(version, query)
        if parts[:2] == ["deviceManagement", "roleDefinitions"] and method == "GET":
            if len(parts) == 2:
                return _collection(list(self._role_definitions.values()))
            definition = self._role_definitions.get(parts[2])
            if definition is None:
                return _not_found(f"roleDefinition {parts[2]}")
            if len(parts) == 3:
                return web.json_response(definition)
            if len(parts) == 4 and parts[3] == "roleAssignments":
                # The navigation listing carries no members (fact sheet §7.2 [O]).
                return _collection(
                    [
                        {"id": ra.id, "displayName": ra.display_name, "description": ""}
                        for ra in self._role_assignments.values()
                        if ra.role_definition_id == parts[2]
                    ],
                )
        if parts[:2] == ["deviceManagement", "roleAssignments"] and method == "GET":
            expand = "roledefinition" in query.get("$expand", "").lower()
            if len(parts) == 2:
                return _collection(
                    [
                        self._role_assignment_json(ra, expand, version)
                        for ra in self._role_assignments.values()
                    ],
                )
            if len(parts) == 3:
                assignment = self._role_assignments.get(parts[2])
                if assignment is None:
                    return _not_found(f"roleAssignment {parts[2]}")
                return web.json_response(
                    self._role_assignment_json(assignment, expand, version))
        if parts[:2] == ["roleManagement", "directory"] and method == "GET" and len(parts) == 3:
            if parts[2] == "roleAssignments":
                return self._directory_assignments(request, transitive=False)
            if parts[2] == "transitiveRoleAssignments":
                # beta only, and without ConsistencyLevel: eventual and $count=true the API
                # answers 404 (§7.1, "Checked 2026-12").
                if (version != "beta" or request.headers.get("ConsistencyLevel") != "eventual"
                        or query.get("$count", "").lower() != "true"):
                    return _graph_error(
                        404, "Request_ResourceNotFound", "Resource not found for the segment."
                    )
                return self._directory_assignments(request, transitive=True)
        if parts[0] == "users":
            if len(parts) == 1 and method == "GET":
                return self._list_users(request)
            user = self._find_user(parts[1]) if len(parts) >= 2 else None
            if len(parts) >= 2 and user is None:
                return _graph_error(
                    404,
                    "Request_ResourceNotFound",
                    f"Resource '{parts[1]}' does not exist or one of its queried reference-"
                    "property objects are not present.",
                )
            if user is not None and len(parts) == 2 and method == "GET":
                return web.json_response(_select(_user_json(user), query.get("$select")))
            if user is not None and len(parts) == 3 and parts[2] == "checkMemberGroups":
                if method != "POST":
                    return _graph_error(405, "Request_BadRequest", "Use POST.")
                return await self._check_member_groups(request, user)
        return _graph_error(400, "BadRequest", f"Resource not found for the segment '{parts[-1]}'.")

    # ------------------------------------------------------------------ devices

    def _device_json(self, version: str, device_id: str, select: list[str] | None) -> Json:
        data = dict(self._devices[device_id])
        # Intune gives every object at least the Default scope tag ("0"); userId is the
        # primary user's object id (managedDevice resource, "Unique identifier for the user
        # associated with the device"), "" for a userless one.
        data.setdefault("roleScopeTagIds", ["0"])
        data.setdefault("userId", self.primary_user_of(device_id) or "")
        if version != "beta":
            for key in BETA_ONLY_FIELDS:
                data.pop(key, None)
        if select is None or "deviceActionResults" in select:
            data["deviceActionResults"] = self._read_actions(device_id)
        if select is not None:
            data = {k: v for k, v in data.items() if k in select or k == "id"}
        return data

    def _parse_select(self, version: str, raw: str | None) -> tuple[list[str] | None, str]:
        if not raw:
            return None, ""
        fields = [f.strip() for f in raw.split(",") if f.strip()]
        if version != "beta":
            for name in fields:
                if name in BETA_ONLY_FIELDS:
                    return None, name
        return fields, ""

    def _list_devices(self, version: str, query: Mapping[str, str]) -> web.Response:
        token = query.get("$skiptoken") or query.get("$skipToken")
        if token:
            page = self._pages.pop(token, None)
            if page is None:
                return _graph_error(400, "BadRequest", "Invalid skip token.")
        else:
            select, bad = self._parse_select(version, query.get("$select"))
            if bad:
                return _graph_error(
                    400,
                    "BadRequest",
                    f"Could not find a property named '{bad}' on type "
                    "'microsoft.graph.managedDevice'.",
                )
            matcher = self._filter(query.get("$filter", ""))
            if matcher is None:
                return _graph_error(400, "BadRequest", "Invalid filter clause.")
            size = self.page_size
            if query.get("$top", "").isdigit():
                size = max(1, min(int(query["$top"]), self.page_size))
            ids = self._indexed_eq(query.get("$filter", ""))
            if ids is None:
                ids = [i for i, d in self._devices.items() if matcher(d)]
            page = _Page(version, ids, 0, size, select)
        chunk = page.ids[page.offset : page.offset + page.size]
        body: Json = {
            "@odata.context": (
                f"{self.url}/{page.version}/$metadata#deviceManagement/managedDevices"
            ),
            "@odata.count": len(page.ids),
            "value": [
                self._device_json(page.version, i, page.select) for i in chunk if i in self._devices
            ],
        }
        if page.offset + page.size < len(page.ids):
            next_token = secrets.token_urlsafe(16)
            self._pages[next_token] = _Page(
                page.version, page.ids, page.offset + page.size, page.size, page.select
            )
            body["@odata.nextLink"] = (
                f"{self.url}/{page.version}/deviceManagement/managedDevices?$skiptoken={next_token}"
            )
        return web.json_response(body)

    def _filter(self, expression: str) -> Callable[[Mapping[str, Any]], bool] | None:
        """A predicate for ``$filter``; everything when the filter is one the service ignores
        (fact sheet §4 quirk), or None (-> 400) when quirks are off."""
        expression = expression.strip()
        if not expression:
            return lambda _d: True
        dated = self._dated_filter(expression)  # see "the picker's live lookups"
        if dated is not None:
            return dated
        clauses: list[tuple[str, str, bool]] = []  # (property, value, contains)
        for clause in _AND.split(expression):
            clause = clause.strip()
            eq = _EQ.match(clause)
            sw = _STARTSWITH.match(clause)
            match = eq or sw
            if match is None:
                return self._unsupported()
            prop, value = match.group(1), match.group(2).replace("''", "'")
            if prop not in self.filterable or (eq is not None and value == ""):
                return self._unsupported()
            # startswith behaves like contains in the real service (fact sheet §4), and so
            # may eq on the properties in substring_eq.
            clauses.append((prop, value.casefold(), sw is not None or prop in self.substring_eq))

        def matches(device: Mapping[str, Any]) -> bool:
            for prop, value, contains in clauses:
                actual = str(device.get(prop) or "").casefold()
                if (value not in actual) if contains else (actual != value):
                    return False
            return True

        return matches

    def _unsupported(self) -> Callable[[Mapping[str, Any]], bool] | None:
        if self.ignore_unsupported_filters:
            return lambda _d: True
        return None

    def _resolve(self, device_id: str) -> str:
        """The stored id for ``device_id``; Graph keys are GUIDs, case-insensitive."""
        if device_id in self._devices:
            return device_id
        wanted = device_id.casefold()
        return next((i for i in self._devices if i.casefold() == wanted), device_id)

    def _get_device(self, version: str, device_id: str, query: Mapping[str, str]) -> web.Response:
        device_id = self._resolve(device_id)
        if device_id not in self._devices:
            return _not_found(f"managedDevice {device_id}")
        select, bad = self._parse_select(version, query.get("$select"))
        if bad:
            return _graph_error(400, "BadRequest", f"Could not find a property named '{bad}'.")
        return web.json_response(self._device_json(version, device_id, select))

    def _reset_passcode(self, device_id: str) -> web.Response:
        device_id = self._resolve(device_id)
        device = self._devices.get(device_id)
        if device is None:
            return _not_found(f"managedDevice {device_id}")
        self._reset_posts[device_id] = self._reset_posts.get(device_id, 0) + 1
        _, answer = reset_passcode_answer(device)
        if not answer.accepted:
            return _intune_error(400, "BadRequest", device_id)
        # The same ``simulate`` marks as the simulated backend's fleet file: ``fail`` (a reason,
        # or one of Graph's failure states), an inactive work-profile reset token, no passcode
        # policy on an Android device.
        simulate = self._simulate.get(device_id, {})
        end_state, error_code = "done", 0
        if simulate.get("fail"):
            wanted = str(simulate["fail"])
            end_state, error_code = (wanted if wanted in TERMINAL_FAIL_STATES else "failed"), 1
        elif answer.work_profile and simulate.get("resetTokenActivated") is False:
            end_state, error_code = "failed", 2
        elif answer.android and simulate.get("passcodePolicy") is False:
            end_state, error_code = "failed", 3
        passcode = None
        if end_state == "done" and answer.passcode:
            passcode = str(simulate.get("passcode") or f"{secrets.randbelow(10**8):08d}")
        now = self.clock.now()
        stamp = _graph_time(now)
        entry = {
            "@odata.type": "#microsoft.graph.resetPasscodeActionResult",
            "actionName": "resetPasscode",
            "actionState": "pending",
            "startDateTime": stamp,
            "lastUpdatedDateTime": stamp,
            "passcode": None,
            "errorCode": 0,
        }
        if self.passcode_while_pending and passcode is not None:
            entry["passcode"] = passcode  # the admin centre shows it at once (Uncertain 1)
        self._actions.setdefault(device_id, []).append(
            _Action(entry, now, end_state, passcode, error_code)
        )
        self._audit_reset(device_id, self.app_audit_initiator, now)
        return web.Response(status=204)

    def _read_actions(self, device_id: str) -> list[Json]:
        """deviceActionResults as of this read; each read moves pending actions along."""
        now = self.clock.now()
        for action in self._actions.get(device_id, []):
            if action.entry["actionState"] != "pending" or (
                    self.records_lag and now < action.created + self.records_lag):
                continue
            action.reads += 1
            if action.reads <= self.listing_delay_reads:
                continue  # not listed yet: it stays pending until it shows
            waited = (now - action.created).total_seconds()
            if action.reads > self.action_pending_reads and waited >= self.action_pending_seconds:
                action.entry["actionState"] = action.end_state
                action.entry["lastUpdatedDateTime"] = _graph_time(now)
                action.entry["passcode"] = action.passcode
                action.entry["errorCode"] = action.error_code
        return self.action_results(device_id)

    # ------------------------------------------------------------------ users and roles

    def _find_user(self, key: str) -> _User | None:
        wanted = key.casefold()
        for user in self._users.values():
            if wanted in (user.id.casefold(), user.upn.casefold()):
                return user
        return None

    def _list_users(self, request: web.Request) -> web.Response:
        expression = request.query.get("$filter", "").strip()
        users = list(self._users.values())
        if expression:
            match = _EQ.match(expression)
            if match is None or match.group(1) not in ("mail", "userPrincipalName", "id"):
                return _graph_error(400, "Request_UnsupportedQuery", "Unsupported query.")
            value = match.group(2).replace("''", "'").casefold()
            attr = {"mail": "mail", "userPrincipalName": "upn", "id": "id"}[match.group(1)]
            users = [u for u in users if str(getattr(u, attr)).casefold() == value]
        select = request.query.get("$select")
        return web.json_response({"value": [_select(_user_json(u), select) for u in users]})

    def _groups_of(self, principal_id: str) -> set[str]:
        """Every group the principal is in, nested groups included (transitive)."""
        found: set[str] = set()
        frontier = {principal_id}
        while frontier:
            member = frontier.pop()
            for group, members in self._groups.items():
                if member in members and group not in found:
                    found.add(group)
                    frontier.add(group)
        return found

    async def _check_member_groups(self, request: web.Request, user: _User) -> web.Response:
        return await self._check_groups_of(request, user.id)

    def _directory_assignments(self, request: web.Request, *, transitive: bool) -> web.Response:
        expression = request.query.get("$filter", "").strip()
        principal: str | None = None
        role: str | None = None
        if expression:
            for clause in _AND.split(expression):
                match = _EQ.match(clause.strip())
                if match is None or match.group(1) not in ("principalId", "roleDefinitionId"):
                    return _graph_error(400, "Request_UnsupportedQuery", "Unsupported filter.")
                if match.group(1) == "principalId":
                    principal = match.group(2)
                else:
                    role = match.group(2)
        principals: set[str] | None = None
        if self.directory_filter_ignored:
            principal = role = None
        if principal is not None:
            principals = {principal} | (self._groups_of(principal) if transitive else set())
        rows = [
            dict(a)
            for a in self._directory_roles
            if (principals is None or a["principalId"] in principals)
            and (role is None or a["roleDefinitionId"] == role)
        ]
        body: Json = {"value": rows}
        if transitive:
            body["@odata.count"] = len(rows)
        return web.json_response(body)

    def _role_assignment_json(
        self, assignment: _RoleAssignment, expand: bool, version: str = "v1.0"
    ) -> Json:
        body: Json = {
            "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleAssignment",
            "id": assignment.id,
            "displayName": assignment.display_name,
            "description": "",
            "members": list(assignment.members),
            "resourceScopes": list(assignment.resource_scopes),
        }
        if version == "beta":
            body["scopeType"] = assignment.scope_type
            body["scopeMembers"] = list(assignment.scope_members)
            body["roleScopeTagIds"] = list(assignment.role_scope_tag_ids)
        if expand:
            body["roleDefinition"] = self._role_definitions.get(assignment.role_definition_id)
        return body


    # ------------------------------------------------------------------ people and owners
    # (issue 12, points 1-3: who a person is, whose device it is, what a scope holds)

    def set_primary_user(self, device_id: str, user_id: str | None) -> None:
        """Make ``user_id`` the device's primary user (None: userless), as the admin centre's
        "Change primary user" does; the device's userPrincipalName/emailAddress stay."""
        self._primary_users[device_id] = user_id

    def add_entra_device(self, device_id: str, *, object_id: str | None = None) -> str:
        """The Entra device object for a managedDevice's azureADDeviceId ``device_id``; its
        object id (a different GUID) is what groups hold."""
        object_id = str(object_id or uuid.uuid4())
        self._entra_devices[object_id] = device_id
        return object_id

    def user_id_of(self, upn: str) -> str:
        """The id of the user with this UPN (case-insensitive); KeyError if none."""
        user = self._find_user(upn)
        if user is None:
            raise KeyError(upn)
        return user.id

    def remove_group_member(self, group_id: str, member_id: str) -> None:
        self._groups.get(group_id, set()).discard(member_id)

    def primary_user_of(self, device_id: str) -> str | None:
        if device_id in self._primary_users:
            return self._primary_users[device_id]
        upn = str(self._devices.get(device_id, {}).get("userPrincipalName") or "").casefold()
        found = self._by_upn.get(upn, []) if upn else []
        return found[0] if len(found) == 1 else None

    def _people_route(self, request: web.Request, version: str, parts: list[str]) -> Any:
        """The routes of this section, or None for the others."""
        method = request.method
        if (parts[:2] == ["deviceManagement", "managedDevices"] and len(parts) == 4
                and parts[3] == "users" and method == "GET"):
            device_id = self._resolve(parts[2])
            if device_id not in self._devices:
                return _not_found(f"managedDevice {device_id}")
            owner = self.primary_user_of(device_id)
            user = self._users.get(owner) if owner else None
            rows = [_user_json(user)] if user is not None else []
            return web.json_response({"value": [_select(r, request.query.get("$select"))
                                                 for r in rows]})
        if parts[0] == "users" and len(parts) == 3 and parts[2] == "managedDevices":
            user = self._find_user(parts[1])
            if user is None or method != "GET":
                return _graph_error(404, "Request_ResourceNotFound", "Resource not found.")
            # The navigation lists the devices the user enrolled (their UPN on the device)
            # as well as those they are primary user of: it can include a former owner's.
            upn = user.upn.casefold()
            ids = [i for i, d in self._devices.items()
                   if str(d.get("userPrincipalName") or "").casefold() == upn
                   or self._primary_users.get(i) == user.id]
            select, bad = self._parse_select(version, request.query.get("$select"))
            if bad:
                return _graph_error(400, "BadRequest", f"Could not find a property '{bad}'.")
            return _collection([self._device_json(version, i, select) for i in ids])
        if parts[0] == "devices" and len(parts) == 1 and method == "GET":
            match = _EQ.match(request.query.get("$filter", "").strip())
            if match is None or match.group(1) != "deviceId":
                return _graph_error(400, "Request_UnsupportedQuery", "Unsupported query.")
            wanted = match.group(2).casefold()
            return _collection([{"id": o, "deviceId": d} for o, d in self._entra_devices.items()
                                if d.casefold() == wanted])
        if (parts[0] == "groups" and len(parts) == 3 and parts[2] == "transitiveMembers"
                and method == "GET"):
            return self._transitive_members(request, version, parts[1])
        if parts[0] == "devices" and len(parts) == 3 and parts[2] == "checkMemberGroups":
            if parts[1] not in self._entra_devices or method != "POST":
                return _graph_error(404, "Request_ResourceNotFound", "Resource not found.")
            return self._check_groups_of(request, parts[1])
        return None

    def _transitive_members(self, request: web.Request, version: str, group_id: str
                            ) -> web.Response:
        """GET /groups/{id}/transitiveMembers: users, Entra devices and nested groups, each
        with its @odata.type, paged (100, or $top up to ``member_page_max``) by
        @odata.nextLink; 404 for a group the directory does not know."""
        query = request.query
        token = query.get("$skiptoken")
        if token:
            page = self._pages.pop(token, None)
            if page is None:
                return _graph_error(400, "Request_BadRequest", "Invalid skip token.")
            ids, offset, size = page.ids, page.offset, page.size
        else:
            if group_id not in self._groups and group_id not in self.known_groups:
                return _graph_error(404, "Request_ResourceNotFound",
                                    f"Resource '{group_id}' does not exist.")
            ids, offset = self._members_of(group_id), 0
            size = min(100, self.member_page_max)  # Graph's default page
            if query.get("$top", "").isdigit():
                size = max(1, min(int(query["$top"]), self.member_page_max))
        chunk = ids[offset : offset + size]
        select = query.get("$select") or (",".join(page.select or ()) if token else None)
        rows = [{"@odata.type": self._member_type(i), **_select(self._member_json(i), select)}
                for i in chunk]
        body: Json = {"value": rows}
        if offset + size < len(ids):
            next_token = secrets.token_urlsafe(16)
            kept = [f.strip() for f in (select or "").split(",") if f.strip()] or None
            self._pages[next_token] = _Page(version, ids, offset + size, size, kept)
            body["@odata.nextLink"] = (f"{self.url}/{version}/groups/{group_id}"
                                       f"/transitiveMembers?$skiptoken={next_token}")
        return web.json_response(body)

    def _members_of(self, group_id: str) -> list[str]:
        """Every member, nested groups' included (and the nested groups themselves)."""
        found: list[str] = []
        frontier = [group_id]
        while frontier:
            for member in sorted(self._groups.get(frontier.pop(), set())):
                if member not in found and member != group_id:
                    found.append(member)
                    if member in self._groups:
                        frontier.append(member)
        return [m for m in found if m in self._users or m in self._entra_devices
                or m in self._groups]

    def _member_type(self, object_id: str) -> str:
        if object_id in self._users:
            return "#microsoft.graph.user"
        if object_id in self._entra_devices:
            return "#microsoft.graph.device"
        return "#microsoft.graph.group"

    def _member_json(self, object_id: str) -> Json:
        user = self._users.get(object_id)
        if user is not None:
            return _user_json(user)
        if object_id in self._entra_devices:
            return {"id": object_id, "deviceId": self._entra_devices[object_id],
                    "displayName": f"device {object_id[:8]}", "accountEnabled": True}
        return {"id": object_id, "displayName": f"group {object_id[:8]}"}

    async def _check_groups_of(self, request: web.Request, principal_id: str) -> web.Response:
        try:
            body = await request.json()
            group_ids = [str(g) for g in body["groupIds"]]
        except (ValueError, KeyError, TypeError):
            return _graph_error(400, "Request_BadRequest", "groupIds is required.")
        if len(group_ids) > 20:
            return _graph_error(400, "Request_BadRequest", "At most 20 groupIds per request.")
        mine = self._groups_of(principal_id)
        return web.json_response({"value": [g for g in group_ids if g in mine]})

    # ------------------------------------------------------------ issue 12: reset outcomes
    # Quirks of a reset whose answer may be lost (fact sheet §2, §6, "Checked 2026-12"): the
    # Date header (Graph's clock), remoteActionAudits as a second record with its initiator,
    # actions listed late, answers lost after the POST took effect, the passcode present while
    # still pending, and Intune's write limit answered with 429 and no Retry-After.

    def _init_reset_quirks(self) -> None:
        # What Intune records as the initiator of this app's (client-credentials) actions:
        # undocumented [I], so a test can set it.
        self.app_audit_initiator = ""
        self.passcode_while_pending = False
        # An action is left out of deviceActionResults for this many reads of the device.
        self.listing_delay_reads = 0
        # A reset shows in neither record (deviceActionResults, remoteActionAudits) until this
        # long after Intune took it, on this emulator's clock: both records lag the POST.
        self.records_lag = timedelta(0)
        self.audits_beta_only = True
        self._audits: list[Json] = []
        self._lost: list[tuple[str, int | None, int]] = []  # (path substring, status, times)
        self._write_limit: tuple[int, float] | None = None
        self.write_times: list[datetime] = []  # every resetPasscode POST that reached Intune
        self.throttled_writes = 0

    def lose_answer_next(self, path_substring: str, status: int | None = None) -> None:
        """Let the next matching request take effect, then answer it with ``status`` (500,
        502, 504, ...) or, for None, by closing the connection: a reset applied whose answer
        never arrived."""
        self._lost.append((path_substring, status, 1))

    def add_admin_reset(self, device_id: str, upn: str, at: datetime,
                        state: str = "pending") -> None:
        """Another admin reset the device from the admin centre at ``at``: a
        deviceActionResults entry (no initiator there) and an audit row naming them."""
        stamp = _graph_time(at)
        self._static_results.setdefault(device_id, []).append({
            "@odata.type": "#microsoft.graph.resetPasscodeActionResult",
            "actionName": "resetPasscode", "actionState": state, "startDateTime": stamp,
            "lastUpdatedDateTime": stamp, "passcode": None, "errorCode": 0,
        })
        self._audit_reset(device_id, upn, at)

    def throttle_writes(self, limit: int, window_s: float) -> None:
        """Answer resetPasscode POSTs beyond ``limit`` per ``window_s`` (this emulator's clock)
        with 429 and no Retry-After, as Intune's 200 writes / 20 s per app does."""
        self._write_limit = (limit, window_s)

    def max_writes_in(self, window_s: float) -> int:
        """The most resetPasscode POSTs that reached Intune within any ``window_s``."""
        times = sorted(self.write_times)
        best, start = 0, 0
        for end, moment in enumerate(times):
            while (moment - times[start]).total_seconds() >= window_s:
                start += 1
            best = max(best, end - start + 1)
        return best

    def audits(self) -> list[Json]:
        return [dict(a) for a in self._audits]

    def _audit_reset(self, device_id: str, upn: str, at: datetime) -> None:
        device = self._devices.get(device_id, {})
        # remoteActionAudit as the beta resource documents it (fact sheet §2).
        self._audits.append({
            "id": str(uuid.uuid4()),
            "deviceDisplayName": device.get("deviceName"),
            "userName": upn,  # [deprecated] twin of initiatedByUserPrincipalName
            "initiatedByUserPrincipalName": upn,
            "action": "resetPasscode",
            "requestDateTime": _graph_time(at),
            "deviceOwnerUserPrincipalName": device.get("userPrincipalName"),
            "deviceIMEI": device.get("imei"),
            "actionState": "pending",
            "managedDeviceId": device_id,
            "deviceActionCategory": "single",
            "bulkDeviceActionId": None,
        })

    def _remote_action_audits(self, version: str, query: Mapping[str, str]) -> web.Response:
        if version != "beta" and self.audits_beta_only:
            return _graph_error(400, "BadRequest",
                                "Resource not found for the segment 'remoteActionAudits'.")
        now = self.clock.now()
        rows = [r for r in self._audits if not self.records_lag
                or now >= _parse_graph_time(str(r["requestDateTime"])) + self.records_lag]
        wanted = _EQ.match(query.get("$filter", "").strip())
        if wanted and wanted.group(1) == "managedDeviceId":
            value = wanted.group(2).replace("''", "'").casefold()
            rows = [r for r in rows if str(r["managedDeviceId"]).casefold() == value]
        # Any other filter is ignored: every row comes back (fact sheet §4, "Filters").
        return _collection([dict(r) for r in rows])

    def _throttle_write(self) -> web.Response | None:
        now = self.clock.now()
        if self._write_limit is not None:
            limit, window = self._write_limit
            recent = [t for t in self.write_times if (now - t).total_seconds() < window]
            if len(recent) >= limit:
                self.throttled_writes += 1
                return _graph_error(429, "TooManyRequests", "Too many requests.")
        self.write_times.append(now)
        return None

    def _lost_answer(self, request: web.Request) -> web.StreamResponse | None:
        for i, (substring, status, times) in enumerate(self._lost):
            if substring in request.path and request.method == "POST":
                if times <= 1:
                    del self._lost[i]
                else:
                    self._lost[i] = (substring, status, times - 1)
                if status is None:
                    return _drop(request)
                answer = _fault_response(_Fault(substring, status, 1, None, None, None))
                self._stamp_date(answer)
                return answer
        return None

    def _stamp_date(self, response: web.StreamResponse) -> None:
        # Graph's clock, in whole seconds (RFC 9110), from this emulator's clock.
        response.headers["Date"] = format_datetime(self.clock.now().astimezone(UTC),
                                                   usegmt=True)


# ---------------------------------------------------------------------- helpers


def _parse_graph_time(text: str) -> datetime:
    # _graph_time's own format back: seven fractional digits and a Z.
    return datetime.strptime(text[:26], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=UTC)


def _graph_time(moment: datetime) -> str:
    # Graph writes seven fractional digits and a Z (fact sheet §2 example).
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _when(text: str) -> datetime:
    """A Graph DateTimeOffset in UTC ("...Z", up to seven fractional digits)."""
    trimmed = re.sub(r"(\.\d{6})\d+", r"\1", text.strip())
    return datetime.fromisoformat(trimmed.replace("Z", "+00:00"))


def _inner_error() -> Json:
    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()),
        "request-id": str(uuid.uuid4()),
        "client-request-id": str(uuid.uuid4()),
    }


def _graph_error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    body = {"error": {"code": code, "message": message, "innerError": _inner_error()}}
    return web.json_response(body, status=status, headers=dict(headers or {}))


def _not_found(what: str) -> web.Response:
    return _graph_error(404, "ResourceNotFound", f"{what} not found")


def _intune_error(status: int, code: str, device_id: str) -> web.Response:
    """Intune's error: its own JSON, as a string, inside error.message (fact sheet §6)."""
    operation = str(uuid.uuid4())
    inner = {
        "_version": 3,
        "Message": (
            f"An error has occurred - Operation ID (for customer support): {operation} - "
            f"Activity ID: {uuid.uuid4()} - Url: https://fef.msua06.manage.microsoft.com/"
            f"DeviceFE/StatelessDeviceFEService/deviceManagement/managedDevices('{device_id}')"
            "/microsoft.management.services.api.resetPasscode?api-version=2023-07-04"
        ),
        "CustomApiErrorPhrase": "",
        "RetryAfter": None,
        "ErrorSourceService": "",
        "HttpHeaders": "{}",
    }
    message = json.dumps(inner, indent=2).replace("\n", "\r\n")
    return _graph_error(status, code, message)


_FAULT_CODES = {
    400: "BadRequest",
    401: "InvalidAuthenticationToken",
    403: "Forbidden",
    404: "ResourceNotFound",
    429: "TooManyRequests",
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


def _fault_response(fault: _Fault) -> web.Response:
    headers = {} if fault.retry_after is None else {"Retry-After": fault.retry_after}
    if isinstance(fault.body, str):
        return web.Response(
            status=fault.status, text=fault.body, headers=headers, content_type="text/plain"
        )
    if fault.body is not None:
        return web.json_response(fault.body, status=fault.status, headers=headers)
    code = _FAULT_CODES.get(fault.status, "UnknownError")
    message = "Lifetime validation failed, the token is expired." if fault.status == 401 else code
    return _graph_error(fault.status, code, message, headers)


def _drop(request: web.Request) -> web.Response:
    # Closing the transport makes aiohttp's later write fail quietly ("premature client
    # disconnection"); the client sees the connection end without a response.
    if request.transport is not None:
        request.transport.close()
    return web.Response(status=204)


def _oauth_error(status: int, error: str, code: int, description: str) -> web.Response:
    return web.json_response(
        {
            "error": error,
            "error_description": f"AADSTS{code}: {description}",
            "error_codes": [code],
            "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
            "trace_id": str(uuid.uuid4()),
            "correlation_id": str(uuid.uuid4()),
        },
        status=status,
    )


def _select(obj: Json, select: str | None) -> Json:
    if not select:
        return obj
    wanted = {s.strip() for s in select.split(",")}
    return {k: v for k, v in obj.items() if k in wanted or k == "id"}


def _user_json(user: _User) -> Json:
    return {
        "id": user.id,
        "userPrincipalName": user.upn,
        "mail": user.mail,
        "displayName": user.display_name,
    }


def _collection(rows: list[Any]) -> web.Response:
    return web.json_response({"value": rows})


def _role_definition(
    definition_id: str,
    name: str,
    built_in: bool,
    allowed: list[str],
    not_allowed: list[str] | None = None,
) -> Json:
    return {
        "@odata.type": "#microsoft.graph.deviceAndAppManagementRoleDefinition",
        "id": definition_id,
        "displayName": name,
        "description": "",
        "isBuiltIn": built_in,
        "rolePermissions": [
            {
                "resourceActions": [
                    {
                        "allowedResourceActions": allowed,
                        "notAllowedResourceActions": not_allowed or [],
                    }
                ]
            }
        ],
    }


def _builtin_role_definitions() -> list[Json]:
    """A few of Intune's built-in roles (ids as seen in third-party code, fact sheet §7.2)."""
    read = "Microsoft.Intune_ManagedDevices_Read"
    return [
        _role_definition(
            HELP_DESK_OPERATOR,
            "Help Desk Operator",
            True,
            [read, RESET_PASSCODE_ACTION, "Microsoft.Intune_RemoteTasks_RemoteLock"],
        ),
        _role_definition(
            INTUNE_ROLE_ADMINISTRATOR,
            "Intune Role Administrator",
            True,
            ["Microsoft.Intune_Roles_Create", "Microsoft.Intune_Roles_Read", read],
        ),
        _role_definition(READ_ONLY_OPERATOR, "Read Only Operator", True, [read]),
        _role_definition(
            SCHOOL_ADMINISTRATOR, "School Administrator", True, [read, RESET_PASSCODE_ACTION]
        ),
    ]


def retry_after_date(seconds: int) -> str:
    """A Retry-After value in HTTP-date form, ``seconds`` from now (for fault injection)."""
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)
