"""Tables: candidates ranked for the proposers and the leaderboard with its notes."""

from __future__ import annotations

import math

from entry_fixtures import make_entries

from apeopt.optimizer.candidates.pool import CandidatePool
from apeopt.optimizer.candidates.tables import leaderboard, ranked_candidates


def test_ranked_candidates_take_each_candidates_best_complete_entry_ascending():
    es = make_entries([("Alpha.", [1.0, 1.0], "pruned"), ("Alpha.", [0.5, 0.5], "complete"),
                       ("Beta.", [1.0, 1.0], "complete"), ("Gamma.", [0.0, 0.0], "complete")])
    ranked = ranked_candidates(es, logprob=False)
    assert [(c.text, c.score) for c in ranked] == [("Gamma.", 0.0), ("Alpha.", 0.5), ("Beta.", 1.0)]
    logp = ranked_candidates(make_entries([("Delta.", [-1.0], "complete")]), logprob=True)
    assert math.isclose(logp[0].score, math.exp(-1.0))


def test_the_leaderboard_puts_complete_entries_first_and_says_why_others_stopped():
    es = make_entries([("Cut.", [1.0, 1.0], "pruned"), ("Win.", [1.0, 0.0, 1.0], "complete"), ("None.", [], "pruned")])
    rows = leaderboard(es, k=10, winner=es[1])
    assert [r["instruction"] for r in rows] == ["Win.", "Cut."]
    assert rows[0]["note"] == "winner"
    assert rows[1]["note"] == "pruned by successive halving; +0.500 vs the winner on the same 2 dev items"


def test_the_pool_keeps_one_candidate_per_text_up_to_case_and_spacing():
    pool = CandidatePool()
    a = pool.add("Write the plural.", "human", 0)
    assert a is not None and a.id == "c0000"
    assert pool.add("write  the PLURAL.", "forward", 1) is None
    assert len(pool) == 1 and pool.rows()[0]["origin"] == "human"
