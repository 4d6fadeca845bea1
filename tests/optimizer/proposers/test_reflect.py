"""The reflect and merge proposers: what their prompts show, their token cap, and their calls in the budget."""

from __future__ import annotations

import json

import pytest
from fakes import FakeBackend
from toy import toy_task

from apeopt.errors import UserError
from apeopt.models.metered import MeteredBackend
from apeopt.optimizer.config import OptimizeConfig
from apeopt.runs import PROPOSER_CALLS
from apeopt.optimizer.proposers.merge import MergeProposer
from apeopt.optimizer.proposers.pareto import MergePair
from apeopt.optimizer.proposers.registry import PROPOSERS
from apeopt.optimizer.proposers.base import Observed, ProposalContext, ScoredCandidate
from apeopt.optimizer.proposers.reflect import ReflectProposer, message_tokens
from apeopt.optimizer.run import optimize
from apeopt.runs import EVALUATIONS, RunStore
from apeopt.optimizer.progress import View
from apeopt.search_spaces import load_space

PARENT = ScoredCandidate("c0001", "Do the task.", 0.4)


def _results(n: int = 6) -> tuple[Observed, ...]:
    wrong = [Observed(i, f"goose{i}", f"geese{i}", f"gooses{i}", 0.0, f"expected 'geese{i}', got 'gooses{i}'") for i in range(n)]
    right = [Observed(n + i, f"cat{i}", f"cats{i}", f"cats{i}", 1.0) for i in range(2)]
    return tuple(wrong + right)


def _text(req) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(content for _, content in req.prompt)


def test_reflection_prompt_shows_failing_inputs_outputs_expected_and_feedback():
    ctx = ProposalContext(train=(), parents=[PARENT], results={PARENT.id: _results()}, reflect_failures=3, reflect_successes=1, n=2)
    reqs = ReflectProposer().requests(ctx)
    assert len(reqs) == 1 and reqs[0][1] == PARENT.id
    req, _ = reqs[0]
    text = _text(req)
    assert req.prompt[0][0] == "system" and req.prompt[1][0] == "user"  # chat messages, as the chat proposer sends
    assert '"""\nDo the task.\n"""' in text
    shown = [i for i in range(6) if f"Input: goose{i}\n" in text]
    assert len(shown) == 3  # the minibatch of failures
    for i in shown:
        assert f"Model answer: gooses{i}" in text and f"Expected answer: geese{i}" in text
        assert f"Feedback: expected 'geese{i}', got 'gooses{i}'" in text
    assert text.count("Feedback: correct") == 1  # and one success
    assert req.n == 2 and req.temperature > 0


def test_reflection_prompt_respects_its_token_cap_with_a_huge_example():
    huge = Observed(0, "word " * 100_000, "x", "y " * 50_000, 0.0, "expected 'x', got " + "'y'" * 1000)
    cases = (huge, *_results()[1:])
    for cap in (200, 400, 1200):
        ctx = ProposalContext(train=(), parents=[ScoredCandidate("c1", "Follow the rule. " * 5000, 0.1)],
                              results={"c1": cases}, reflect_tokens=cap, reflect_failures=5)
        (req, _), = ReflectProposer().requests(ctx)
        assert message_tokens(req.prompt) <= cap
        text = _text(req)
        assert "chars cut]" in text and "Follow the rule." in text
    # the default cap: the huge case is shortened, not dropped, and other cases still fit
    fitted = ReflectProposer.prompt("Do the task.", cases, 1200)
    assert fitted is not None and fitted[1] >= 3 and "Input: word word" in _text(type("R", (), {"prompt": fitted[0]}))


def test_parent_without_failures_is_not_reflected_on():
    right = tuple(o for o in _results() if o.score == 1.0)
    assert ReflectProposer().requests(ProposalContext(train=(), parents=[PARENT], results={PARENT.id: right})) == []
    assert ReflectProposer().requests(ProposalContext(train=(), parents=[PARENT])) == []  # no results at all


def test_merge_request_names_both_parents_and_the_examples_each_wins():
    a, b = ScoredCandidate("ca", "Write the plural form.", 0.6), ScoredCandidate("cb", "Irregular nouns change their vowel.", 0.3)
    res_a = tuple(Observed(i, f"dog{i}", f"dogs{i}", f"dogs{i}", 1.0) for i in range(4))
    res_b = tuple(Observed(i, f"dog{i}", f"dogs{i}", "?", 0.0) for i in range(4)) + (Observed(4, "goose", "geese", "geese", 1.0),)
    ctx = ProposalContext(train=(), history=[b, a], results={"ca": res_a, "cb": res_b},
                          merges=[MergePair("ca", "cb", (0, 1, 2, 3), (4,))], n=3)
    (req, parent), = MergeProposer().requests(ctx)
    text = _text(req)
    assert parent == "ca" and "Write the plural form." in text and "Irregular nouns change their vowel." in text
    assert "only A gets right:\n\nInput: dog0\nExpected answer: dogs0" in text
    assert "only B gets right:\n\nInput: goose\nExpected answer: geese" in text
    assert "dog3" not in text  # at most 3 examples per parent
    # the cap holds here too
    long = ScoredCandidate("cb", "Be careful. " * 10_000, 0.3)
    ctx.history = [long, a]
    (req, _), = MergeProposer().requests(dataclass_replace(ctx, reflect_tokens=300))
    assert message_tokens(req.prompt) <= 300


def dataclass_replace(ctx: ProposalContext, **kw: object) -> ProposalContext:
    import dataclasses

    return dataclasses.replace(ctx, **kw)  # type: ignore[arg-type]


def test_config_validates_reflection_settings():
    with pytest.raises(UserError, match="'reflect_tokens' must be a whole number >= 200, got 50"):
        OptimizeConfig(task="t", reflect_tokens=50)
    with pytest.raises(UserError, match="'later_proposers': unknown proposer 'reflekt'; did you mean 'reflect'"):
        OptimizeConfig(task="t", later_proposers=("reflekt",))
    with pytest.raises(UserError, match="unknown initial proposer 'reflect'"):
        OptimizeConfig(task="t", proposers=("reflect",))  # needs scored candidates: later rounds only
    with pytest.raises(UserError, match="'parents' must be 'top' or 'pareto', got 'best'"):
        OptimizeConfig(task="t", parents="best")
    assert PROPOSERS.get("reflect").later_only and PROPOSERS.get("merge").later_only


@pytest.mark.parametrize("later,parents", [(("reflect",), "top"), (("variation", "history", "reflect", "merge"), "pareto")])
def test_reflection_calls_count_against_the_call_budget(tmp_path, later, parents):
    fake = FakeBackend(lambda x: x + "s")
    task_lm, proposer = MeteredBackend(fake), MeteredBackend(fake)
    budget = 900
    config = OptimizeConfig(task="toy", space="fewshot", budget_minutes=None, budget_calls=budget, rounds=3,
                            later_proposers=later, parents=parents, patience=3)
    store = RunStore.create(tmp_path / "r", tmp_path, "x")
    summary = optimize(config, toy_task(), load_space("fewshot"), task_lm, proposer, store, View(), final=False)
    used = json.loads(store.path(PROPOSER_CALLS).read_text())
    assert used.get("reflect", 0) > 0
    assert sum(used.values()) == proposer.usage.calls  # every proposer call is attributed, reflection included
    assert summary.search.lm_calls == task_lm.usage.calls + proposer.usage.calls <= budget
    reflections = [p for p in fake.seen_prompts if "\nExpected answer: " in p and "Feedback:" in p]
    assert reflections and all("got '" in p for p in reflections)  # the scorer's feedback reached the proposer
    cands = store.candidates()
    assert any(c["origin"] == "reflect" and c["parent"] for c in cands)
    logged = [r for r in store.evaluations() if r.get("feedback")]
    assert logged and all(len(r["outputs"]) == len(r["scores"]) == len(r["feedback"]) for r in logged)
    assert store.path(EVALUATIONS).is_file()


def test_reflection_replies_are_cleaned_to_instructions():
    from apeopt.optimizer.proposers.cleaning import clean_instruction

    assert clean_instruction("Improved instruction: answer with the opposite word only") == "Answer with the opposite word only."
    assert clean_instruction("Refinements of this instruction:") is None  # a header, not an instruction
    assert clean_instruction("Here is an improved version of the instruction with rules:") is None
    # the meta-prompt named, or a template placeholder: no instruction, not worth a scoring call
    assert clean_instruction("Instruction A and B combine to answer all inputs correctly.") is None
    assert clean_instruction("The instruction should include a detailed breakdown of the mistakes.") is None
    assert clean_instruction("The new instruction must say what the answer is.") is None
    assert clean_instruction("Your updated response here.") is None and clean_instruction("Your answer here.") is None
    # ... while instructions that merely contain such words stay
    assert clean_instruction("Give a one-word answer: the opposite of the word.") == "Give a one-word answer: the opposite of the word."
    assert clean_instruction("Write your answer here as one lowercase word.") == "Write your answer here as one lowercase word."
    assert clean_instruction("Choose option a or b, whichever is larger.") == "Choose option a or b, whichever is larger."
