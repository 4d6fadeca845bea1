"""Shared-prefix KV reuse: the token prefix that many rows share (a candidate's instruction and
demos) goes through the model once, at batch 1; its keys/values are then copied across the rows
of a batch and only each row's own suffix (the example) is computed.

Layout of one batch, per row: ``[left pad][group prefix][middle pad][suffix]``. Prefixes of
different groups are left-padded to the longest one and suffixes are right-aligned, so every row
ends at the same column (decoding appends there, and "the last k positions" hold every row's
targets). Pads are masked out of attention; positions (RoPE) count real tokens only, so each row
sees exactly the tokens and positions of its unpadded sequence. Only ``full_attention`` decoder
caches (DynamicCache layers) qualify; anything else uses the plain left-padded path.

Scoring may instead keep each prefix outside the cache (``prepare_split`` and ``forward_in_place``:
:mod:`apeopt.models.prefix_attention`), so that it is neither copied into every row nor attended
row by row; decoding needs the cache and uses ``prepare`` and ``forward``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence, cast

import torch
from transformers import DynamicCache

from apeopt.models.kv_arg import cache_kwargs, returned_cache
from apeopt.models.prefix_attention import KEYWORD, SharedPrefix, runs_of

# Rows sharing fewer tokens than this are not worth a separate prefix forward.
MIN_SHARED = 4
# Left padding (tokens) worth one more prefix forward instead: each forward streams all weights.
PAD_WASTE = 32
# A row starts a new prefix group when it shares this many more tokens with the next row.
RUN_GAIN = 16
# Prefix lengths that differ by less than this share a sort bucket in plan_batches.
PREFIX_BUCKET = 32
# Rows of this many batches are sorted together by suffix length (less padding).
WINDOW_BATCHES = 4
KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: (keys, values), each [1, heads, P, head_dim]


def supports_prefix_reuse(model: Any) -> bool:
    """A plain transformers causal LM whose decoder layers all use full attention (wrappers
    such as soft-prompt or prefix-tuning modules inject their own tokens: not eligible)."""
    from transformers import PreTrainedModel

    if not isinstance(model, PreTrainedModel) or not hasattr(model, "get_decoder"):
        return False
    config = getattr(model, "config", None)
    if config is None or getattr(config, "is_encoder_decoder", False):
        return False
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    types = getattr(text, "layer_types", None)
    if types is not None and any(t != "full_attention" for t in types):
        return False
    return getattr(text, "sliding_window", None) is None or getattr(text, "use_sliding_window", True) is False


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


def group_by_prefix(
    seqs: Sequence[Sequence[int]], caps: Sequence[int], min_shared: int = MIN_SHARED
) -> list[tuple[int, list[int]]]:
    """Partition row indices into groups that share a token prefix: ``[(shared, rows), ...]``.

    A row's prefix may not exceed its ``cap`` (the suffix must hold every position whose output is
    needed). Rows are visited in lexicographic order; a row joins the current group when that saves
    tokens: shrinking the shared prefix from ``shared`` to ``l`` costs ``(|G| - 1) * (shared - l)``
    recomputed tokens and saves ``l``.
    """
    order = sorted(range(len(seqs)), key=lambda i: cast(list[int], seqs[i]))  # token lists compare lexicographically
    # adjacent[p]: tokens row order[p] shares with row order[p - 1] (each pair computed once)
    adjacent = [0] + [common_prefix(seqs[a], seqs[b]) for a, b in zip(order, order[1:])]
    groups: list[tuple[int, list[int]]] = []
    cur: list[int] = []
    shared = 0
    for pos, i in enumerate(order):
        if cur:  # cur[-1] is order[pos - 1]
            n_shared = min(shared, adjacent[pos], caps[i])
            if (
                n_shared >= min_shared
                and (len(cur) - 1) * (shared - n_shared) < n_shared
                and not _starts_run(adjacent, caps, order, pos, n_shared)
            ):
                cur.append(i)
                shared = n_shared
                continue
            groups.append((shared, cur))
        cur, shared = [i], max(0, caps[i])
    if cur:
        groups.append((shared, cur))
    return groups


def _starts_run(adjacent: Sequence[int], caps: Sequence[int], order: Sequence[int], pos: int, n_shared: int) -> bool:
    """Does row ``order[pos]`` share far more with the next row than ``n_shared`` with the current group?
    Then it starts a new group: rows of different prompts interleave in lexicographic order (a
    zero-shot row sorts between two 32-demo rows), and a lone row that took it in would cut the
    next run's shared prefix from hundreds of tokens to the instruction's dozen."""
    if pos + 1 >= len(order):
        return False
    nxt = min(adjacent[pos + 1], caps[order[pos]], caps[order[pos + 1]])
    return nxt >= 2 * n_shared and nxt - n_shared >= RUN_GAIN


@dataclass
class Planned:
    """One batch: its rows (indices into the caller's rows), the group of each row, and the groups
    of its window (their prefixes are best computed together, in one forward)."""

    rows: list[int]
    groups: list[int]
    window: list[int] = field(default_factory=list)


def plan_batches(
    groups: list[tuple[int, list[int]]],
    lengths: Sequence[int],
    extra: int,
    max_rows: int,
    max_cells: int,
    weight: Sequence[int] | None = None,
) -> Iterator[Planned]:
    """Batches over the rows of ``groups``, each with at most ``max_rows`` rows and
    ``rows * (longest prefix + longest suffix + extra)`` at most ``max_cells`` (bounds the KV cache
    and attention). ``weight[i]`` counts row ``i`` as that many rows (samples per prompt).

    Every row of a batch pays for the batch's longest prefix and suffix (its KV cache is padded to
    them and copied at every decoding step: on a CPU, a zero-shot row batched with a 32-demo row
    costs as much as the 32-demo row), so rows are batched by prefix length, then suffix length:
    groups are taken in windows (shortest prefix first; a window holds a few batches' rows and a
    bounded number of prefix tokens, whose KV stays alive meanwhile), and each window's rows are
    sorted by prefix length (in buckets of ``PREFIX_BUCKET`` tokens) and suffix length before
    being cut into batches.
    """
    w = weight or [1] * len(lengths)
    order = sorted(range(len(groups)), key=lambda g: groups[g][0])
    window: list[tuple[int, int]] = []  # (row, group)
    n_rows = n_prefix = 0
    for pos, g in enumerate(order):
        shared, members = groups[g]
        window += [(i, g) for i in members]
        n_rows += sum(w[i] for i in members)
        n_prefix += shared
        last = pos == len(order) - 1
        if last or n_rows >= WINDOW_BATCHES * max_rows or n_prefix >= max_cells // 4:
            window.sort(key=lambda rg: (groups[rg[1]][0] // PREFIX_BUCKET, lengths[rg[0]] - groups[rg[1]][0], rg[1]))
            gids = list(dict.fromkeys(g for _, g in window))
            for plan in _cut(window, groups, lengths, extra, max_rows, max_cells, w):
                plan.window = gids
                yield plan
            window, n_rows, n_prefix = [], 0, 0


def _cut(
    window: list[tuple[int, int]],
    groups: list[tuple[int, list[int]]],
    lengths: Sequence[int],
    extra: int,
    max_rows: int,
    max_cells: int,
    w: Sequence[int],
) -> Iterator[Planned]:
    rows: list[int] = []
    gids: list[int] = []
    n = p_max = s_max = 0
    for i, g in window:
        shared = groups[g][0]
        p, s = max(p_max, shared), max(s_max, lengths[i] - shared)
        if rows and (n + w[i] > max_rows or (n + w[i]) * (p + s + extra) > max_cells):
            yield Planned(rows, gids)
            rows, gids, n, p, s = [], [], 0, shared, lengths[i] - shared
        rows.append(i)
        gids.append(g)
        n += w[i]
        p_max, s_max = p, s
    if rows:
        yield Planned(rows, gids)


class PrefixStore:
    """Each group's prefix KV, computed once (several groups per left-padded forward, at most
    ``max_cells`` rows x width) and freed after the group's last batch."""

    def __init__(
        self,
        model: Any,
        device: torch.device,
        groups: list[tuple[int, list[int]]],
        seqs: Sequence[Sequence[int]],
        pad_id: int,
        max_cells: int,
    ) -> None:
        self.decoder = model.get_decoder()
        self.config = model.config
        self.device = device
        self.groups = groups
        self.seqs = seqs
        self.pad_id = pad_id
        self.max_cells = max_cells
        self.left = [len(members) for _, members in groups]
        self.num_layers = int(self.config.get_text_config(decoder=True).num_hidden_layers)
        self.kv: dict[int, KV] = {}

    def ensure(self, gids: Sequence[int]) -> None:
        """Compute the prefixes of these groups not computed yet (shortest first, batched)."""
        missing = sorted(
            {g for g in gids if g not in self.kv and self.left[g] > 0 and self.groups[g][0] > 0},
            key=lambda g: self.groups[g][0],
        )
        chunk: list[int] = []
        for g in missing:
            p = self.groups[g][0]
            widen = len(chunk) * (p - self.groups[chunk[-1]][0]) if chunk else 0
            if chunk and ((len(chunk) + 1) * p > self.max_cells or widen > PAD_WASTE):
                self._compute(chunk)
                chunk = []
            chunk.append(g)
        if chunk:
            self._compute(chunk)

    def _compute(self, gids: list[int]) -> None:
        rows = [list(self.seqs[self.groups[g][1][0]][: self.groups[g][0]]) for g in gids]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for j, r in enumerate(rows):
            ids[j, width - len(r) :] = torch.tensor(r, dtype=torch.long)
            mask[j, width - len(r) :] = 1
        pos = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self.decoder(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            position_ids=pos.to(self.device),
            use_cache=True,
            **cache_kwargs(self.decoder, DynamicCache(config=self.config)),
        )
        layers = [(layer.keys, layer.values) for layer in returned_cache(out).layers]
        for j, (g, r) in enumerate(zip(gids, rows)):  # views without the left padding
            start = width - len(r)
            self.kv[g] = [(k[j : j + 1, :, start:], v[j : j + 1, :, start:]) for k, v in layers]

    def get(self, g: int) -> KV | None:
        if self.groups[g][0] == 0:
            return None
        if g not in self.kv:
            self.ensure([g])
        return self.kv[g]

    def done(self, gids: Sequence[int]) -> None:
        for g in gids:
            self.left[g] -= 1
            if self.left[g] == 0:
                self.kv.pop(g, None)


def kv_bytes_per_token(model: Any) -> int:
    """Bytes of keys and values one token occupies in the cache (all layers)."""
    cfg = model.config.get_text_config(decoder=True) if hasattr(model.config, "get_text_config") else model.config
    heads = int(getattr(cfg, "num_attention_heads", 1) or 1)
    kv_heads = int(getattr(cfg, "num_key_value_heads", None) or heads)
    head_dim = int(getattr(cfg, "head_dim", None) or int(getattr(cfg, "hidden_size", 64 * heads)) // heads)
    layers = int(getattr(cfg, "num_hidden_layers", 1) or 1)
    size = next(model.parameters()).element_size()
    return 2 * layers * kv_heads * head_dim * size


@dataclass
class Prepared:
    """Model inputs for the first forward of a batch (suffixes over the shared-prefix cache)."""

    input_ids: torch.Tensor  # [B, S] right-aligned suffixes
    attention_mask: torch.Tensor  # [B, P + S]
    position_ids: torch.Tensor  # [B, S]
    cache: DynamicCache | None
    next_position: torch.Tensor  # [B] position of the token after each row


def prepare(
    store: PrefixStore, row_seqs: Sequence[Sequence[int]], row_groups: Sequence[int], pad_id: int, repeats: int = 1
) -> Prepared:
    """Build the cache and inputs for rows (each repeated ``repeats`` times, adjacent)."""
    shared = [store.groups[g][0] for g in row_groups]
    p_max = max(shared)
    ids, suffix_mask, pos, nxt = _suffix_inputs(row_seqs, shared, pad_id)
    mask = torch.zeros((len(row_seqs), p_max + suffix_mask.shape[1]), dtype=torch.long)
    for r, p in enumerate(shared):
        mask[r, p_max - p : p_max] = 1
    mask[:, p_max:] = suffix_mask
    cache = _batch_cache(store, row_groups, shared, p_max, repeats) if p_max > 0 else None
    if repeats > 1:
        ids, mask, pos, nxt = (t.repeat_interleave(repeats, dim=0) for t in (ids, mask, pos, nxt))
    device = store.device
    return Prepared(ids.to(device), mask.to(device), pos.to(device), cache, nxt.to(device))


def prepare_split(
    store: PrefixStore, row_seqs: Sequence[Sequence[int]], row_groups: Sequence[int], pad_id: int
) -> tuple[Prepared, SharedPrefix]:
    """Inputs for the suffixes alone (no cache; mask over the suffixes) and the batch's prefixes as
    a :class:`SharedPrefix` for :mod:`apeopt.models.prefix_attention`. Rows of a group must be adjacent."""
    shared = [store.groups[g][0] for g in row_groups]
    ids, mask, pos, nxt = _suffix_inputs(row_seqs, shared, pad_id)
    distinct = list(dict.fromkeys(row_groups))
    store.ensure(distinct)
    slot = {g: j for j, g in enumerate(distinct)}
    kvs = [store.get(g) for g in distinct]
    layers = [[kv[layer] if kv is not None else None for kv in kvs] for layer in range(store.num_layers)]
    prefix = SharedPrefix(layers, runs_of([slot[g] for g in row_groups]))
    device = store.device
    return Prepared(ids.to(device), mask.to(device), pos.to(device), None, nxt.to(device)), prefix


def _suffix_inputs(
    row_seqs: Sequence[Sequence[int]], shared: Sequence[int], pad_id: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each row's suffix (after its ``shared`` prefix tokens) right-aligned: ids, mask and
    positions ``[B, S]`` (positions continue the prefix), and the position after each row."""
    suffixes = [list(seq[p:]) for seq, p in zip(row_seqs, shared)]
    s_max = max(len(s) for s in suffixes)
    b = len(row_seqs)
    ids = torch.full((b, s_max), pad_id, dtype=torch.long)
    mask = torch.zeros((b, s_max), dtype=torch.long)
    pos = torch.zeros((b, s_max), dtype=torch.long)
    for r, (suf, p) in enumerate(zip(suffixes, shared)):
        k = len(suf)
        ids[r, s_max - k :] = torch.tensor(suf, dtype=torch.long)
        mask[r, s_max - k :] = 1
        pos[r] = p
        pos[r, s_max - k :] = torch.arange(p, p + k)
    nxt = torch.tensor([p + len(s) for p, s in zip(shared, suffixes)], dtype=torch.long)
    return ids, mask, pos, nxt


def _batch_cache(
    store: PrefixStore, row_groups: Sequence[int], shared: Sequence[int], p_max: int, repeats: int
) -> DynamicCache:
    """Per layer, each row's group prefix left-padded (zeros, masked) to ``p_max``."""
    distinct = list(dict.fromkeys(row_groups))
    store.ensure(distinct)
    kvs = {g: store.get(g) for g in distinct}
    b = len(row_groups) * repeats
    layers: KV = []
    ref = next(kv for kv in kvs.values() if kv is not None)
    if len(distinct) == 1:  # one prefix: a broadcast view, materialized by the first update
        return _cache([(k.expand(b, -1, -1, -1), v.expand(b, -1, -1, -1)) for k, v in ref], store.config)
    slot = {g: j for j, g in enumerate(distinct)}
    index = torch.tensor([slot[g] for g in row_groups for _ in range(repeats)], device=store.device)
    for layer, (k0, v0) in enumerate(ref):
        keys = k0.new_zeros((len(distinct), k0.shape[1], p_max, k0.shape[3]))
        values = v0.new_zeros((len(distinct), v0.shape[1], p_max, v0.shape[3]))
        for g, j in slot.items():
            kv = kvs[g]
            if kv is not None:
                k, v = kv[layer]
                keys[j, :, p_max - k.shape[2] :] = k[0]
                values[j, :, p_max - v.shape[2] :] = v[0]
        layers.append((keys.index_select(0, index), values.index_select(0, index)))
    return _cache(layers, store.config)


def _cache(layers: KV, config: Any) -> DynamicCache:
    """A DynamicCache holding these tensors as they are (the constructor would copy them)."""
    cache = DynamicCache(config=config)
    for layer, (k, v) in zip(cast(list[Any], cache.layers), layers):
        layer.lazy_initialization(k, v)
        layer.keys, layer.values = k, v
    return cache


def forward(model: Any, prep: Prepared, keep: int, keep_arg: bool) -> tuple[torch.Tensor, DynamicCache]:
    """Run the suffixes over the prefix cache; logits of the last ``keep`` positions only."""
    cache = prep.cache if prep.cache is not None else DynamicCache(config=model.config)
    target = model if keep_arg else model.get_decoder()
    logits, out = _run(model, target, prep, keep, keep_arg, dict(use_cache=True, **cache_kwargs(target, cache)))
    return logits, returned_cache(out)


def forward_in_place(model: Any, prep: Prepared, keep: int, keep_arg: bool, prefix: SharedPrefix) -> torch.Tensor:
    """Run the suffixes (``prepare_split``'s inputs) with the shared prefixes held outside any cache;
    logits of the last ``keep`` positions only."""
    target = model if keep_arg else model.get_decoder()
    return _run(model, target, prep, keep, keep_arg, {"use_cache": False, KEYWORD: prefix})[0]


def _run(
    model: Any, target: Any, prep: Prepared, keep: int, keep_arg: bool, extra: dict[str, Any]
) -> tuple[torch.Tensor, Any]:
    kwargs = dict(input_ids=prep.input_ids, attention_mask=prep.attention_mask, position_ids=prep.position_ids, **extra)
    if keep_arg:
        out = model(**kwargs, logits_to_keep=keep)
        return out.logits[:, -keep:], out
    out = target(**kwargs)
    return model.get_output_embeddings()(out.last_hidden_state[:, -keep:]), out
