"""Who counts as a member of the bot's workspace (product.md, "Who a person is")."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from policy.membership import (
    NotMember,
    SlackUser,
    Workspace,
    email_key,
    maybe_same_person,
    not_member,
    same_email,
)

HOME = Workspace("T0TEAM")
GRID = Workspace("T0TEAM", "E0ORG")
MEMBER = SlackUser("UALICE", team_id="T0TEAM", email="alice@example.com", email_confirmed=True)


def test_a_member_of_the_bots_workspace_is_a_member() -> None:
    assert not_member(MEMBER, HOME) is None


@pytest.mark.parametrize(
    ("changes", "why"),
    [
        pytest.param({"deleted": True}, NotMember.DELETED, id="deleted"),
        pytest.param({"is_bot": True}, NotMember.BOT, id="bot"),
        pytest.param({"user_id": "USLACKBOT"}, NotMember.BOT, id="slackbot"),
        pytest.param({"is_restricted": True}, NotMember.GUEST, id="multi-channel-guest"),
        pytest.param({"is_ultra_restricted": True}, NotMember.GUEST, id="single-channel-guest"),
        pytest.param({"is_stranger": True}, NotMember.STRANGER, id="slack-connect-stranger"),
        pytest.param({"team_id": "T0OTHER"}, NotMember.OTHER_WORKSPACE, id="other-team"),
        pytest.param({"team_id": ""}, NotMember.OTHER_WORKSPACE, id="no-team"),
        pytest.param({"email": ""}, NotMember.NO_EMAIL, id="no-email"),
        pytest.param({"email_confirmed": False}, NotMember.UNCONFIRMED_EMAIL, id="unconfirmed"),
    ],
)
def test_who_is_not_a_member(changes: dict[str, object], why: NotMember) -> None:
    assert not_member(replace(MEMBER, **changes), HOME) is why  # type: ignore[arg-type]


def test_on_enterprise_grid_a_user_of_another_workspace_of_the_same_org_is_a_member() -> None:
    other_team = replace(MEMBER, team_id="T0SISTER", enterprise_id="E0ORG")

    assert not_member(other_team, GRID) is None
    assert not_member(replace(other_team, enterprise_id="E0ELSE"), GRID) is (
        NotMember.OTHER_WORKSPACE)
    assert not_member(replace(other_team, enterprise_id=""), GRID) is NotMember.OTHER_WORKSPACE


def test_a_guest_of_another_organisation_is_refused_for_the_organisation_first() -> None:
    assert not_member(replace(MEMBER, team_id="T0OTHER", is_restricted=True), HOME) is (
        NotMember.OTHER_WORKSPACE)


@pytest.mark.parametrize(
    ("email", "key"),
    [
        (" Alice@Example.COM ", "alice@example.com"),
        ("jörg@example.com", ""),
        ("straße@example.com", ""),
        ("alice@exämple.com", "alice@exämple.com"),  # only the local part must be ASCII
        ("no-at-sign", ""),
        ("two@@example.com", ""),
        ("@example.com", ""),
        ("alice@", ""),
        ("", ""),
    ],
)
def test_email_key(email: str, key: str) -> None:
    assert email_key(email) == key


@given(st.text(), st.text())
def test_same_email_implies_maybe_same_person_and_is_symmetric(a: str, b: str) -> None:
    assert same_email(a, b) == same_email(b, a)
    if same_email(a, b):
        assert maybe_same_person(a, b)


@given(st.text(alphabet=st.characters(min_codepoint=0x80), min_size=1), st.text())
def test_a_local_part_outside_ascii_never_matches(local: str, domain: str) -> None:
    email = f"{local}@{domain or 'example.com'}"
    assert not same_email(email, email)
