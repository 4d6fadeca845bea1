"""Cost as a measure: prompt tokens by the model's tokenizer, the prompt-size limit, best vs cheapest."""

from __future__ import annotations

import json

import pytest

from cli_helpers import assert_user_error, run_cli
from fakes import DemoFake, FakeBackend, count_words
from toy import toy_task

from apeopt.errors import UserError
from apeopt.optimizer.config import OptimizeConfig
from apeopt.optimizer.cost import OVER_LIMIT
from apeopt.optimizer.candidates.entries import prompt_for
from apeopt.optimizer.progress import View
from apeopt.records.cost import CostPoint, pareto_front
from apeopt.records.summary import RunSummary
from apeopt.search_spaces import Format


def plural(x: str) -> str:
    return x + "s"


def mean_count(prompt, inputs) -> float:  # type: ignore[no-untyped-def]
    counts = [count_words(str(prompt.render(x))) for x in inputs]
    return round(sum(counts) / len(counts), 2)


def test_recorded_prompt_tokens_are_the_tokenizers_count_of_the_rendered_prompt(run):
    summary, store, _ = run(space="fewshot", rounds=1)
    task = toy_task()
    dev = [x.input for x in task.split("dev")]
    cost = summary.cost
    assert cost is not None and cost.tokenizer == "model"
    assert cost.winner.prompt_tokens == mean_count(summary.winner.prompt, dev)
    rows = json.loads(store.path("leaderboard.json").read_text())
    assert rows and all("prompt_tokens" in r and "tokens_per_example" in r for r in rows)
    for r in rows:
        fmt = Format(**{k: tuple(v) if isinstance(v, list) else v for k, v in r["format"].items()})
        prompt = prompt_for(r["instruction"], fmt, task.split("train"), task.max_tokens)
        assert r["prompt_tokens"] == mean_count(prompt, dev), r
    # tokens per example: everything its scoring took (the fake reports ~4 characters a token, plus its answers)
    evals = store.evaluations()
    mine = [e for e in evals if e["trial"] == cost.winner.trial or e["trial"] == summary.winner.trial]
    assert mine and cost.winner.tokens_per_example > 0
    assert summary.to_dict()["cost"]["per_1000_calls"]["tokens"] == pytest.approx(1000 * cost.winner.tokens_per_example)
    assert RunSummary.from_dict(summary.to_dict()).cost == cost


def test_hf_tokenizer_counts_the_rendered_prompt(tiny_backend):
    from apeopt.models.metered import MeteredBackend
    from apeopt.optimizer.cost import CostMeter
    from apeopt.prompts.prompt import Demo, PromptConfig

    backend = MeteredBackend(tiny_backend)  # as the optimizer holds it
    tokenizer = tiny_backend.base_backend().tokenizer
    prompt = PromptConfig("Write the plural of the word.", demos=(Demo("cat", "cats"), Demo("box", "boxes")))
    inputs = ["dog", "church", "mouse"]
    want = [len(tokenizer(str(prompt.render(x)))["input_ids"]) for x in inputs]
    assert CostMeter(backend, inputs).prompt_tokens(prompt) == round(sum(want) / 3, 2)
    assert backend.counts_tokens


class SeenAtFinal(View):
    """The scoring prompts the fake LM saw before final scoring began (the search's, not the baselines')."""

    def __init__(self, lm: FakeBackend) -> None:
        super().__init__()
        self.lm = lm
        self.search: list[str] | None = None

    def update(self, **fields):  # type: ignore[no-untyped-def]
        super().update(**fields)
        if str(fields.get("phase", "")).startswith("final") and self.search is None:
            self.search = list(self.lm.seen_prompts)


def test_max_prompt_tokens_never_scores_or_picks_a_longer_candidate(run):
    lm = DemoFake(plural, lambda demos, x, head: len(demos) >= 8)  # only long prompts are right
    view = SeenAtFinal(lm)
    limit = 40
    summary, store, _ = run(space="fewshot", lm=lm, view=view, rounds=2, max_prompt_tokens=limit)
    scored = [p for p in view.search or [] if p.endswith("Output:")]
    assert scored and max(count_words(p) for p in scored) <= limit
    cost = summary.cost
    assert cost.over_limit > 0 and cost.max_prompt_tokens == limit
    assert cost.winner.prompt_tokens <= limit and len(summary.winner.prompt.demos) < 8
    assert all(p.prompt_tokens <= limit for p in cost.front)
    rows = json.loads(store.path("leaderboard.json").read_text())
    assert all(r["prompt_tokens"] <= limit for r in rows)
    # the limit's discards are in the study, unscored
    import optuna

    from apeopt.runs.studies import study_name

    study = optuna.load_study(study_name=study_name(store.root, resume=True), storage=store.default_storage())
    over = [t for t in study.trials if t.user_attrs.get("note") == OVER_LIMIT]
    assert over and all(not t.intermediate_values for t in over)
    # without the limit, the same search picks a longer prompt
    free, _, _ = run(space="fewshot", lm=DemoFake(plural, lambda demos, x, head: len(demos) >= 8), rounds=2)
    assert free.cost.winner.prompt_tokens > limit


def test_a_limit_below_every_starting_prompt_is_a_user_error(run):
    with pytest.raises(UserError, match="max-prompt-tokens 3: even the shortest starting prompt"):
        run(space="fewshot", rounds=1, max_prompt_tokens=3)


def almost(demos, x, head) -> bool:  # type: ignore[no-untyped-def]
    """8+ demos answer every dev item; fewer miss one (w200): a gain no one can tell from noise."""
    return len(demos) >= 8 or x != "w200"


def test_prefer_cheapest_returns_the_shorter_prompt_when_they_tie(run):
    best, best_store, _ = run(space="fewshot", lm=DemoFake(plural, almost), rounds=1)
    cheap, cheap_store, _ = run(space="fewshot", lm=DemoFake(plural, almost), rounds=1, prefer="cheapest")
    assert len(best.winner.prompt.demos) >= 8 and best.winner.dev_selection.score == 1.0
    assert best.cost.cheapest.demos < 8 and best.cost.cheapest.score == pytest.approx(59 / 60)
    assert best.cost.saves > 0 and best.cost.winner == best.cost.best  # default: best, the cheaper one named
    from apeopt.prompts.file import load_prompt_file

    cheaper = load_prompt_file(best_store.path("cheapest_prompt.json"))  # and written, ready to deploy
    assert len(cheaper.prompt.demos) == best.cost.cheapest.demos and not best_store.path("cheapest_prompt.json").samefile(
        best_store.path("best_prompt.json"))
    assert len(cheap.winner.prompt.demos) < 8 and cheap.cost.winner == cheap.cost.cheapest
    assert cheap.cost.winner.prompt_tokens < best.cost.winner.prompt_tokens
    assert cheap.cost.winner.trial == best.cost.cheapest.trial  # the same search, only the choice differs
    assert cheap.winner.dev_selection.score == pytest.approx(59 / 60)
    assert not cheap_store.path("cheapest_prompt.json").exists()  # it is the exported best_prompt.json


def test_prefer_cheapest_keeps_the_longer_prompt_when_it_is_credibly_better(run):
    summary, _, _ = run(space="fewshot", lm=DemoFake(plural, lambda demos, x, head: len(demos) >= 8), rounds=1,
                        prefer="cheapest")
    cost = summary.cost
    assert len(summary.winner.prompt.demos) >= 8 and cost.winner.score == 1.0
    assert cost.cheapest == cost.winner
    assert cost.winner.tokens_per_example == min(p.tokens_per_example for p in cost.front if p.score == 1.0)


def test_pareto_front_keeps_points_no_other_beats():
    def pt(trial: int, score: float, tokens: float) -> CostPoint:
        return CostPoint(trial, "c", "x", "", "", 0, score, 30, (0.0, 1.0), tokens, tokens)

    front = pareto_front([pt(0, 0.5, 10), pt(1, 0.4, 20), pt(2, 0.9, 50), pt(3, 0.9, 60), pt(4, 0.7, 30), pt(5, 0.5, 10)])
    assert [p.trial for p in front] == [0, 4, 2]


@pytest.mark.parametrize("field,value,match", [
    ("max_prompt_tokens", 0, "max_prompt_tokens' must be a whole number >= 1, got 0"),
    ("max_prompt_tokens", 2.5, "got 2.5"),
    ("prefer", "fastest", "'prefer' must be one of best, cheapest, got 'fastest'"),
    ("price_per_mtok", -1.0, "'price_per_mtok' must be a number >= 0, got -1.0"),
])
def test_bad_cost_options_in_config(field, value, match):
    with pytest.raises(UserError, match=match):
        OptimizeConfig(task="toy", **{field: value})


@pytest.mark.parametrize("args,fragments", [
    (("--max-prompt-tokens", "0"), ("max_prompt_tokens", "0")),
    (("--prefer", "fastest"), ("prefer", "fastest")),
    (("--price-per-mtok", "-2"), ("price_per_mtok", "-2")),
    (("--track", "wandb"), ("tracker", "wandb")),
])
def test_bad_cost_options_on_the_cli(monkeypatch, capsys, args, fragments):
    assert_user_error(run_cli(monkeypatch, capsys, "optimize", "--task", "plural", "--dry-run", *args), *fragments)


def test_bad_cost_options_in_a_batch_plan(tmp_path):
    from apeopt.batch.plan import load_plan

    plan = tmp_path / "plan.yaml"
    plan.write_text("jobs:\n  - {task: plural, prefer: fastest}\n")
    with pytest.raises(UserError, match=r"jobs\[0\].*|'prefer' must be one of best, cheapest, got 'fastest'"):
        load_plan(plan)
    plan.write_text("defaults: {max_prompt_tokens: -5}\nmatrix: {task: [plural]}\n")
    with pytest.raises(UserError, match="max_prompt_tokens' must be a whole number >= 1, got -5"):
        load_plan(plan)
    plan.write_text("jobs:\n  - {task: plural, prefer: cheapest, max_prompt_tokens: 200, price_per_mtok: 0.5}\n")
    assert load_plan(plan).jobs[0].params["prefer"] == "cheapest"


def test_a_saving_under_five_percent_is_no_cheaper_prompt():
    from types import SimpleNamespace

    from apeopt.optimizer.cost import CostMeter
    from apeopt.prompts.prompt import PromptConfig

    class Words:
        counts_tokens = True

        def count_tokens(self, prompt):  # type: ignore[no-untyped-def]
            return count_words(str(prompt))

    def entry(trial: int, text: str, tokens: int):  # type: ignore[no-untyped-def]
        e = SimpleNamespace(trial=SimpleNamespace(number=trial, user_attrs={}), prompt=PromptConfig(text),
                            scores=[1.0] * 30, state="complete", phase="x", label="", demos=0,
                            candidate=SimpleNamespace(id=f"c{trial}", text=text))
        e.value = 1.0
        meter.record(e, 30, 30 * tokens)  # type: ignore[arg-type]
        return e

    meter = CostMeter(Words(), ["w1", "w2"])
    best, near, far = entry(0, "a b c", 100), entry(1, "a b", 97), entry(2, "a", 60)
    chosen, cheapest, report = meter.settle(best, [best, near], prefer="cheapest")  # type: ignore[arg-type]
    assert chosen is best and cheapest is best and report.saves == 0.0  # 3% is noise in generated lengths
    chosen, cheapest, report = meter.settle(best, [best, near, far], prefer="cheapest")  # type: ignore[arg-type]
    assert chosen is far and report.saves == pytest.approx(0.4)
