"""Tuned models as HFBackends: batch invariance with left padding, soft prompts and prefixes applied
in log-prob scoring too, distinct cache identities, save/load round trips."""

from __future__ import annotations

import copy

import pytest
import torch

from apeopt.models.tuned import PrefixModel, SoftPromptModel, inference_module, tuned_backend, weights_digest
from apeopt.models.base import GenerateRequest, LogprobRequest

PROMPTS = ["Input: cat\nOutput:", "Write the plural form of the word.\n\nInput: dog dog dog\nOutput:"]


def _peft(base, kind: str):
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, PromptTuningConfig, TaskType, get_peft_model

    torch.manual_seed(0)
    config = {
        "prompt": PromptTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=5),
        "prefix": PrefixTuningConfig(task_type=TaskType.CAUSAL_LM, num_virtual_tokens=5),
        "lora": LoraConfig(task_type=TaskType.CAUSAL_LM, target_modules=["q_proj", "v_proj"], init_lora_weights=False),
        "ia3": IA3Config(task_type=TaskType.CAUSAL_LM, target_modules=["k_proj", "v_proj", "down_proj"],
                         feedforward_modules=["down_proj"], init_ia3_weights=False),
    }[kind]
    model = get_peft_model(copy.deepcopy(base.model), config)
    with torch.no_grad():  # move away from any identity-like initialisation
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.5)
    return model.eval()


def _gen(backend, prompts):
    return [c.text for c in backend.generate([GenerateRequest(p, max_tokens=6, stop=()) for p in prompts])]


def _lp(backend, prompts):
    return [r.token_logprobs for r in backend.logprob([LogprobRequest(p, " cats") for p in prompts])]


@pytest.mark.parametrize("kind", ["prompt", "prefix", "lora", "ia3"])
def test_batched_equals_alone_and_tuning_is_applied(tiny_backend, kind):
    tuned = tuned_backend(_peft(tiny_backend, kind), tiny_backend, kind)
    assert _gen(tuned, PROMPTS) == [_gen(tuned, [p])[0] for p in PROMPTS]  # left padding does not leak
    both = _lp(tuned, PROMPTS)
    alone = [_lp(tuned, [p])[0] for p in PROMPTS]
    for a, b in zip(both, alone):
        assert a == pytest.approx(b, abs=1e-4)
    base = _lp(tiny_backend, PROMPTS)
    assert any(abs(x - y) > 1e-3 for a, b in zip(both, base) for x, y in zip(a, b))  # the adapter changes scores


@pytest.mark.parametrize("kind", ["prompt", "prefix"])
def test_virtual_token_forward_matches_peft_unpadded(tiny_backend, kind):
    peft_model = _peft(tiny_backend, kind)
    module = inference_module(peft_model)
    assert isinstance(module, SoftPromptModel if kind == "prompt" else PrefixModel)
    ids = tiny_backend.tokenizer(PROMPTS[1], return_tensors="pt")["input_ids"]
    mask = torch.ones_like(ids)
    with torch.no_grad():
        ours = module(input_ids=ids, attention_mask=mask, logits_to_keep=1).logits[0, -1]
        theirs = peft_model(input_ids=ids, attention_mask=mask).logits[0, -1]
        first = _gen(tuned_backend(peft_model, tiny_backend, kind), [PROMPTS[1]])
    assert torch.allclose(ours, theirs, atol=1e-4)
    assert first[0].startswith(tiny_backend.tokenizer.decode([int(ours.argmax())]))


def test_identity_is_distinct_and_follows_the_weights(tiny_backend):
    model = _peft(tiny_backend, "lora")
    a = tuned_backend(model, tiny_backend, "lora")
    assert a.identity.startswith(tiny_backend.identity + "+lora:") and a.identity != tiny_backend.identity
    assert a.identity == tuned_backend(model, tiny_backend, "lora").identity
    before = weights_digest(model)
    with torch.no_grad():
        next(p for p in model.parameters() if p.requires_grad).add_(1.0)
    assert weights_digest(model) != before
