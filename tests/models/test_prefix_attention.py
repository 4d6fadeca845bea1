"""Attention over shared prefixes held outside the cache equals attention over the whole sequence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from apeopt.models.base import LogprobRequest
from apeopt.models.hf import HFBackend
from apeopt.models.prefix_attention import SharedPrefix, prefix_attention, runs_of


def test_runs_of_adjacent_slots() -> None:
    assert runs_of([0, 0, 1, 1, 1, 0]) == ((0, 0, 2), (1, 2, 5), (0, 5, 6))
    assert runs_of([]) == ()


@pytest.mark.parametrize("groups", [1, 3])
def test_equals_sdpa_over_prefix_plus_suffix(groups: int) -> None:
    """Rows in three runs: two prefixes of different lengths and one row without a prefix; suffixes
    left-padded to 5 tokens. Each row's output equals SDPA over its own unpadded sequence."""
    torch.manual_seed(0)
    kv_heads, d, s = 2, 8, 5
    heads = kv_heads * groups
    prefixes = [torch.randn(2, 1, kv_heads, p, d) for p in (7, 3)]  # (keys, values) per group
    slots = [0, 0, 0, 1, 1, 2]
    lengths = [5, 3, 1, 4, 5, 2]  # real suffix tokens per row (the rest is left padding)
    b = len(slots)
    q, k, v = torch.randn(b, heads, s, d), torch.randn(b, kv_heads, s, d), torch.randn(b, kv_heads, s, d)
    real = torch.zeros(b, s, dtype=torch.bool)
    for r, n in enumerate(lengths):
        real[r, s - n :] = True
    mask = real[:, None, None, :] & torch.ones(s, s, dtype=torch.bool).tril()  # [B, 1, S, S]
    layers = [[(p[0], p[1]) for p in prefixes] + [None]]
    got = prefix_attention(q, k, v, mask, None, 0, SharedPrefix(layers, runs_of(slots)))  # [B, S, H, d]
    for r, slot in enumerate(slots):
        n = lengths[r]
        keys, values = k[r : r + 1, :, s - n :], v[r : r + 1, :, s - n :]
        if slot < len(prefixes):
            keys = torch.cat([prefixes[slot][0], keys], dim=2)
            values = torch.cat([prefixes[slot][1], values], dim=2)
        keys, values = keys.repeat_interleave(groups, dim=1), values.repeat_interleave(groups, dim=1)
        p = keys.shape[2] - n
        causal = torch.ones(n, p + n, dtype=torch.bool).tril(diagonal=p)
        want = torch.nn.functional.scaled_dot_product_attention(q[r : r + 1, :, s - n :], keys, values, attn_mask=causal)
        assert torch.allclose(got[r, s - n :], want[0].transpose(0, 1), atol=1e-5)
    assert torch.isfinite(got).all()  # padding queries too


def gqa_backend(tiny_model_dir: Path) -> HFBackend:
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=48, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=6, num_key_value_heads=2, max_position_embeddings=512,
        tie_word_embeddings=True, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.eos_token_id,
        bos_token_id=None, initializer_range=0.5, attn_implementation="sdpa",
    )
    return HFBackend(LlamaForCausalLM(config).eval(), tokenizer, "hf:tiny-gqa", "tiny-gqa")


def test_backend_scores_equal_with_prefix_in_place_or_copied(tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import apeopt.models.prefix_attention as pa
    import apeopt.models.prefix_scoring as ps

    backend = gqa_backend(tiny_model_dir)
    assert backend.apeopt_attention and backend.prefix_reuse
    demos = "Input: cat\nOutput: cats\n\nInput: dog\nOutput: dogs"
    prompts = [f"{ins}\n\n{demos}\n\nInput: {x}\nOutput:"
               for ins in ("Write the plural form of the word.", "Classify the sentiment.")
               for x in ("fox", "lazy dog", "a", "stitch in time saves nine", "box", "quick brown fox")]
    requests = [LogprobRequest(p, c) for p in prompts for c in (" cats", " negative and more words")]
    calls: list[int] = []
    real = pa.prefix_attention
    monkeypatch.setattr("apeopt.models.gqa_attention.prefix_attention",
                        lambda *a, **k: (calls.append(1), real(*a, **k))[1])
    in_place = backend.logprob(requests)
    assert calls  # the prefixes were attended in place
    monkeypatch.setattr(ps, "MIN_RUN", 10**6)  # every batch copies its prefixes into the cache
    calls.clear()
    copied = backend.logprob(requests)
    assert not calls
    backend.prefix_reuse = False
    plain = backend.logprob(requests)
    for a, b, c in zip(in_place, copied, plain):
        assert a.prompt_tokens == b.prompt_tokens == c.prompt_tokens
        assert torch.allclose(torch.tensor(a.token_logprobs), torch.tensor(b.token_logprobs), atol=1e-5)
        assert torch.allclose(torch.tensor(a.token_logprobs), torch.tensor(c.token_logprobs), atol=1e-4)


def test_switched_back_to_sdpa_the_prefix_is_copied(tiny_model_dir: Path) -> None:
    """Someone sets the model's attention back to SDPA after the backend was built: scoring still
    sees the prefix (the keyword would be ignored there), so results stay those of the plain path."""
    backend = gqa_backend(tiny_model_dir)
    requests = [LogprobRequest(f"Write the plural.\n\nInput: {x}\nOutput:", " cats") for x in ("a", "b", "c", "d", "e")]
    before = backend.logprob(requests)
    backend.model.set_attn_implementation("sdpa")
    after = backend.logprob(requests)
    for a, b in zip(before, after):
        assert torch.allclose(torch.tensor(a.token_logprobs), torch.tensor(b.token_logprobs), atol=1e-5)
