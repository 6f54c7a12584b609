"""Who may ask for a reset of which device, and who may approve, deny or cancel it."""

from __future__ import annotations

import pytest

from policy.approval import Actor, canonical_role, may_cancel, may_decide, may_request

ALICE = Actor("U_ALICE", "alice@example.com")
BOB = Actor("U_BOB", "bob@example.com")
HELPDESK = Actor("U_HELP", "helpdesk@example.com", frozenset({"Helpdesk Operator"}))
GLOBAL_ADMIN = Actor("U_ADMIN", "admin@example.com", frozenset({"Global Administrator"}))
OLD_ROLE_NAME = Actor("U_OLD", "old@example.com", frozenset({"Intune Service Administrator"}))
READER = Actor("U_READER", "reader@example.com", frozenset({"Reports Reader"}))
ALICE_SHOUTING = Actor("U_ALICE", " ALICE@example.com")


@pytest.mark.parametrize(
    ("actor", "device_email", "userless", "allowed"),
    [
        pytest.param(ALICE, "alice@example.com", False, True, id="own-device"),
        pytest.param(ALICE, "Alice@Example.COM", False, True, id="own-device-other-case"),
        pytest.param(ALICE, "  alice@example.com ", False, True, id="own-device-padded"),
        pytest.param(
            ALICE_SHOUTING, "alice@example.com", False, True, id="own-device-actor-padded"
        ),
        pytest.param(ALICE, "bob@example.com", False, False, id="someone-elses-device"),
        pytest.param(ALICE, "", False, False, id="device-without-primary-user"),
        pytest.param(Actor("U_NOMAIL", ""), "", False, False, id="no-email-on-either-side"),
        pytest.param(ALICE, "", True, False, id="userless-device-without-role"),
        pytest.param(HELPDESK, "bob@example.com", False, True, id="helpdesk-any-device"),
        pytest.param(HELPDESK, "", True, True, id="helpdesk-userless-device"),
        pytest.param(GLOBAL_ADMIN, "alice@example.com", False, True, id="global-admin-any-device"),
        pytest.param(OLD_ROLE_NAME, "", True, True, id="old-role-name-userless-device"),
        pytest.param(READER, "bob@example.com", False, False, id="unrelated-role-other-device"),
    ],
)
def test_may_request(actor: Actor, device_email: str, userless: bool, allowed: bool) -> None:
    verdict = may_request(actor, device_email, userless=userless)

    assert bool(verdict) is allowed
    assert bool(verdict.code) is not allowed


def test_a_refused_request_for_someone_elses_device_says_so() -> None:
    assert may_request(ALICE, "bob@example.com").code == "not_yours"


def test_a_refused_request_for_a_userless_device_names_the_helpdesk() -> None:
    assert may_request(ALICE, "", userless=True).code == "userless"


def test_a_custom_permitted_list_governs_requests_too() -> None:
    approver = Actor("U_X", "x@example.com", frozenset({"Passcode Approvers"}))

    assert may_request(approver, "bob@example.com", permitted=["Passcode Approvers"])
    assert not may_request(HELPDESK, "bob@example.com", permitted=["Passcode Approvers"])


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        pytest.param(set(), False, id="no-role"),
        pytest.param({"Reports Reader"}, False, id="unrelated-role"),
        pytest.param({"Global Administrator"}, True, id="global-administrator"),
        pytest.param({"Intune Administrator"}, True, id="intune-administrator"),
        pytest.param({"Helpdesk Operator"}, True, id="helpdesk-operator"),
        pytest.param({"Role Administrator"}, True, id="role-administrator"),
        pytest.param({"Help Desk Operator"}, True, id="alias-help-desk-operator"),
        pytest.param({"Intune Service Administrator"}, True, id="alias-intune-service-admin"),
        pytest.param({"intune  role administrator"}, True, id="alias-lower-case-extra-space"),
        pytest.param({"GLOBAL ADMINISTRATOR"}, True, id="upper-case"),
        pytest.param({"Reports Reader", "Helpdesk Operator"}, True, id="one-of-several"),
    ],
)
def test_may_decide_needs_a_permitted_role(roles: set[str], allowed: bool) -> None:
    approver = Actor("U_APPROVER", "approver@example.com", frozenset(roles))
    verdict = may_decide(approver, requester_id="U_ALICE", requester_email="alice@example.com")

    assert bool(verdict) is allowed
    if not allowed:
        assert verdict.code == "no_role"
        assert "Helpdesk Operator" in str(verdict.params["roles"])


@pytest.mark.parametrize(
    "requester", [ALICE, HELPDESK, GLOBAL_ADMIN], ids=["no-role", "helpdesk", "global-admin"]
)
def test_nobody_decides_their_own_request(requester: Actor) -> None:
    verdict = may_decide(requester, requester_id=requester.user_id, requester_email="")

    assert not verdict
    assert verdict.code == "own_request"


@pytest.mark.parametrize(
    ("roles", "allowed"),
    [
        pytest.param({"Passcode Approvers"}, True, id="custom-role"),
        pytest.param({"passcode approvers"}, True, id="custom-role-other-case"),
        pytest.param({"Global Administrator"}, False, id="default-role-not-in-custom-list"),
    ],
)
def test_may_decide_with_a_custom_permitted_list(roles: set[str], allowed: bool) -> None:
    approver = Actor("U_APPROVER", "approver@example.com", frozenset(roles))

    assert bool(may_decide(approver, "U_ALICE", ["Passcode Approvers"],
                           requester_email="alice@example.com")) is allowed


def test_a_refusal_names_the_permitted_roles_even_when_given_as_an_iterator() -> None:
    verdict = may_decide(ALICE, "U_BOB", iter(["Passcode Approvers", "Night Shift"]),
                         requester_email="bob@example.com")

    assert not verdict
    assert verdict.params["roles"] == "Night Shift, Passcode Approvers"


@pytest.mark.parametrize(
    ("actor", "allowed"),
    [
        pytest.param(ALICE, True, id="requester"),
        pytest.param(BOB, False, id="someone-else"),
        pytest.param(GLOBAL_ADMIN, False, id="role-holder"),
    ],
)
def test_only_the_requester_may_cancel(actor: Actor, allowed: bool) -> None:
    verdict = may_cancel(actor, requester_id=ALICE.user_id)

    assert bool(verdict) is allowed
    assert (verdict.code == "not_requester") is not allowed


@pytest.mark.parametrize(
    ("name", "canonical"),
    [
        pytest.param("Help Desk Operator", "Helpdesk Operator", id="help-desk"),
        pytest.param("Intune Service Administrator", "Intune Administrator", id="intune-service"),
        pytest.param("  Global   Admin ", "Global Administrator", id="global-admin-spaced"),
        pytest.param("Custom Role", "Custom Role", id="unknown-kept"),
    ],
)
def test_canonical_role(name: str, canonical: str) -> None:
    assert canonical_role(name) == canonical


@pytest.mark.parametrize(
    "second_account_email",
    ["alice@example.com", "Alice@Example.com", "  ALICE@EXAMPLE.COM ", "aLiCe@example.COM"],
)
def test_a_second_account_with_the_requesters_email_cannot_decide(
    second_account_email: str,
) -> None:
    """Four eyes is about people: another Slack account with the requester's email (any
    letter case) holding a role is still the requester."""
    second = Actor("U_ALICE_2", second_account_email, frozenset({"Helpdesk Operator"}))

    verdict = may_decide(second, "U_ALICE", requester_email="alice@example.com")

    assert not verdict
    assert verdict.code == "own_request"


def test_identical_addresses_outside_ascii_still_count_as_one_person_for_four_eyes() -> None:
    second = Actor("U_JORG_2", "JÖRG@example.com", frozenset({"Helpdesk Operator"}))

    assert not may_decide(second, "U_JORG", requester_email="JÖRG@example.com")


@pytest.mark.parametrize(
    ("device_email", "actor_email"),
    [
        pytest.param("strasse@example.com", "straße@example.com", id="sharp-s-folds-to-ss"),
        pytest.param("kim@example.com", "\u212aim@example.com", id="kelvin-sign-folds-to-k"),
        pytest.param("jörg@example.com", "jörg@example.com", id="non-ascii-local-part"),
        pytest.param("alice@example.com", "\u0430lice@example.com", id="cyrillic-a"),
    ],
)
def test_an_email_outside_ascii_never_matches_a_device_by_accident(
    device_email: str, actor_email: str
) -> None:
    assert not may_request(Actor("U_X", actor_email), device_email)
