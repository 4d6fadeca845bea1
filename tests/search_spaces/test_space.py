from __future__ import annotations

import optuna
import pytest

from apeopt.errors import UserError
from apeopt.search_spaces import Format, builtin_space_names, load_space
from apeopt.search_spaces.format import PARAMS


def test_builtins_load():
    assert {"instruction", "full", "fewshot"} <= set(builtin_space_names())
    inst = load_space("instruction")
    assert inst.scoring == "likelihood" and not inst.searchable
    full = load_space("full")
    assert {p.name for p in full.searchable} == {"template", "demos", "demo_seed", "cot", "votes", "answer_prefix"}
    assert full.defaults().demos == 5


def test_suggest_with_optuna():
    space = load_space("full")
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(5):
        trial = study.ask()
        fmt = space.suggest(trial)
        assert 0 <= fmt.demos <= 8 and fmt.votes in (1, 3, 5)
        assert trial.params == {k: v for k, v in fmt.to_dict().items() if k in PARAMS}  # every searchable field, by name


@pytest.mark.parametrize(
    "text,match",
    [
        ("params: {votes: {choices: [1, 3]}}\nsampler: tpe\nscorring: generate\n", "unknown key 'scorring'.*did you mean 'scoring'"),
        ("params: {vote: {choices: [1]}}\n", "unknown param 'vote'.*did you mean 'votes'"),
        ("params: {demos: {low: 5, high: 2}}\n", "params.demos: low 5 > high 2"),
        ("params: {template: {choices: [completion, html]}}\n", "params.template must be completion or chat, got 'html'"),
        ("params: {votes: {choices: []}}\n", "params.votes.choices must be a non-empty list"),
        ("scoring: accuracy\n", "'scoring' must be one of generate, likelihood, got 'accuracy'"),
        ("params: [1, 2\n", r"space.yaml:2: invalid YAML"),
        ("params: {demos: {low: 0, high: 3}}\nstart: {demos: 9}\n", "start.demos = 9 lies outside params.demos"),
    ],
)
def test_bad_space_files(tmp_path, text, match):
    p = tmp_path / "space.yaml"
    p.write_text(text)
    with pytest.raises(UserError, match=match) as info:
        load_space(str(p))
    assert str(p) in str(info.value) and "\n" not in str(info.value)


def test_unknown_space_names():
    with pytest.raises(UserError, match="did you mean 'full'"):
        load_space("ful")
    with pytest.raises(UserError, match="does not exist"):
        load_space("missing.yaml")


def test_format_round_trips_and_rejects_unknown_fields():
    fmt = Format(template="chat", demos=3, demo_seed=7, cot="Think.", votes=3, answer_prefix="A:")
    assert Format.from_dict(fmt.to_dict()) == fmt
    with pytest.raises(UserError, match="unknown format field 'vote'"):
        Format.from_dict({"vote": 3})
