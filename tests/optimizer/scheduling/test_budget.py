"""The budget's one owner: phase shares, the closing reserve, and the proposers' and bootstrap's slices."""

from __future__ import annotations

from apeopt.models.base import Usage
from apeopt.optimizer.scheduling.budget import (
    CLOSING_RESERVE,
    Budget,
    bootstrap_limit,
    closing_reserve,
    phase_cap,
    proposer_limit,
)
from apeopt.optimizer.scheduling.phases import PHASE_ORDER, round_phases


def test_a_phase_may_spend_its_share_of_what_is_left_with_a_floor():
    assert phase_cap("demos", 0, spent=100, left=1000, n_dev=30) == 100 + 350
    assert phase_cap("instruction", 0, spent=0, left=1000, n_dev=30) == 600  # round 0 leaves 40% for later rounds
    assert phase_cap("instruction", 1, spent=0, left=1000, n_dev=30) == 1000
    assert phase_cap("incumbents", 0, spent=0, left=10, n_dev=30) == 30  # one prompt on all of dev
    assert phase_cap("format", 2, spent=5, left=1, n_dev=30) == 6


def test_the_closing_reserve_and_the_slices():
    assert closing_reserve(None, 30) == CLOSING_RESERVE
    assert closing_reserve(1000, 30) == CLOSING_RESERVE
    assert closing_reserve(100, 30) == 0.15  # enough to finish one leader on half of dev
    assert closing_reserve(20, 60) == 0.5  # at most half the budget
    assert proposer_limit(None) is None and proposer_limit(100) == 33
    assert bootstrap_limit(100) == 16


def test_the_reserve_is_held_back_from_the_calls_left():
    u = Usage()
    b = Budget([u, u], calls=100)
    u.add(calls=40)
    assert b.spent_calls() == 40 and b.calls_left() == 60  # one usage listed twice counts once
    b.reserve = 0.1
    assert b.calls_left() == 50 and b.exhausted() is None
    u.add(calls=50)
    assert b.exhausted() == "LM-call budget spent (90 of 100; 10% held back for the closing step)"


def test_round_zero_runs_the_ladder_first_and_later_rounds_skip_it():
    assert [p.name for p in round_phases(0)] == list(PHASE_ORDER)
    assert [p.name for p in round_phases(1)] == ["demos", "format", "instruction"]
