"""Log-probs of many scored continuations with shared-prefix reuse (:mod:`apeopt.models.prefix_cache`).

Rows are grouped by the token prefix they share (a candidate prompt's instruction and demos),
each prefix is computed once, and batches of suffixes are scored after it. Where the model runs
apeopt's attention (:func:`apeopt.models.gqa_attention.takes_shared_prefix`) and a batch's rows
come in runs that share a prefix (``MIN_RUN`` rows per run on average), the prefix stays outside
the cache and each run attends to it in one product (:mod:`apeopt.models.prefix_attention`);
otherwise the prefix keys and values are copied into every row's cache.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import torch

from apeopt.models.gqa_attention import takes_shared_prefix
from apeopt.models.hf_access import HFAccess
from apeopt.models.prefix_cache import (
    Planned,
    PrefixStore,
    forward,
    forward_in_place,
    group_by_prefix,
    plan_batches,
    prepare,
    prepare_split,
)

__all__ = ["MIN_RUN", "logprob_shared"]

# Rows per prefix run, on average, from which a batch attends to its prefixes in place.
MIN_RUN = 4


def logprob_shared(
    backend: HFAccess, items: Sequence[tuple[list[int], int]], vocab: int, logits_budget: int
) -> list[list[float]]:
    """Per-token log-probs of each item's last ``m`` tokens (``items``: (full ids, m)), with
    shared-prefix caches; logits only at the scored positions."""
    out: list[list[float]] = [[] for _ in items]
    todo = [i for i, (_, m) in enumerate(items) if m > 0]
    if not todo:
        return out
    seqs = [items[i][0][:-1] for i in todo]  # position t predicts token t + 1
    scored = [items[i][1] for i in todo]
    caps = [len(s) - m for s, m in zip(seqs, scored)]  # the predictor of the first target is in the suffix
    groups = group_by_prefix(seqs, caps)
    store = PrefixStore(backend.model, backend.device, groups, seqs, backend.pad_id, backend.max_cells)
    in_place = takes_shared_prefix(backend.model)
    for plan in _logprob_batches(groups, seqs, scored, backend.batch_size, backend.max_cells, vocab, logits_budget):
        store.ensure(plan.window)
        keep = max(scored[i] for i in plan.rows)
        if in_place and len(plan.rows) >= MIN_RUN * len(set(plan.groups)):
            order = sorted(range(len(plan.rows)), key=lambda r: plan.groups[r])  # a group's rows adjacent
            plan = Planned([plan.rows[r] for r in order], [plan.groups[r] for r in order], plan.window)
            prep, prefix = prepare_split(store, [seqs[i] for i in plan.rows], plan.groups, backend.pad_id)
            logits = forward_in_place(backend.model, prep, keep, backend.keeps_logits, prefix)
        else:
            prep = prepare(store, [seqs[i] for i in plan.rows], plan.groups, backend.pad_id)
            logits, _ = forward(backend.model, prep, keep, backend.keeps_logits)
        store.done(plan.groups)
        logp = torch.log_softmax(logits.float(), dim=-1)
        for r, i in enumerate(plan.rows):
            ids, m = items[todo[i]]
            target = torch.tensor(ids[-m:], device=logp.device)
            out[todo[i]] = logp[r, keep - m :].gather(-1, target[:, None])[:, 0].tolist()
    return out


def _logprob_batches(
    groups: list[tuple[int, list[int]]],
    seqs: Sequence[Sequence[int]],
    scored: Sequence[int],
    max_rows: int,
    max_cells: int,
    vocab: int,
    logits_budget: int,
) -> Iterator[Planned]:
    """``plan_batches``, further split so that rows x kept positions x vocab stays in budget."""
    for plan in plan_batches(groups, [len(s) for s in seqs], 0, max_rows, max_cells):
        rows: list[int] = []
        gids: list[int] = []
        keep = 0
        for i, g in zip(plan.rows, plan.groups):
            k = max(keep, scored[i])
            if rows and (len(rows) + 1) * k * vocab > logits_budget:
                yield Planned(rows, gids, plan.window)
                rows, gids, k = [], [], scored[i]
            rows.append(i)
            gids.append(g)
            keep = k
        if rows:
            yield Planned(rows, gids, plan.window)
