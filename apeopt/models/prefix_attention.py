"""Attention over a shared prefix without copying it into every row.

Shared-prefix scoring (:mod:`apeopt.models.prefix_cache`) computes a candidate prompt's tokens once
and scores many examples after them. Handing that prefix to the model as an ordinary KV cache means
copying its keys and values into every row, and then attending row by row: on a CPU, a batch of 64
rows x 4 suffix tokens makes 64 x kv-heads attention products of a dozen queries each, which cost
more than the FLOPs they do.

Here the prefix stays outside the cache, once per group (:class:`SharedPrefix`, passed to the
forward as the keyword ``apeopt_prefix``; transformers hands extra forward keywords down to the
attention function). The forward itself runs on the suffixes alone, with positions that continue
each row's prefix. For each run of adjacent rows that share a prefix, every query of every row
meets the prefix's keys in one matrix product per key head; each row's own suffix keys are added
(causal, padding masked), and one softmax runs over both. This is the same attention as over the
concatenated sequence: in fp32 the outputs match to ~1e-6.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

__all__ = ["KEYWORD", "SharedPrefix", "fold_gqa", "prefix_attention", "runs_of"]

KEYWORD = "apeopt_prefix"


@dataclass(frozen=True)
class SharedPrefix:
    """Per decoder layer, each group's prefix keys and values (``[1, kv_heads, P_g, head_dim]``, no
    padding; ``None`` for a group without a prefix), and the batch's rows as runs
    ``(group, first row, end row)`` that cover the rows in order."""

    layers: Sequence[Sequence[tuple[torch.Tensor, torch.Tensor] | None]]  # [layer][group slot]
    runs: tuple[tuple[int, int, int], ...]


def runs_of(row_slots: Sequence[int]) -> tuple[tuple[int, int, int], ...]:
    """``(slot, start, end)`` for each maximal run of equal adjacent slots."""
    out: list[tuple[int, int, int]] = []
    start = 0
    for r in range(1, len(row_slots) + 1):
        if r == len(row_slots) or row_slots[r] != row_slots[start]:
            out.append((row_slots[start], start, r))
            start = r
    return tuple(out)


def prefix_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    mask: torch.Tensor | None,
    scaling: float | None,
    layer: int,
    shared: SharedPrefix,
) -> torch.Tensor:
    """``query`` ``[B, heads, S, d]``; ``key``/``value`` ``[B, kv_heads, S, d]``: the suffixes' own.
    ``mask``: ``[B or 1, 1, S, S]`` boolean (True = attend) or additive, or ``None`` for causal.
    Returns ``[B, S, heads, d]`` like transformers' SDPA path."""
    b, heads, s, d = query.shape
    kv_heads = key.shape[1]
    groups = heads // kv_heads
    scale = scaling if scaling is not None else d**-0.5
    allowed = _suffix_mask(mask, b, s, query.device)  # [B, 1, S, S] bool
    # heads that share a key head fold into the query axis: [B, kv, G*S, d]
    q = query.reshape(b, kv_heads, groups * s, d)
    allowed = fold_gqa(allowed, groups, s)
    own = torch.matmul(q, key.transpose(-1, -2)).float()  # [B, kv, G*S, S]
    # a padding query sees no key of its own: keep it finite (its output is never read)
    own.masked_fill_(~(allowed | ~allowed.any(-1, keepdim=True)), float("-inf"))
    outs = []
    for slot, start, end in shared.runs:
        n = end - start
        kv = shared.layers[layer][slot]
        own_r = own[start:end]
        if kv is None:
            probs = (own_r * scale).softmax(-1).to(value.dtype)
            outs.append(torch.matmul(probs, value[start:end]))
            continue
        pk, pv = kv[0][0], kv[1][0]  # [kv, P, d]
        p = pk.shape[1]
        # every query of the run against the prefix: one product per key head
        q_run = q[start:end].transpose(0, 1).reshape(kv_heads, n * groups * s, d)
        pre = torch.matmul(q_run, pk.transpose(-1, -2)).float().view(kv_heads, n, groups * s, p).transpose(0, 1)
        probs = (torch.cat([pre, own_r], dim=-1) * scale).softmax(-1).to(value.dtype)
        from_prefix = torch.matmul(probs[..., :p].transpose(0, 1).reshape(kv_heads, n * groups * s, p), pv)
        out = from_prefix.view(kv_heads, n, groups * s, d).transpose(0, 1)
        outs.append(out + torch.matmul(probs[..., p:], value[start:end]))
    merged = outs[0] if len(outs) == 1 else torch.cat(outs, dim=0)  # [B, kv, G*S, d]
    return merged.reshape(b, heads, s, d).transpose(1, 2).contiguous()


def fold_gqa(mask: torch.Tensor, groups: int, q: int) -> torch.Tensor:
    """A ``(B, 1, q, k)`` mask (or one that broadcasts to it) repeated for ``groups`` query heads
    folded into the query axis: ``(B, 1, groups * q, k)``."""
    mb, _, _, k = mask.shape
    full = mask.expand(mb, 1, q, k)
    return full.unsqueeze(2).expand(mb, 1, groups, q, k).reshape(mb, 1, groups * q, k)


def _suffix_mask(mask: torch.Tensor | None, b: int, s: int, device: torch.device) -> torch.Tensor:
    """The suffix-over-suffix mask as booleans ``[B, 1, S, S]``."""
    if mask is None:
        return torch.ones((s, s), dtype=torch.bool, device=device).tril().expand(b, 1, s, s)
    allowed = mask if mask.dtype == torch.bool else mask == 0
    return allowed[..., -s:].expand(b, 1, s, s)
