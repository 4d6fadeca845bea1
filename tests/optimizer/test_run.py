"""End-to-end optimize runs on a rule-based fake LM: selection, integrity, files, budgets, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal

import pytest

from toy import garbage, toy_task

from apeopt.runs import BEST_PROMPT, CANDIDATES, EVALUATIONS, LEADERBOARD, SUMMARY
from apeopt.optimizer.progress import View
from apeopt.prompts.file import load_prompt_file
from apeopt.records.base import SCHEMA_VERSION


def test_finds_instruction_that_beats_human(run):
    summary, store, _ = run(space="fewshot")
    assert "plural" in summary.winner.prompt.instruction.lower()
    test = summary.winner.scores["test"]
    assert test.score == 1.0 and test.n == 100
    assert summary.human.scores["test"].score < 0.1
    lo, hi = test.ci
    assert lo <= 1.0 <= hi + 1e-9
    assert summary.paired_test["winner_vs_human"].diff > 0.9


def test_summary_and_files(run):
    summary, store, _ = run(space="instruction", rounds=2)
    written = json.loads(store.path(SUMMARY).read_text())
    assert written == summary.to_dict() and written["schema_version"] == SCHEMA_VERSION
    for key in ("task", "model", "seed", "winner", "human", "few_shot", "lm_calls", "tokens", "wall_seconds", "versions"):
        assert key in written, key
    for split in ("dev", "test", "test_shift"):
        assert {"score", "n", "ci"} <= set(written["winner"][split])
        assert summary.winner.scores[split].n == (60 if split == "dev" else 100 if split == "test" else 40)
    for name in (SUMMARY, CANDIDATES, EVALUATIONS, LEADERBOARD, BEST_PROMPT, "config.json", "study.db", "leaderboard.md"):
        assert store.path(name).is_file(), name
    cands = store.candidates()
    assert cands[0]["origin"] == "human" and cands[0]["text"] == "Do the task."
    assert any(c["origin"] == "variation" and c["parent"] for c in cands)
    assert all(set(c) >= {"text", "parent", "round", "origin", "evaluations", "lm_calls", "tokens"} for c in cands)
    pf = load_prompt_file(store.path(BEST_PROMPT))
    assert pf.task == "toy" and pf.prompt == summary.winner.prompt
    assert summary.winner.dev_selection.metric == "likelihood"
    assert store.summary() == summary  # read back through the record


def test_successive_halving_spends_most_on_survivors(run):
    _, store, _ = run(space="instruction", rounds=1)
    evals = store.evaluations()
    per_trial: dict[int, int] = {}
    for e in evals:
        per_trial[e["trial"]] = per_trial.get(e["trial"], 0) + e["n_new"]
    full = [t for t, n in per_trial.items() if n == 60]
    assert 0 < len(full) < len(per_trial)  # some were pruned at a small minibatch
    assert min(per_trial.values()) == 10


class MarkFinal(View):
    """Remembers how many prompts the fake LM had seen when the final (test) phase began."""

    def __init__(self) -> None:
        super().__init__()
        self.backend = None
        self.search_prompts: list[str] = []

    def update(self, **fields):  # type: ignore[no-untyped-def]
        super().update(**fields)
        if str(fields.get("phase", "")).startswith("final") and self.backend is not None:
            self.search_prompts = list(self.backend.seen_prompts)


def test_selection_identical_when_test_is_garbage(run, monkeypatch):
    import fakes

    views = []
    real_init = fakes.FakeBackend.__init__

    def init(self, *a, **kw):  # type: ignore[no-untyped-def]
        real_init(self, *a, **kw)
        views[-1].backend = self

    monkeypatch.setattr(fakes.FakeBackend, "__init__", init)
    views.append(MarkFinal())
    a, store_a, backend_a = run(space="full", rounds=2, view=views[-1])
    views.append(MarkFinal())
    b, store_b, backend_b = run(space="full", rounds=2, task=toy_task(test=garbage()), view=views[-1])
    assert a.winner.prompt == b.winner.prompt
    strip = lambda rows: [{k: v for k, v in r.items()} for r in rows]  # noqa: E731
    assert strip(store_a.candidates()) == strip(store_b.candidates())
    no_time = lambda rows: [{k: v for k, v in r.items() if k != "elapsed"} for r in rows]  # noqa: E731
    assert no_time(store_a.evaluations()) == no_time(store_b.evaluations())
    assert a.winner.scores["dev"] == b.winner.scores["dev"]
    assert a.winner.scores["test"] != b.winner.scores["test"]
    # and no search request ever contained a test input
    assert views[0].search_prompts == views[1].search_prompts
    assert views[1].search_prompts and len(views[1].search_prompts) < len(backend_b.inner.seen_prompts)
    test_inputs = [ex.input for ex in garbage()]
    assert not any(x in p for p in views[1].search_prompts for x in test_inputs)
    assert any(test_inputs[0] in p for p in backend_b.inner.seen_prompts)  # read once, at the end


def test_call_budget_stops_and_still_reports(run):
    summary, store, backend = run(space="instruction", budget_calls=60)
    assert "budget" in summary.stop_reason
    assert summary.status == "complete"
    assert json.loads(store.path(SUMMARY).read_text())["winner"]["prompt"]["instruction"] == summary.winner.prompt.instruction


def test_incumbent_ladder_is_scored_first_and_its_best_on_all_dev(run):
    summary, store, _ = run(space="fewshot", rounds=1)
    evals = store.evaluations()
    ladder = [e for e in evals if e["phase"] == "incumbents"]
    assert evals[: len(ladder)] == ladder  # nothing is proposed or scored before the incumbent is known
    assert store.candidates()[0]["origin"] == "human"
    assert len(summary.incumbents) >= 6  # every rung is listed, by the trial that scored it last
    assert {r.trial for r in summary.incumbents} <= {e["trial"] for e in ladder}
    assert any(r.n == 60 and r.state == "complete" for r in summary.incumbents)  # halving, not each on all of dev
    assert any(r.n < 60 for r in summary.incumbents)
    assert len({e["trial"] for e in evals}) > len(ladder)


def test_budget_of_one_dev_pass_still_returns_a_fully_scored_winner(run):
    summary, store, _ = run(space="fewshot", budget_calls=60)
    assert "budget" in summary.stop_reason
    assert summary.winner.origin == "human"
    assert summary.winner.dev_selection.n == 60
    assert sum(e["lm_calls"] for e in store.evaluations()) == 60
    assert len(store.candidates()) == 1  # nothing was proposed once the budget was spent


@pytest.mark.parametrize("space,budget", [("instruction", 45), ("fewshot", 137), ("fewshot", 333), ("full", 250)])
def test_call_budget_is_a_hard_cap_on_the_search(run, space, budget):
    summary, store, _ = run(space=space, budget_calls=budget)
    assert summary.search.lm_calls <= budget
    if summary.stop_reason != "rounds finished":  # the budget bound: what is left is less than one more slice of dev
        assert summary.search.lm_calls >= budget - 60, summary.stop_reason
    logged = sum(e["lm_calls"] for e in store.evaluations())
    assert logged <= summary.search.lm_calls and summary.winner.scores["dev"].n == 60


class InterruptingView(View):
    def update(self, **fields):  # type: ignore[no-untyped-def]
        super().update(**fields)
        if fields.get("calls") and not getattr(self, "sent", False):
            self.sent = True
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_stops_after_current_evaluation(run):
    summary, store, _ = run(space="instruction", view=InterruptingView())
    assert summary.status == "interrupted"
    assert summary.winner.scores == {}  # test is not read for an interrupted run
    evals = store.evaluations()  # the batched rung in flight was finished and recorded, nothing after it
    assert evals and {e["step"] for e in evals} == {10}
    assert len({e["trial"] for e in evals}) == len(evals)
    assert not store.path(BEST_PROMPT).exists()
    assert store.candidates()


def test_resume_replays_the_log_and_finishes_identically(run, tmp_path):
    import shutil

    from toy import run_toy

    full, store_full, _ = run(space="fewshot", rounds=2)
    evals = store_full.evaluations()
    # a crashed attempt: the same run folder holding only the first half of the evaluation log
    crashed = tmp_path / "crashed"
    crashed.mkdir()
    shutil.copy(store_full.path("config.json"), crashed / "config.json")
    half = len(evals) // 2
    (crashed / EVALUATIONS).write_text("".join(json.dumps(r) + "\n" for r in evals[:half]) + '{"torn": ')
    resumed, store_resumed, backend = run_toy(crashed, space="fewshot", rounds=2, resume=True)
    assert resumed.winner.prompt == full.winner.prompt
    assert resumed.winner.scores["test"] == full.winner.scores["test"]
    key = lambda r: (r["trial"], r["step"])  # noqa: E731
    after = store_resumed.evaluations()
    assert [key(r) for r in after] == [key(r) for r in evals]  # nothing lost, nothing twice
    assert [r["scores"] for r in after] == [r["scores"] for r in evals]
    assert resumed.lm_calls == full.lm_calls


def test_rerun_with_cache_is_free_and_identical(tmp_path):
    from fakes import FakeBackend
    from toy import toy_task

    from apeopt.models.cache import CachingBackend
    from apeopt.models.metered import MeteredBackend
    from apeopt.optimizer.config import OptimizeConfig
    from apeopt.optimizer.run import optimize
    from apeopt.runs import RunStore
    from apeopt.search_spaces import load_space

    def once(name: str):  # type: ignore[no-untyped-def]
        inner = FakeBackend(lambda x: x + "s")
        backend = MeteredBackend(CachingBackend(inner, tmp_path / "cache.sqlite"))
        store = RunStore.create(tmp_path / name, tmp_path, name)
        config = OptimizeConfig(task="toy", space="full", rounds=2, budget_minutes=None)
        return optimize(config, toy_task(), load_space("full"), backend, backend, store, View()), inner

    first, inner1 = once("a")
    second, inner2 = once("b")
    assert inner1.usage.calls > 0 and inner2.usage.calls == 0  # every request of the rerun was a cache hit
    assert second.winner == first.winner and second.lm_calls == first.lm_calls
    assert second.computed["cache_hits"] > 0


def test_full_space_at_500_calls_gets_past_round_0(run):
    """A phase whose share of the calls runs out ends that phase, not the run; round 0's wording phase
    leaves calls for round 1."""
    summary, store, _ = run(space="full", budget_calls=500)
    assert summary.search.lm_calls <= 500
    assert any(e["round"] >= 1 for e in store.evaluations())
