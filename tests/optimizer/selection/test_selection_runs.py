"""The selection rule in whole runs on rule-based fake LMs: the ladder's best is a floor, a win within
noise is no win, a real gain wins."""

from __future__ import annotations

from fakes import DemoFake, FakeBackend


def plural(x: str) -> str:
    return x + "s"


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
