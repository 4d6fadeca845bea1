"""bench/llamacpp_anchor.py's scoring loop on a fake llama-cpp-python ``Llama`` (no llama.cpp here):
prefix reuse, the positions it reads, and the log-prob arithmetic."""

from __future__ import annotations

from typing import Any

import numpy as np

from bench_loader import load_bench

VOCAB = 7


def fake_logits(prev: list[int]) -> np.ndarray:
    """Logits at a position: a function of the whole prefix, so stale cache rows would show."""
    rng = np.random.default_rng(sum((i + 1) * t for i, t in enumerate(prev)))
    return rng.normal(size=VOCAB).astype(np.float32)


class FakeCtx:
    def kv_cache_seq_rm(self, seq: int, p0: int, p1: int) -> bool:
        return True


class FakeLlama:
    def __init__(self) -> None:
        self.input_ids = np.zeros(64, dtype=np.intc)
        self.scores = np.zeros((64, VOCAB), dtype=np.float32)
        self.n_tokens = 0
        self._ctx = FakeCtx()
        self.evaluated = 0

    def eval(self, tokens: list[int]) -> None:
        for t in tokens:
            self.input_ids[self.n_tokens] = t
            self.scores[self.n_tokens] = fake_logits(self.input_ids[: self.n_tokens + 1].tolist())
            self.n_tokens += 1
            self.evaluated += 1


def reference(ids: list[int], m: int) -> float:
    out = []
    for pos in range(len(ids) - m, len(ids)):
        logits = fake_logits(ids[:pos]).astype(np.float64)
        logp = logits - np.log(np.exp(logits - logits.max()).sum()) - logits.max()
        out.append(logp[ids[pos]])
    return float(np.mean(out))


def test_scores_match_reference_and_reuse_the_shared_prefix() -> None:
    bench = load_bench("llamacpp_anchor")
    prefix = [1, 2, 3, 4, 5, 6, 1, 2]
    items = [(prefix + [3, 4, 5], 2), (prefix + [6, 5], 1), (prefix + [6, 5], 1), ([2, 2, 3, 4], 3)]
    llm: Any = FakeLlama()
    scores, computed, _ = bench.score_items(llm, items)
    assert np.allclose(scores, [reference(ids, m) for ids, m in items], atol=1e-5)
    # first item: 10 tokens; second: prefix reused, 1 token; third: same sequence, its 1 target's predictor again;
    # fourth: shares only nothing at position 0 (2 != 1): 3 tokens
    assert computed == llm.evaluated == 10 + 1 + 1 + 3
