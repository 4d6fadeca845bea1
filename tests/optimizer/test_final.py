"""Final scoring: the reference prompts, each prompt scored once on dev, test and test_shift, paired tests."""

from __future__ import annotations

from fakes import FakeBackend
from toy import toy_task

from apeopt.optimizer.final import paired, reference_prompts, score_final
from apeopt.prompts.prompt import PromptConfig


def plural(x: str) -> str:
    return x + "s"


def test_reference_prompts_are_the_human_instruction_with_and_without_demos():
    task = toy_task()
    refs = reference_prompts(task, few_shot_k=3, seed=1)
    assert set(refs) == {"human", "few_shot"} and not refs["human"].demos and len(refs["few_shot"].demos) == 3
    assert set(reference_prompts(task, few_shot_k=0, seed=1)) == {"human"}


def test_each_prompt_is_scored_on_every_evaluation_split_and_paired_on_test():
    task = toy_task()
    prompts = {"winner": PromptConfig("Write the plural."), "human": PromptConfig(task.instruction)}
    scores, raw = score_final(task, prompts, FakeBackend(plural), dev=task.split("dev")[:10])
    assert scores["winner"]["test"].score == 1.0 and scores["human"]["test"].score == 0.0
    assert scores["winner"]["dev"].n == 10 and scores["winner"]["test_shift"].n == 40
    p = paired(raw, "winner", "human")
    assert p is not None and p.diff == 1.0
    assert paired(raw, "winner", "few_shot") is None
