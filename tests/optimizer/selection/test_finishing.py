"""The budget's end: candidates far ahead of the incumbent when the budget stops them are finished
(from the budget's reserve) or reported with their standing, never silently dropped."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from toy import run_toy

import apeopt.optimizer.loop as loop_module
from apeopt.optimizer.scheduling.budget import Budget
from apeopt.optimizer.scheduling.budget import closing_reserve


def clocked_by_calls(seconds_per_call: float):  # type: ignore[no-untyped-def]
    """A Budget whose clock advances with the LM calls spent, so a time budget runs out at a known
    point yet, as with a wall clock, is only checked between evaluations."""

    class CallClock(Budget):
        def __post_init__(self) -> None:
            self.clock = lambda: seconds_per_call * sum(u.calls for u in self._unique())
            super().__post_init__()

    return CallClock


def test_closing_reserve_keeps_enough_calls_for_one_leader():
    assert closing_reserve(None, 60) == 0.1
    assert closing_reserve(10_000, 60) == 0.1
    assert closing_reserve(200, 60) == pytest.approx(0.15)
    assert closing_reserve(40, 60) == 0.5


def test_a_far_ahead_candidate_cut_by_the_time_budget_is_finished(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Zero-shot ``instruction`` space on the toy LM: the human instruction scores 0, proposals that
    say "plural" score 1. Sweep time budgets (1 s per LM call) so that the budget stops the wording
    phase at every point; whenever it stops a proposal that was ahead, that proposal is finished on
    all of dev and becomes the winner."""
    monkeypatch.setattr(loop_module, "Budget", clocked_by_calls(1.0))
    finished_any = False
    for calls in range(90, 330, 12):
        summary, store, _ = run_toy(tmp_path / f"b{calls}", space="instruction", budget_minutes=calls / 60)
        rows = {r["trial"]: r for r in store.evaluations()}
        cut_ahead = [r for r in _last_rows(store.evaluations()) if 0 < r["n"] < 60 and r["mean"] > 0
                     and "plural" in r["instruction"].lower()]
        if "closing step finished" in summary.stop_reason:
            finished_any = True
            assert "plural" in summary.winner.prompt.instruction.lower(), summary.stop_reason
            assert summary.winner.scores["dev"].n == 60
        elif cut_ahead:  # only when its remaining items did not fit even the reserve
            assert summary.search.lm_calls + (60 - max(r["n"] for r in cut_ahead)) > calls, (calls, summary.stop_reason)
        assert rows
        board = store.read_json("leaderboard.json")
        best = summary.winner.dev_selection.score
        for r in board:  # a row not scored on all of dev says why, and where it stands
            assert r["state"] == "complete" or r["note"], r
            if r["state"] != "complete" and r["score"] > best:
                assert "vs the winner on the same" in r["note"], r
    assert finished_any


def _last_rows(evals: list[dict]) -> list[dict]:
    """Per trial, its last evaluation, with ``n`` = dev items scored so far."""
    last: dict[int, dict] = {}
    for r in evals:
        last[r["trial"]] = {**r, "n": r["step"]}
    return list(last.values())


def test_budget_messages_say_what_is_held_back_and_how_far_over():
    from apeopt.models.base import Usage

    usage = Usage()
    now = [0.0]
    budget = Budget([usage], calls=100, minutes=3.0, clock=lambda: now[0])
    budget.reserve = 0.1
    usage.add(calls=89)
    assert budget.exhausted() is None and budget.calls_left() == 1  # 90 of 100 while 10% is held back
    now[0] = 165.0  # 2.75 min: past 90% of the time budget
    assert budget.exhausted() == "time budget spent (2.8 of 3.0 min; 10% held back for the closing step)"
    budget.reserve = 0.0
    assert budget.exhausted() is None and budget.calls_left() == 11
    now[0] = 200.0
    assert budget.exhausted() == "time budget spent (3.3 of 3.0 min, 0.3 min over in the last step)"
