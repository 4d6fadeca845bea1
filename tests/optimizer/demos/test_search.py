"""Demo search with credit assignment and bootstrapped CoT demos, on rule-based fake LMs."""

from __future__ import annotations

import json
import random


from fakes import DemoFake, FakeBackend
from toy import toy_task

from apeopt.optimizer.demos.credit import Observation, estimate_values, propose_demo_sets
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
