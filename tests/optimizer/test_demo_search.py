"""The incumbent ladder, demo search with credit assignment, and the selection rule, on rule-based fake LMs."""

from __future__ import annotations

import json
import random

import pytest

from fakes import DemoFake, FakeBackend
from toy import toy_task

from apeopt.optimizer.demos.credit import Observation, estimate_values, propose_demo_sets
from apeopt.optimizer.selection.rule import contends, paired_gain
from apeopt.tasks.task import Example, Task


def plural(x: str) -> str:
    return x + "s"


def small_task(n_train: int = 20) -> Task:
    ex = [Example(f"w{i}", (f"w{i}s",)) for i in range(n_train + 60 + 40)]
    return Task("small", "Do the task.", {"train": tuple(ex[:n_train]), "dev": tuple(ex[n_train:n_train + 60]),
                                          "test": tuple(ex[n_train + 60:])})


def test_credit_ranks_a_helpful_demo_above_a_harmful_one():
    rng = random.Random(0)
    obs = []
    for t in range(40):
        ids = tuple(rng.sample(range(20), 5))
        p = 0.5 + 0.3 * (7 in ids) - 0.3 * (3 in ids)
        obs.append(Observation(ids, tuple(float(rng.random() < p) for _ in range(30))))
    values = estimate_values(obs)
    order = [v.index for v in values]
    assert order.index(7) < order.index(3)
    assert order[0] == 7 and order[-1] == 3
    best = propose_demo_sets(values, 20, 5, count=3, seed=0)
    assert 7 in best[0] and 3 not in best[0] and best[0][-1] == 7  # greedy set, the most valuable demo last
    assert len({frozenset(s) for s in best}) == 3


def graded(demos: list[str], x: str, head: str) -> bool:
    """Right on 30% of inputs, 70% when the demos show w7, none when they show w3 (40% with both)."""
    return int(x[1:]) * 7 % 10 < 3 + 4 * ("w7" in demos) - 3 * ("w3" in demos)


def test_demo_search_finds_the_helpful_demo_and_records_values(run):
    lm = DemoFake(plural, graded)  # only the choice of demos matters
    summary, store, _ = run(space="fewshot", task=small_task(), lm=lm)
    values = json.loads(store.path("demo_values.json").read_text())
    rank = [v["train_index"] for v in values]
    assert 7 in rank and 3 in rank and rank.index(7) < rank.index(3)
    shown = [d.input for d in summary.winner.prompt.demos]
    assert "w7" in shown and "w3" not in shown
    assert summary.winner.scores["dev"].score == 0.7
    # the winner's other demos were shown together with w7 in the best sets, so w7 need not rank first
    assert [v.train_index for v in summary.demo_values].index(7) < 3


def test_winner_never_below_the_best_incumbent_on_dev(run):
    # more demos help (>= 16 solve everything); proposals and demo choice do nothing
    lm = DemoFake(plural, lambda demos, x, head: len(demos) >= 16 or (len(demos) >= 8 and int(x[1:]) % 2 == 0))
    summary, store, _ = run(space="fewshot", lm=lm)
    ladder = summary.incumbents
    assert ladder[0].name == "human + 5 random demos"  # the space's start format first
    assert {"human (zero-shot)", "human + 32 random demos", "human + 8 retrieved demos"} <= {r.name for r in ladder}
    best_ladder = max(r.dev for r in ladder if r.n == 60)
    assert summary.winner.dev_selection.n == 60
    assert summary.winner.dev_selection.score >= best_ladder == 1.0
    evals = store.evaluations()
    first_other = next(i for i, e in enumerate(evals) if e["phase"] != "incumbents")
    assert all(e["phase"] == "incumbents" for e in evals[:first_other]) and first_other > 0


def test_a_weak_instruction_does_not_displace_the_human_one(run):
    class Weak(FakeBackend):
        """Human + demos solve even inputs; an instruction with 'nice' also solves one more input."""

        def _answer(self, prompt: str) -> str:
            x = prompt.rsplit("Input: ", 1)[-1].split("\n")[0]
            head = prompt.split("Input:")[0].lower()
            ok = int(x[1:]) % 2 == 0 or ("nice" in head and x == "w201")
            return " " + (x + "s" if ok else x)

    summary, store, _ = run(space="fewshot", lm=Weak(plural, keyword="nice"))
    assert summary.winner.prompt.instruction == "Do the task."
    nice = [e for e in store.evaluations() if "nice" in e["instruction"].lower()]
    assert nice  # the weak instruction was proposed and scored, and lost on the rule
    verdicts = [v for v in summary.selection if not v.credible]
    assert any(abs(v.diff - 1 / 60) < 1e-9 for v in verdicts)


def test_a_strong_instruction_wins_credibly(run):
    summary, _, _ = run(space="fewshot")  # the toy LM answers right iff the instruction says "plural"
    assert "plural" in summary.winner.prompt.instruction.lower()
    assert any(v.credible and v.phase == "instruction" for v in summary.selection)


def test_paired_gain_rule():
    inc = [0.0] * 30
    assert not paired_gain([1.0] + [0.0] * 29, inc).credible  # one item is noise
    assert paired_gain([1.0] * 10 + [0.0] * 20, inc).credible
    assert not paired_gain(inc, inc).credible
    mixed = [1.0, 0.0] * 15
    assert not paired_gain([0.0, 1.0] * 15, mixed).credible  # same mean, other items


def test_cot_incumbent_gets_bootstrapped_demos_of_its_own_correct_reasoning(run, tmp_path):
    """A CoT space whose fake LM reasons "<x> + s" and answers right only after demos that show reasoning."""
    import re

    class CoT(FakeBackend):
        def _answer(self, prompt: str) -> str:
            if prompt.rstrip().endswith("Therefore, the answer is"):  # the answer stage
                x = re.findall(r"Input: (.*)\nOutput:", prompt)[-1]
                shows_reasoning = prompt.count("Therefore, the answer is") > 1
                return " " + (x + "s" if shows_reasoning or int(x[1:]) % 2 == 0 else x)
            x = prompt.rsplit("Input: ", 1)[-1].split("\n")[0]
            return f" add s to {x}"

    space = tmp_path / "cot.yaml"
    space.write_text("name: cot\nincumbents: ladder\ndemo_trials: 2\nformat_trials: 0\n"
                     "params: {demos: {low: 3, high: 8}, demo_seed: {low: 0, high: 31}, cot: \"Let's think step by step.\"}\n"
                     "start: {demos: 5}\n")
    summary, store, _ = run(space=str(space), lm=CoT(plural))
    assert summary.winner.prompt.demos and all("Therefore, the answer is" in d.output for d in summary.winner.prompt.demos)
    assert summary.winner.prompt.demos[0].output.startswith("Let's think step by step. add s to ")
    assert summary.winner.scores["dev"].score == 1.0
    assert any(c.credible and c.phase == "demos" for c in summary.selection)


def test_contends_finishes_leaders_and_near_ties_only_where_asked():
    ref = [1.0] * 22 + [0.0] * 8  # 0.73 on its first 30 items
    near_tie = [1.0] * 21 + [0.0] * 9  # 0.70 on the same 30: behind, but within noise
    far_behind = [0.0] * 30
    ahead = [1.0] * 25 + [0.0] * 5
    assert contends(ahead, ref)
    assert not contends(near_tie, ref)  # later phases: only what is ahead is finished
    assert contends(near_tie, ref, near=True)  # the ladder: a near-tie is finished too
    assert not contends(far_behind, ref, near=True)
    assert not contends([], ref, near=True)


def test_selection_is_corrected_for_the_candidates_compared():
    from apeopt.optimizer.selection.rule import corrected_confidence

    assert corrected_confidence(1) == 0.95 and corrected_confidence(25) == pytest.approx(0.998)
    inc = [0.0] * 12 + [1.0] * 5 + [0.0] * 83
    lucky = [1.0] * 12 + [0.0] * 5 + [0.0] * 83  # wins 12 items, loses 5: +0.07, credible alone, not as the best of 25
    assert paired_gain(lucky, inc).credible
    assert not paired_gain(lucky, inc, confidence=corrected_confidence(25)).credible
    strong = [1.0] * 30 + [0.0] * 70
    assert paired_gain(strong, inc, confidence=corrected_confidence(25)).credible
