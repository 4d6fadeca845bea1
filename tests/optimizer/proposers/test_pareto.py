"""The per-example Pareto front: who wins, who is dominated, parent sampling, merge pairs, the round's context."""

from __future__ import annotations

from collections import Counter
from types import SimpleNamespace

from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.proposers.context import proposal_context
from apeopt.optimizer.candidates.entry import Entry
from apeopt.optimizer.proposers.pareto import Front, MergePair, merge_pairs, pareto_front, sample_parents, shared_rows, winners
from apeopt.optimizer.candidates.pool import CandidatePool
from apeopt.tasks.task import Example

ROWS = {
    "A": [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],  # mean 0.6, the top
    "B": [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],  # 0.5, wins only where A also wins: dominated
    "C": [0, 0, 0, 0, 0, 0, 1, 1, 1, 0],  # 0.3, the only one right on examples 6-8
    "D": [1, 1, 1, 1, 1, 0, 0, 0, 0, 0],  # 0.5
    "E": [1, 1, 1, 1, 0, 0, 0, 0, 0, 0],  # 0.4
}


def test_front_keeps_a_candidate_best_on_a_subset_although_its_mean_is_not_top():
    top3 = sorted(ROWS, key=lambda k: -sum(ROWS[k]))[:3]
    assert "C" not in top3
    front = pareto_front(ROWS)
    assert set(front.wins) == {"A", "C"}
    assert front.wins["C"] == (6, 7, 8) and front.wins["A"] == (0, 1, 2, 3, 4, 5)
    assert front.means["C"] == 0.3 and front.n == 10
    assert Front.from_dict(front.to_dict()) == front


def test_examples_where_all_tie_are_won_by_nobody():
    assert winners({"a": [1, 0, 0.5], "b": [1, 0, 0.2]}) == [set(), set(), {"a"}]
    assert pareto_front({"a": [1, 1], "b": [1, 1]}).wins == {}
    assert pareto_front({"a": [1, 0]}).wins == {}  # one candidate: nothing to compare


def test_front_compares_the_shared_prefix_of_the_most_scored_candidates():
    rows = {"a": [1, 0, 1, 0], "b": [0, 1, 1, 1], "c": [1, 1], "d": [0]}
    shared = shared_rows(rows, min_candidates=3)
    assert shared == {"a": [1, 0], "b": [0, 1], "c": [1, 1]}
    assert shared_rows(rows, min_candidates=2) == {"a": [1, 0, 1, 0], "b": [0, 1, 1, 1]}


def test_parents_are_drawn_in_proportion_to_their_wins():
    front = Front(10, {"A": (0, 1, 2, 3, 4, 5), "C": (6, 7)}, {"A": 0.6, "C": 0.2})
    firsts = Counter(sample_parents(front, 1, seed=s)[0] for s in range(2000))
    assert 0.68 < firsts["A"] / 2000 < 0.82  # 6 / 8 = 0.75
    assert sorted(sample_parents(front, 5, seed=1)) == ["A", "C"]  # distinct, at most the front


def test_merge_pairs_join_candidates_that_win_different_examples():
    front = Front(9, {"A": (0, 1, 2), "C": (6, 7), "F": (0, 1, 2, 8), "G": (8,)}, {"A": 0.5, "C": 0.3, "F": 0.4, "G": 0.1})
    pairs = merge_pairs(front, k=2)
    # A+C and C+F are equally complementary (2 one-sided wins each): the higher means go first; then
    # F pairs with G (F alone wins 0-2, G nothing F does not): no pair, as G's one win is F's too
    assert pairs == [MergePair("A", "C", (0, 1, 2), (6, 7))]
    assert merge_pairs(front, k=1) == pairs
    assert MergePair.from_dict(pairs[0].to_dict()) == pairs[0]


def _entries(rows: dict[str, list[float]]) -> list[Entry]:
    pool = CandidatePool()
    out = []
    for i, (name, scores) in enumerate(rows.items()):
        cand = pool.add(f"Instruction {name} for the task.", "chat", 0)
        assert cand is not None
        e = Entry(SimpleNamespace(number=i), cand, None, None, "instruction", 0, scores=list(map(float, scores)),  # type: ignore[arg-type]
                  outputs=[f"out{name}{j}" for j in range(len(scores))], state="complete")
        out.append(e)
    return out


def test_pareto_parents_in_the_round_context_reach_beyond_the_top_by_mean():
    entries = _entries(ROWS)
    dev = [Example(f"x{i}", (f"y{i}",)) for i in range(10)]
    c_id = entries[2].candidate.id
    top = proposal_context(entries, dev, dev, OptimizeConfig(task="t"), 1, False)
    assert c_id not in {p.id for p in top.parents} and len(top.parents) == 3
    seen = set()
    for seed in range(10):
        ctx = proposal_context(entries, dev, dev, OptimizeConfig(task="t", parents="pareto", seed=seed), 1, False, ["reflect", "merge"])
        ids = [p.id for p in ctx.parents]
        assert len(ids) == len(set(ids)) == 3
        seen |= set(ids)
        assert ctx.results[c_id][6].output == "outC6" and ctx.results[c_id][6].expected == "y6"
        assert {(m.a, m.b) for m in ctx.merges} == {tuple(sorted((entries[0].candidate.id, c_id)))}
    assert c_id in seen
