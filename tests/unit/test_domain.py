from __future__ import annotations

import pytest

from bot.domain import TRANSITIONS, IllegalTransition, State, check_transition, new_request_id


@pytest.mark.parametrize(
    ("current", "target"),
    [(s, t) for s, targets in TRANSITIONS.items() for t in targets],
    ids=lambda s: s.value,
)
def test_every_listed_transition_is_allowed(current: State, target: State) -> None:
    check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (State.AWAITING_APPROVAL, State.EXECUTING),  # no execution without approval
        (State.DENIED, State.APPROVED),
        (State.APPROVED, State.DENIED),
        (State.REFUSED, State.AWAITING_APPROVAL),
        (State.COMPLETED, State.EXECUTING),
        (State.PASSCODE_EXPIRED, State.REVEALED),
        (State.FAILED, State.COMPLETED),
        (State.EXPIRED, State.APPROVED),
    ],
    ids=lambda s: s.value,
)
def test_an_illegal_transition_is_an_error(current: State, target: State) -> None:
    with pytest.raises(IllegalTransition, match="cannot become"):
        check_transition(current, target)


def test_terminal_states_lead_nowhere() -> None:
    for state in (State.REFUSED, State.DENIED, State.CANCELLED, State.EXPIRED, State.FAILED,
                  State.PASSCODE_EXPIRED):
        assert state not in TRANSITIONS


def test_request_ids_are_short_and_unambiguous_when_read_aloud() -> None:
    ids = {new_request_id() for _ in range(500)}
    assert len(ids) == 500
    for request_id in ids:
        assert request_id.startswith("PR-") and len(request_id) == 9
        assert not set(request_id[3:]) & set("01OI")


def test_every_character_of_a_request_id_takes_every_letter_of_the_alphabet() -> None:
    """30 random bits, 5 a character: each of the six places draws from all 32 letters (a slip
    in the bit arithmetic would leave some letter, or some place, never drawn)."""
    ids = [new_request_id()[3:] for _ in range(4000)]
    for place in range(6):
        assert set(ids) and {i[place] for i in ids} == set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
