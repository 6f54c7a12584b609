"""Migration 4 on a database file written by a version before it (schema 3), holding the
English those versions stored: refusal reasons and hints, approver warnings, the failures the
service worded itself. Opened by today's store, every known English text is a code with its
values and reads, in English, exactly as it did; anything unknown is kept whole and shown as
a literal; the English columns are gone."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from bot.storage import MIGRATIONS, Store
from bot.storage.dialect import SQLITE
from handlers.views import cards, words
from handlers.views.i18n import t

NOW = "2026-11-23T10:00:00.000000+00:00"
MAC_REASON = "Intune cannot reset or remove a passcode on macOS."
MAC_HINT = "Use the Mac's own password recovery, or ask the helpdesk for a remote lock PIN."
OLD_HINT = "Update the device's Android version, or ask the helpdesk to wipe and re-provision it."
UNKNOWN_HINT = ("Ask the helpdesk to check the OS version Intune reports for this device; the "
                "bot will not guess which rule applies.")
NOT_YOURS = ("This device is not registered to you. You can request a reset only for a device "
             "whose primary user is you; ask the helpdesk to request it for someone else.")
UNREACHABLE = ("Intune, the device-management service, could not be reached for 15 minutes, so "
               "the passcode was not reset. Ask again, or call the helpdesk if it is urgent.")
UNKNOWN_START = ("Intune, the device-management service, could not be reached for 2 hours, so "
                 "the bot cannot tell whether the passcode was reset. Ask the helpdesk to check "
                 "the device in the Intune admin center before asking again, so it is not "
                 "reset twice.")

# id: (row, scope, state, reason, hint, warning, failure_code, failure_detail)
OLD_ROWS = {
    "PR-MACOS": ("macos", "device", "refused", MAC_REASON, MAC_HINT, "", "", ""),
    "PR-OLDOS": ("android_enterprise_work_profile_personal", "work_profile", "refused",
                 "A work-profile passcode reset on Android Enterprise work profile (personally "
                 "owned) needs Android 8.0 or later; this device runs 7.0.", OLD_HINT, "", "", ""),
    "PR-NOVER": ("unknown", "device", "refused",
                 "The device reports an unknown OS version (none).", UNKNOWN_HINT, "", "", ""),
    "PR-ODDVER": ("android_enterprise_fully_managed", "device", "refused",
                  "The device reports an unknown OS version (beta <2>).", UNKNOWN_HINT,
                  "", "", ""),
    "PR-NOTYOURS": ("android_enterprise_fully_managed", "device", "refused", NOT_YOURS, "",
                    "", "", ""),
    "PR-SCOPE": ("android_enterprise_fully_managed", "work_profile", "refused",
                 "Android Enterprise fully managed devices have no separate work profile to "
                 "reset.", "Request a device passcode reset instead.", "", "", ""),
    "PR-ODD": ("macos", "device", "refused", "A reason from before *codes* <!here>.",
               "Do `this`.", "", "", ""),
    "PR-NOPOLICY": ("aosp_user_associated", "device", "awaiting_approval", "", "",
                    "No device passcode policy is assigned to this device, so the reset will "
                    "fail.", "", ""),
    "PR-ODDWARN": ("aosp_user_associated", "device", "denied", "", "", "Mind the <gap>.", "", ""),
    "PR-TIMEOUT": ("android_enterprise_fully_managed", "device", "failed", "", "", "",
                   "timed_out", UNREACHABLE),
    "PR-UNKNOWN": ("android_enterprise_fully_managed", "device", "failed", "", "", "",
                   "timed_out", UNKNOWN_START),
    "PR-GONE": ("android_enterprise_fully_managed", "device", "failed", "", "", "",
                "device_not_found", "The device is no longer managed by Intune."),
    "PR-GRAPH": ("android_enterprise_fully_managed", "device", "failed", "", "", "",
                 "backend_error", "Graph said <no> (HTTP 400)."),
    "PR-ODDFAIL": ("android_enterprise_fully_managed", "device", "failed", "", "", "",
                   "timed_out", "Some words an older version wrote."),
}


def old_database(path: Path) -> None:
    """A database as schema 3 left it, with the English rows older versions wrote."""
    with closing(sqlite3.connect(path)) as db, db:
        for script in MIGRATIONS[:3]:
            for statement in SQLITE.render(script):
                db.execute(statement)
        db.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        db.execute("INSERT INTO schema_version VALUES (1), (2), (3)")
        for n, (rid, (row, scope, state, reason, hint, warning, code, detail)) in enumerate(
                OLD_ROWS.items()):
            db.execute(
                "INSERT INTO requests (id, requester_id, requester_email, device_id,"
                " device_name, device_serial, device_owner_email, row, scope, state,"
                " created_at, updated_at, reason, hint, warning, failure_code, failure_detail)"
                " VALUES (?, 'U1', 'u@example.com', ?, 'PHONE', 'S1', 'u@example.com',"
                " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rid, f"d{n}", row, scope, state, NOW, NOW, reason, hint, warning, code, detail))


async def test_migration_4_turns_stored_english_into_codes_that_read_the_same(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    old_database(path)

    store = await Store.open(str(path))
    try:
        got = {rid: await store.get(rid) for rid in OLD_ROWS}
    finally:
        await store.close()
    r = {rid: request for rid, request in got.items() if request is not None}
    assert set(r) == set(OLD_ROWS)

    assert (r["PR-MACOS"].refusal, r["PR-MACOS"].refusal_params) == ("row.macos", {})
    assert words.refusal_text(r["PR-MACOS"]) == f"{MAC_REASON} {MAC_HINT}"
    assert words.refusal_text(r["PR-MACOS"], "sv") == (
        f"{t('sv', 'refused.row.macos')} {t('sv', 'refused.row.macos.hint')}")
    assert (r["PR-OLDOS"].refusal, r["PR-OLDOS"].refusal_params) == (
        "old_os_version", {"version": "7.0", "min": 8})
    assert words.refusal_text(r["PR-OLDOS"]) == (
        "A work-profile passcode reset on Android Enterprise work profile (personally owned) "
        f"needs Android 8.0 or later; this device runs `7.0`. {OLD_HINT}")
    assert r["PR-NOVER"].refusal_params == {"version": ""}
    assert words.refusal_text(r["PR-NOVER"]) == (
        f"The device reports an unknown OS version (none). {UNKNOWN_HINT}")
    assert r["PR-ODDVER"].refusal_params == {"version": "beta <2>"}
    assert words.refusal_text(r["PR-ODDVER"], hint=False) == (
        "The device reports an unknown OS version (`beta &lt;2&gt;`).")
    assert r["PR-NOTYOURS"].refusal == "not_yours"
    assert words.refusal_text(r["PR-NOTYOURS"]) == NOT_YOURS
    assert r["PR-SCOPE"].refusal == "scope.no_work_profile"
    assert words.refusal_text(r["PR-SCOPE"]) == (
        "Android Enterprise fully managed devices have no separate work profile to reset. "
        "Request a device passcode reset instead.")
    # Unknown words are kept whole, and shown as the literal they are, in every language.
    assert (r["PR-ODD"].refusal, r["PR-ODD"].refusal_params) == (
        "legacy", {"text": "A reason from before *codes* <!here>.", "hint": "Do `this`."})
    assert cards.status_line(r["PR-ODD"], "it").endswith(
        "\n>`A reason from before *codes* &lt;!here&gt;.`")

    assert r["PR-NOPOLICY"].warning == "no_passcode_policy"
    assert words.warning_text(r["PR-NOPOLICY"]) == (
        "No device passcode policy is assigned to this device, so the reset will fail.")
    assert (r["PR-ODDWARN"].warning, r["PR-ODDWARN"].warning_params) == (
        "legacy", {"text": "Mind the <gap>."})
    assert words.warning_text(r["PR-ODDWARN"]) == "`Mind the &lt;gap&gt;.`"

    assert (r["PR-TIMEOUT"].failure_detail, r["PR-TIMEOUT"].failure_params) == (
        "", {"words": "unreachable.not_started", "seconds": 900})
    assert words.failure_text(r["PR-TIMEOUT"]) == UNREACHABLE
    assert r["PR-UNKNOWN"].failure_params == {"words": "unreachable.unknown", "seconds": 7200}
    assert words.failure_text(r["PR-UNKNOWN"]) == UNKNOWN_START
    assert words.failure_text(r["PR-GONE"]) == "The device is no longer managed by Intune."
    assert words.failure_text(r["PR-GONE"], "ro") == t("ro", "failure.device_gone")
    # The backend's own words stay, as a literal.
    assert r["PR-GRAPH"].failure_detail == "Graph said <no> (HTTP 400)."
    assert words.failure_text(r["PR-GRAPH"]) == "`Graph said &lt;no&gt; (HTTP 400).`"
    assert (r["PR-ODDFAIL"].failure_detail, r["PR-ODDFAIL"].failure_params) == (
        "Some words an older version wrote.", {})

    with closing(sqlite3.connect(path)) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
        version = db.execute("SELECT MAX(version) FROM schema_version").fetchone()[0]
    assert version == len(MIGRATIONS)  # 4, then 5 (owners, approvers), 6 (write budget)
    # The English columns stay (migrations only add) but hold nothing any more.
    with closing(sqlite3.connect(path)) as db:
        english = "SELECT COUNT(*) FROM requests WHERE reason != '' OR hint != ''"
        assert db.execute(english).fetchone()[0] == 0
    assert {"refusal", "refusal_params", "warning_params", "failure_params"} <= columns
    assert {"device_owner_id", "requester_principal", "approver_roles",
            "approver_people"} <= columns
    # A request stored before the bot read directory ids keeps comparing owners by email.
    assert r["PR-GONE"].device_owner_id is None and r["PR-GONE"].requester_principal == ""


async def test_a_new_database_stores_no_english(tmp_path: Path) -> None:
    store = await Store.open(str(tmp_path / "new.db"))
    await store.close()
    with closing(sqlite3.connect(tmp_path / "new.db")) as db:
        columns = {row[1] for row in db.execute("PRAGMA table_info(requests)")}
    assert {"refusal", "refusal_params", "warning_params", "failure_params"} <= columns
