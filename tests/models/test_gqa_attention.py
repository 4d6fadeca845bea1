"""Folded grouped-query attention gives transformers' SDPA results (tiny random Llama with GQA)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from apeopt.models.base import GenerateRequest, LogprobRequest
from apeopt.models.gqa_attention import NAME, fold_gqa, use_apeopt_attention
from apeopt.models.hf import HFBackend
from apeopt.models.kv_arg import cache_kwargs

PROMPTS = [f"{ins}\n\nInput: cat\nOutput: cats\n\nInput: {x}\nOutput:"
           for ins in ("Write the plural form of the word.", "Classify the sentiment.")
           for x in ("fox", "lazy dog", "a", "stitch in time saves nine")]


def gqa_model(tokenizer: Any, kv_heads: int = 2) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=48, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=6, num_key_value_heads=kv_heads, max_position_embeddings=512,
        tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id,
        bos_token_id=None, initializer_range=0.5, attn_implementation="sdpa",
    )
    return LlamaForCausalLM(config).eval()


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_fold_gqa_repeats_the_mask_per_folded_head() -> None:
    mask = torch.tensor([[[[True, False, True], [True, True, False]]]])  # (1, 1, q=2, k=3)
    folded = fold_gqa(mask, 3, 2)
    assert folded.shape == (1, 1, 6, 3)
    for g in range(3):
        assert torch.equal(folded[0, 0, 2 * g : 2 * g + 2], mask[0, 0])
    assert fold_gqa(mask[:, :, :1], 2, 2).shape == (1, 1, 4, 3)  # a mask that broadcasts over q


def test_switched_only_from_sdpa(tokenizer: Any) -> None:
    assert use_apeopt_attention(gqa_model(tokenizer))
    assert use_apeopt_attention(gqa_model(tokenizer, kv_heads=6))  # plain multi-head attention too (shared prefixes)
    eager = gqa_model(tokenizer)
    eager.set_attn_implementation("eager")
    assert not use_apeopt_attention(eager)  # an implementation someone chose is left alone
    assert eager.config._attn_implementation == "eager"


@pytest.fixture()
def folds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the attention calls that took the folded path."""
    import apeopt.models.gqa_attention as gqa

    seen: list[int] = []
    real = gqa.fold_gqa

    def counted(mask: torch.Tensor, groups: int, q: int) -> torch.Tensor:
        seen.append(q)
        return real(mask, groups, q)

    monkeypatch.setattr(gqa, "fold_gqa", counted)
    return seen


def test_padded_forward_over_a_cache_equals_sdpa(tokenizer: Any, folds: list[int]) -> None:
    model = gqa_model(tokenizer)
    ids = torch.randint(0, len(tokenizer), (3, 9))
    mask = torch.ones_like(ids)
    mask[0, :4] = 0  # left padding: the mask reaches the attention as a 4D tensor
    mask[1, :2] = 0
    pos = (mask.cumsum(-1) - 1).clamp(min=0)

    def run() -> tuple[torch.Tensor, torch.Tensor]:
        with torch.no_grad():
            first = model(input_ids=ids[:, :6], attention_mask=mask[:, :6], position_ids=pos[:, :6], use_cache=True)
            rest = model(input_ids=ids[:, 6:], attention_mask=mask, position_ids=pos[:, 6:], use_cache=True,
                         **cache_kwargs(model, first.past_key_values))  # 3 queries over a 6-token cache
        return first.logits, rest.logits

    expected = run()
    assert use_apeopt_attention(model) and model.config._attn_implementation == NAME
    got = run()
    assert 3 in folds and 6 in folds  # both forwards took the folded path
    for a, b in zip(expected, got):
        real = mask[:, -a.shape[1]:].bool()
        assert torch.allclose(a[real], b[real], atol=1e-5)


def test_backend_scores_and_generates_as_with_sdpa(tokenizer: Any, folds: list[int]) -> None:
    model = gqa_model(tokenizer)
    backend = HFBackend(model, tokenizer, "hf:tiny-gqa", "tiny-gqa")
    assert backend.apeopt_attention
    requests = [LogprobRequest(p, c) for p in PROMPTS for c in (" cats", " negative and more words")]
    gen = [GenerateRequest(p, max_tokens=6) for p in PROMPTS]
    folded = backend.logprob(requests), backend.generate(gen)
    assert folds  # suffixes over the shared-prefix cache
    model.set_attn_implementation("sdpa")
    plain = backend.logprob(requests), backend.generate(gen)
    for a, b in zip(folded[0], plain[0]):
        assert torch.allclose(torch.tensor(a.token_logprobs), torch.tensor(b.token_logprobs), atol=1e-5)
    assert [c.text for c in folded[1]] == [c.text for c in plain[1]]


def test_training_step_runs_through_the_fold(tokenizer: Any) -> None:
    model = gqa_model(tokenizer)
    use_apeopt_attention(model)
    model.train()
    ids = torch.randint(0, len(tokenizer), (2, 7))
    mask = torch.ones_like(ids)
    mask[0, :3] = 0
    loss = model(input_ids=ids, attention_mask=mask, labels=ids).loss
    loss.backward()
    assert all(p.grad is not None for p in model.model.layers[0].self_attn.parameters())
