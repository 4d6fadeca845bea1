"""Grouped-query attention without copying keys and values per query head.

transformers' SDPA path copies every key and value ``num_key_value_groups`` times (``repeat_kv``)
when a mask is given and more than one query token is scored. apeopt's scoring forwards are
exactly that case (a few suffix tokens per row over a long shared-prefix cache, with a padding
mask), and on a CPU the copy and the many tiny attention blocks it makes cost more than the
attention itself. Here the query heads that share a key head are folded into the query length
instead: ``(B, kv_heads * groups, q, d)`` becomes ``(B, kv_heads, groups * q, d)``, and the mask is
repeated along the query axis. Softmax runs over keys per query row, so it is the same attention
(transformers does the same fold for one query token, ``pack_gqa``): in fp32 the outputs match SDPA's
to ~1e-6; in bf16 the kernel blocks the longer query axis differently and rounds differently (on
SmolLM2 scoring, answer log-probs moved by at most 0.035, below bf16's own difference from fp32).

With the forward keyword ``apeopt_prefix`` the keys and values given are a batch's suffixes only
and its shared prefixes come in that keyword (:mod:`apeopt.models.prefix_attention`). Every other
case (no mask, dropout, softcap, a position bias, attention weights requested) goes to
transformers' own ``sdpa_attention_forward`` unchanged.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import AttentionInterface, AttentionMaskInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import sdpa_mask

from apeopt.models.prefix_attention import KEYWORD, fold_gqa, prefix_attention

__all__ = ["NAME", "fold_gqa", "folded_sdpa_forward", "takes_shared_prefix", "use_apeopt_attention"]

NAME = "apeopt_sdpa"


def folded_sdpa_forward(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    dropout: float = 0.0,
    scaling: float | None = None,
    is_causal: bool | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """transformers' attention-function signature; outputs ``(B, q, heads, d)`` like SDPA's. With
    the keyword ``apeopt_prefix`` (a :class:`SharedPrefix`), the keys and values given are the
    suffixes' own and the prefix comes from it (:mod:`apeopt.models.prefix_attention`)."""
    shared = kwargs.get(KEYWORD)
    if shared is not None:
        return prefix_attention(
            query, key, value, attention_mask, scaling, int(getattr(module, "layer_idx")), shared
        ), None
    groups = int(getattr(module, "num_key_value_groups", 1) or 1)
    b, heads, q, _ = query.shape
    foldable = (
        groups > 1
        and q > 1
        and isinstance(attention_mask, torch.Tensor)
        and attention_mask.dim() == 4
        and attention_mask.shape[1] == 1
        and key.shape[1] * groups == heads
        and not (dropout and module.training)
        and kwargs.get("softcap") is None
        and kwargs.get("position_bias") is None
        and kwargs.get("s_aux") is None
        and not kwargs.get("output_attentions", False)
    )
    if not foldable:
        return sdpa_attention_forward(
            module, query, key, value, attention_mask, dropout=dropout, scaling=scaling, is_causal=is_causal, **kwargs
        )
    assert attention_mask is not None
    out = torch.nn.functional.scaled_dot_product_attention(
        query.reshape(b, key.shape[1], groups * q, query.shape[-1]),
        key,
        value,
        attn_mask=fold_gqa(attention_mask, groups, q),
        scale=scaling,
    )
    return out.reshape(b, heads, q, value.shape[-1]).transpose(1, 2).contiguous(), None


def use_apeopt_attention(model: Any) -> bool:
    """Switch ``model`` from SDPA to apeopt's attention function (the grouped-query fold, and
    shared prefixes held outside the cache); True if it did. Other attention implementations
    (eager, flash, a user's choice) are left alone; for plain attention without a shared prefix
    the function is transformers' SDPA path unchanged."""
    config = getattr(model, "config", None)
    if config is None or getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    if not hasattr(model, "set_attn_implementation"):
        return False
    AttentionInterface.register(NAME, folded_sdpa_forward)  # by name; registering again changes nothing
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)
    return takes_shared_prefix(model)


def takes_shared_prefix(model: Any) -> bool:
    """Does ``model`` run apeopt's attention now (so a forward may pass ``apeopt_prefix``)? Asked
    per call: someone may have switched the implementation since the backend was built."""
    return getattr(getattr(model, "config", None), "_attn_implementation", None) == NAME
