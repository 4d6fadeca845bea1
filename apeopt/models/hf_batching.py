"""Batch shapes of the HF backend's scoring forwards, shared by :mod:`.hf` and :mod:`.hf_logprobs`."""

from __future__ import annotations

from typing import Iterator

# Most logits elements (batch x kept positions x vocab) one scoring forward may produce.
LOGITS_BUDGET = 1 << 27


def budget_chunks(order: list[int], kept: list[int], batch_size: int, vocab: int) -> Iterator[list[int]]:
    """Consecutive chunks of ``order`` with at most ``batch_size`` rows and a bounded logits tensor."""
    chunk: list[int] = []
    widest = 0
    for i in order:
        w = max(widest, kept[i], 1)
        if chunk and (len(chunk) >= batch_size or (len(chunk) + 1) * w * vocab > LOGITS_BUDGET):
            yield chunk
            chunk, w = [], max(kept[i], 1)
        chunk.append(i)
        widest = w
    if chunk:
        yield chunk
