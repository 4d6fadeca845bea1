"""The incumbent: the ladder's best starts it, only a credible gain replaces it, and every challenge is recorded."""

from __future__ import annotations

from entry_fixtures import make_entries

from apeopt.optimizer.selection.acceptance import ACCEPTANCE, DEFAULT_ACCEPTANCE
from apeopt.optimizer.selection.incumbency import Incumbency


def test_the_ladders_best_starts_ties_go_to_the_shorter_prompt_and_rows_are_recorded():
    ladder = make_entries([("A much longer instruction text.", [1.0, 1.0, 0.0], "complete"),
                           ("Short.", [1.0, 1.0, 0.0], "complete"), ("Low.", [0.0, 0.0, 0.0], "complete"),
                           ("Cut.", [1.0], "pruned")], phase="incumbents")
    inc = Incumbency("x")
    inc.start(ladder, [])
    assert inc.current is ladder[1]
    assert [r.state for r in inc.ladder_rows] == ["complete", "complete", "complete", "pruned"]
    assert inc.ladder_rows[3].n == 1 and inc.ladder_rows[2].dev == 0.0


def test_a_challenger_wins_only_on_a_credible_gain_and_each_challenge_is_recorded():
    inc = Incumbency("x")
    start = make_entries([("Human.", [0.0] * 30, "complete")], phase="incumbents")
    inc.start(start, [])
    noise, real = make_entries([("Noise.", [1.0] + [0.0] * 29, "complete"), ("Real.", [1.0] * 15 + [0.0] * 15, "complete")])
    inc.challenge([noise])
    assert inc.current is start[0] and not inc.challenges[-1].credible
    inc.challenge([real])
    assert inc.current is real and inc.challenges[-1].credible and len(inc.challenges) == 2


def test_the_correction_counts_the_candidates_tried_not_only_those_ahead():
    lucky = [1.0] * 12 + [0.0] * 88
    base = [0.0] * 12 + [1.0] * 5 + [0.0] * 83
    for tried, wins in ((1, True), (25, False)):
        inc = Incumbency("x")
        inc.start(make_entries([("Human.", base, "complete")], phase="incumbents"), [])
        challenger = make_entries([("Lucky.", lucky, "complete")])[0]
        inc.challenge([challenger], tried=tried)
        assert (inc.current is challenger) == wins


def test_the_default_acceptance_rule_is_registered_by_name():
    assert DEFAULT_ACCEPTANCE in ACCEPTANCE
    verdict = ACCEPTANCE.get(DEFAULT_ACCEPTANCE)().judge([1.0] * 10 + [0.0] * 20, [0.0] * 30, tried=1, seed=0)
    assert verdict.credible and verdict.n == 30
