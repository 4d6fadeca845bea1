"""Entries: a candidate in a format becomes a trial with its prompt; continuations and discards."""

from __future__ import annotations

import optuna

from apeopt.optimizer.candidates.entries import EntryMaker, prompt_for
from apeopt.optimizer.candidates.pool import CandidatePool
from apeopt.search_spaces import Format, load_space
from apeopt.tasks.task import Example

TRAIN = tuple(Example(f"w{i}", (f"w{i}s",)) for i in range(40))


def maker() -> EntryMaker:
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return EntryMaker(optuna.create_study(direction="maximize"), load_space("fewshot"), TRAIN, max_tokens=8)


def test_prompt_for_draws_chooses_or_retrieves_demos_as_the_format_says():
    assert len(prompt_for("Do.", Format(demos=3, demo_seed=1), TRAIN, 8).demos) == 3
    chosen = prompt_for("Do.", Format(demos=2, demo_source="chosen", demo_ids=(5, 2)), TRAIN, 8)
    assert [d.input for d in chosen.demos] == ["w5", "w2"]
    retrieved = prompt_for("Do.", Format(demos=4, demo_source="retrieved"), TRAIN, 8)
    assert retrieved.retrieves and not retrieved.demos and len(retrieved.demo_pool) == len(TRAIN)


def test_an_entry_records_its_candidate_and_format_on_its_trial():
    m = maker()
    cand = CandidatePool().add("Write the plural.", "human", 0)
    assert cand is not None
    e = m.entry(cand, Format(demos=2), "demos", 1, label="credit")
    attrs = e.trial.user_attrs
    assert attrs["candidate_id"] == cand.id and attrs["phase"] == "demos" and attrs["round"] == 1
    assert attrs["label"] == "credit" and attrs["format"]["demos"] == 2
    assert e.prompt.instruction == "Write the plural." and len(e.prompt.demos) == 2


def test_a_continuation_carries_the_scores_and_a_discarded_entry_is_pruned():
    m = maker()
    cand = CandidatePool().add("Write the plural.", "human", 0)
    assert cand is not None
    e = m.entry(cand, Format(), "instruction", 0)
    e.scores = [1.0, 0.0]
    c = m.continuation(e)
    assert c.scores == [1.0, 0.0] and c.trial.user_attrs["continues"] == e.trial.number and e.state == "continued"
    m.discard(c)
    assert c.state == "pruned" and m.study.trials[c.trial.number].state == optuna.trial.TrialState.PRUNED
