"""Induction from examples alone on the fake LM: a task without instruction, the data profile and its
constraint clauses, the likelihood pre-screen and the generation guard."""

from __future__ import annotations

import dataclasses
import json

from fakes import FakeBackend
from toy import run_toy, toy_task

from apeopt.optimizer.proposers.base import ProposalContext, ScoredCandidate
from apeopt.optimizer.proposers.constraints import ConstraintProposer, clauses, with_clause
from apeopt.optimizer.proposers.data_profile import profile
from apeopt.optimizer.proposers.induction import InduceProposer, off_task, round0_proposers
from apeopt.runs.files import GUARD, PRESCREEN
from apeopt.tasks.task import Example


def bare_toy():  # type: ignore[no-untyped-def]
    return dataclasses.replace(toy_task(), instruction="")


def rows(store, name: str = "candidates.jsonl") -> list[dict]:  # type: ignore[no-untyped-def]
    return [json.loads(line) for line in store.path(name).read_text().splitlines() if line.strip()]


def test_profile_reads_the_shape_of_the_outputs():
    ex = lambda pairs: [Example(i, (o,)) for i, o in pairs]  # noqa: E731
    labels = profile(ex([(f"s{i}", "positive" if i % 3 else "negative") for i in range(30)]))
    assert labels.kind == "label" and set(labels.labels) == {"positive", "negative"}
    assert clauses(labels)[0] == "Answer with one of: positive, negative."
    assert profile(ex([(f"{i} {i}", str(2 * i)) for i in range(30)])).kind == "number"
    upper = profile(ex([(f"word{i}", f"WORD{i}") for i in range(30)]))
    assert upper.kind == "word" and upper.casing == "upper" and clauses(upper)[0] == "Answer with one word in capital letters."
    first = profile(ex([(f"{c}pple{i}", c) for i, c in enumerate("abcdefghijklmnopqrstuvwxyz")]))
    assert first.kind == "letter" and first.copied
    assert profile(ex([(f"w{i}", " ".join(f"w{i}")) for i in range(30)])).kind == "letters"


def test_constraint_clause_is_appended_to_parents_and_stands_alone_without_instruction():
    train = toy_task().split("train")
    ctx = ProposalContext(train=train, parents=[ScoredCandidate("c0", "Write the plural", 0.5)])
    texts = [p.text for p in ConstraintProposer().propose(None, ctx)]  # type: ignore[arg-type]
    assert texts[0] == "Write the plural. Answer with one word in lowercase."
    ctx = ProposalContext(train=train, parents=[ScoredCandidate("c0", "", 0.1)])
    assert [p.text for p in ConstraintProposer().propose(None, ctx)][0] == "Answer with one word in lowercase."
    assert with_clause("Answer with one word in lowercase.", "Answer with one word in lowercase.") == \
        "Answer with one word in lowercase."


def test_off_task_texts_are_dropped():
    assert off_task("Write a JavaScript function that returns the plural.")
    assert off_task("For each input-output pair, replace the input with its corresponding output.")
    assert not off_task("Write the plural form of the given noun.")


def test_induce_samples_many_from_several_subsets_with_the_profile():
    lm = FakeBackend(lambda x: x + "s")
    ctx = ProposalContext(train=toy_task().split("train"), subsamples=4, extra={
        "profile": profile(toy_task().split("train")), "induce_samples": 24})
    reqs = InduceProposer().requests(ctx)
    assert len(reqs) == 4 and sum(r.calls for r, _ in reqs) == 24
    assert len({str(r.prompt) for r, _ in reqs}) == 4  # different demo subsets
    plan = InduceProposer().plan(ctx)
    assert [p.form for p in plan] == ["write", "describe", "write", "chat"]
    assert all("a single word" in str(p.fallback.prompt) for p in plan)  # the profile, where a whole instruction is asked for
    out = InduceProposer().propose(lm, ctx)
    assert len({p.text for p in out}) == len(out) > 0  # de-duplicated


def test_induce_begins_the_reply_where_the_backend_renders_chat():
    lm = FakeBackend(lambda x: x + "s")
    ctx = ProposalContext(train=toy_task().split("train"), subsamples=4, extra={"induce_samples": 8})
    out = InduceProposer().propose(lm, ctx)
    begun = [t for t in lm.seen_prompts if t.endswith(("Instruction: Write the", "Each output is the"))]
    assert len(begun) == 3  # three subsets in four
    assert "Write the plural form of the word." in {p.text for p in out}  # the lead put before the completion


class NoChatFake(FakeBackend):
    def render_chat(self, messages):  # type: ignore[no-untyped-def]
        raise NotImplementedError("an API model")


def test_induce_asks_for_whole_instructions_where_the_backend_cannot_render_chat():
    lm = NoChatFake(lambda x: x + "s")
    ctx = ProposalContext(train=toy_task().split("train"), subsamples=4, extra={"induce_samples": 8})
    assert InduceProposer().propose(lm, ctx)
    assert not any(t.endswith("Write the") for t in lm.seen_prompts)
    assert all("Reply with the instruction only" in t for t in lm.seen_prompts)


def test_begun_reply_texts_become_instructions():
    from apeopt.optimizer.proposers.induction import _as_instruction

    assert _as_instruction(" plural form of its corresponding input.") == "plural form of the input."
    assert _as_instruction("opposite of their inputs") == "opposite of the input"


def test_no_instruction_rounds_start_by_inducing():
    assert round0_proposers(("forward", "chat"), has_instruction=False)[:2] == ["induce", "constraints"]
    assert round0_proposers(("forward", "chat"), has_instruction=True) == ["forward", "chat"]


def test_task_without_instruction_optimizes_and_induction_finds_the_planted_instruction(tmp_path):
    summary, store, _ = run_toy(tmp_path / "r", space="instruction", task=bare_toy(), budget_calls=500, rounds=2,
                                prescreen_items=3, prescreen_keep=4)
    assert summary.human.prompt.instruction == ""  # the baseline is "no instruction"
    assert "plural" in summary.winner.prompt.instruction.lower()
    assert summary.winner.origin == "induce"
    cands = rows(store)
    assert cands[0]["origin"] == "none" and cands[0]["text"] == ""
    assert any(c["origin"] == "constraints" and c["text"] == "Answer with one word in lowercase." for c in cands)
    screens = json.loads(store.path(PRESCREEN).read_text())
    assert screens and len(screens[0]["kept"]) == 4 < screens[0]["screened"]
    test = summary.paired_test["winner_vs_human"]
    assert test is not None and test.diff > 0.5  # the induced instruction beats "no instruction" on test


class MetaFake(FakeBackend):
    """Likelihood rewards meta-text ("matching") that generation then follows literally (echoes the input);
    with no instruction the model generates the right answer."""

    def _propose(self, seed: int, k: int) -> str:
        return [" replace each input with its matching answer", " say something nice"][(seed + k) % 2]

    def generate(self, requests):  # type: ignore[no-untyped-def]
        self._generating = True
        try:
            return super().generate(requests)
        finally:
            self._generating = False

    def _answer(self, prompt: str) -> str:
        x = (__import__("re").findall(r"Input: (.*)\n(?:Output|Answer):[^\n]*$", prompt) or [""])[-1]
        meta = "matching" in prompt.split("Input:")[0].lower()
        if getattr(self, "_generating", False):
            return " " + (x if meta else self.solve(x))
        return " " + (self.solve(x) if meta else x)


def test_guard_refuses_meta_text_that_generation_punishes(tmp_path):
    lm = MetaFake(lambda x: x + "s")
    guarded, store, _ = run_toy(tmp_path / "g", space="instruction", task=bare_toy(), budget_calls=500, rounds=1, lm=lm)
    assert "matching" not in guarded.winner.prompt.instruction
    checks = json.loads(store.path(GUARD).read_text())
    assert any(not c["allowed"] and "matching" in c["instruction"] and "reason" not in c for c in checks)
    unguarded, _, _ = run_toy(tmp_path / "u", space="instruction", task=bare_toy(), budget_calls=500, rounds=1,
                              lm=MetaFake(lambda x: x + "s"), guard=False)
    assert "matching" in unguarded.winner.prompt.instruction  # likelihood alone is fooled


def test_prescreen_counts_the_calls_of_items_with_several_gold_answers():
    from types import SimpleNamespace

    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.optimizer.proposers.induction_step import Induction
    from apeopt.prompts.prompt import PromptConfig

    task = toy_task()
    dev = [Example(f"w{i}", (f"w{i}s", f"w{i}es")) for i in range(6)]  # two gold answers: two calls an item
    lm = FakeBackend(lambda x: x + "s")
    ind = Induction(OptimizeConfig(task="toy", prescreen_items=3, prescreen_keep=8), task, dev, lm, lambda: 40)
    cands = [SimpleNamespace(id=f"c{i}", text=f"Write the plural number {i}.") for i in range(16)]
    prompts = [PromptConfig(instruction=c.text) for c in cands]
    kept = ind.prescreen(cands, prompts, 0, lambda p, items: 2 * len(items))
    assert len(kept) == 8 and lm.usage.calls <= 20  # half of the 40 calls left
    assert ind.screens[0]["items"] == 1 and ind.screens[0]["screened"] == 10


def test_texts_that_copy_a_demo_are_not_instructions():
    from apeopt.optimizer.proposers.induction import quotes_demo

    shown = [Example("What a terrible screen!", ("negative",)), Example("residence", ("residences",)),
             Example("32 64", ("64",))]
    assert quotes_demo('Write "negative" if the input is "What a terrible screen!".', shown)
    assert quotes_demo("Write the plural, as in “residence” → residences.", shown)
    assert quotes_demo("Write the output for the input 32 64.", shown)
    assert not quotes_demo('Answer "negative" or "positive".', shown)  # a label it names
    assert not quotes_demo("Write the plural form of the given noun.", shown)


def test_rounds_that_finish_with_calls_left_finish_the_leaders_a_phase_share_cut(tmp_path):
    # 400 calls, one round: the wording phase's share cuts the planted instruction after its first rung;
    # the closing step spends the calls left on it, and it wins on all of dev.
    summary, _, _ = run_toy(tmp_path / "r", space="instruction", task=bare_toy(), budget_calls=400, rounds=1,
                            prescreen_items=3, prescreen_keep=4)
    assert summary.stop_reason.startswith("rounds finished; the closing step finished")
    assert "plural" in summary.winner.prompt.instruction.lower()
