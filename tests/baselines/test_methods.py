"""Method names, validated configs, and one-line refusals for methods that do not apply."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from apeopt.baselines import DEFAULT_METHODS, METHODS, TRAINERS, resolve_methods
from apeopt.baselines.base import TrainConfig
from apeopt.baselines.compare import check_methods
from apeopt.baselines.config import CompareConfig
from apeopt.errors import UserError

from baselines.helpers import toy_task


def test_resolve_expands_groups_and_dedupes():
    names = [m.name for m in resolve_methods(["human,k-shot", "k-shot-5", "lora"])]
    assert names == ["human", "k-shot-1", "k-shot-5", "k-shot-8", "lora"]
    assert set(DEFAULT_METHODS) <= set(METHODS.names())
    assert {"prompt-tuning", "lora", "ia3", "prefix-tuning", "full-finetune"} == set(TRAINERS.names())


def test_unknown_method_suggests():
    with pytest.raises(UserError, match="did you mean 'lora'"):
        resolve_methods(["lorra"])
    with pytest.raises(UserError, match="did you mean 'prefix-tuning'"):
        CompareConfig(task="plural", methods=("prefix_tuning",))


@pytest.mark.parametrize("bad", [dict(steps=0), dict(lr=-1.0), dict(select="acc"), dict(warmup=1.0), dict(batch_size=0)])
def test_train_config_is_validated(bad):
    with pytest.raises(UserError):
        TrainConfig(**bad)


def test_method_options_are_validated():
    with pytest.raises(UserError, match="unknown option 'rank'"):
        TRAINERS.get("lora")(rank=4)
    with pytest.raises(UserError, match="'r'"):
        TRAINERS.get("lora")(r=0)
    with pytest.raises(UserError, match="num_virtual_tokens"):
        TRAINERS.get("prompt-tuning")(num_virtual_tokens=0)


def _stub(model_type: str, **config):
    cfg = SimpleNamespace(model_type=model_type, num_hidden_layers=2, num_attention_heads=2, **config)
    return SimpleNamespace(config=cfg, named_modules=lambda: iter([("layers.0.mixer", None)]),
                           parameters=lambda: iter([]))


@pytest.mark.parametrize("model_type,extra,fragment", [
    ("mamba", {}, "not an attention decoder"),
    ("gemma3_text", {"layer_types": ["sliding_attention", "full_attention"]}, "mix attention types"),
    ("mistral", {"sliding_window": 4096}, "sliding-window"),
])
def test_prefix_tuning_refuses_unsupported_architectures(model_type, extra, fragment):
    with pytest.raises(UserError, match=f"method 'prefix-tuning' does not apply to model '{model_type}'.*{fragment}"):
        TRAINERS.get("prefix-tuning")().check(_stub(model_type, **extra))


def test_lora_refuses_models_without_its_targets(tiny_backend):
    with pytest.raises(UserError, match="does not apply"):
        TRAINERS.get("lora")().check(_stub("mamba"))
    TRAINERS.get("lora")().check(tiny_backend.model)  # the tiny Llama qualifies
    with pytest.raises(UserError, match="full fine-tuning"):
        TRAINERS.get("full-finetune")(max_params=10).check(tiny_backend.model)


def test_task_without_train_split_is_refused(tiny_backend):
    task = toy_task()
    task = type(task)(task.name, task.instruction, {k: v for k, v in task.splits.items() if k != "train"})
    with pytest.raises(UserError, match="no train split"):
        check_methods(CompareConfig(task="toy", methods=("human",)), task, tiny_backend)


def test_tuning_needs_a_transformers_backend():
    from fakes import FakeBackend

    with pytest.raises(UserError, match="needs a local transformers model"):
        check_methods(CompareConfig(task="toy", methods=("lora",)), toy_task(), FakeBackend(lambda x: x))
