"""The replica benchmark's verdict on a Show passcode modal opened after the trigger's 3 s:
slow (its click's replica was killed) or an error (every replica that held it lived on)."""

from __future__ import annotations

from bench.flow import Late, modal_verdict


def late(replica: str = "replica2", held: list[str] | None = None) -> Late:
    return Late(replica, acked=10.0, opened=20.0, held=held or [], first_sent=6.0, what="")


def test_a_modal_late_while_its_replica_lived_on_is_an_error() -> None:
    assert modal_verdict(late(), {"replica2": [2.0, 25.0], "replica1": [15.0]}) == "modal-late"


def test_a_modal_late_because_the_replica_that_acked_died_is_slow() -> None:
    assert modal_verdict(late(), {"replica2": [12.0]}) == "modal-after-trigger"


def test_a_retry_s_modal_late_because_the_first_replica_died_holding_the_click_is_slow() -> None:
    """replica1 took the first attempt, committed it and was killed before answering (a 502):
    Slack's retry reached replica2, which acked it and left the committed click to replica1's
    lease. The kill came before the retry's ack, after the first attempt."""
    assert modal_verdict(late(held=["replica1"]), {"replica1": [8.0]}) == "modal-after-trigger"
    assert modal_verdict(late(held=["replica1"]), {"replica1": [5.0]}) == "modal-late"
