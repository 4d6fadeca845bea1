"""Generation for HFBackend: a decoding loop over shared-prefix KV caches, and the per-row stop
and seeded-sampling helpers shared with the plain ``model.generate`` path.

The loop gives the same tokens as ``model.generate`` with ``RowStopper`` and ``GumbelSampler``:
argmax of the (noised) float32 scores, one noise draw per row per step from the row's own
generator, a row ends at EOS or once its decoded text holds a stop string. Unlike it, finished
rows leave the batch (their cache rows are dropped) and the batch ends when its last row does.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Callable, Hashable, Sequence

import torch
from transformers import LogitsProcessor, StoppingCriteria

from apeopt.models import prefix_cache as pc
from apeopt.models.abort import aborted
from apeopt.models.base import Completion, GenerateRequest, cut_at_stop
from apeopt.models.kv_arg import cache_kwargs
from apeopt.models.hf_access import HFAccess


class RowStopper(StoppingCriteria):
    """Marks each row done at EOS or once its decoded new text contains a stop string;
    records how many new tokens each row produced up to that point."""

    def __init__(self, prompt_width: int, stop: Sequence[str], eos_ids: Sequence[int], tokenizer: Any) -> None:
        self.width = prompt_width
        self.stop = tuple(s for s in stop if s)
        self.eos = set(eos_ids)
        self.tokenizer = tokenizer
        self.lengths: list[int | None] = []

    def __call__(self, input_ids: torch.LongTensor, scores: Any = None, **kwargs: Any) -> torch.BoolTensor:
        if not self.lengths:
            self.lengths = [None] * input_ids.shape[0]
        new_ids = input_ids[:, self.width :].tolist()  # one device sync per step
        for row, new in enumerate(new_ids):
            if self.lengths[row] is None and self._row_done(new):
                self.lengths[row] = len(new)
        done = [length is not None for length in self.lengths]
        if aborted():  # every requester has gone (apeopt serve): stop all rows now
            done = [True] * len(done)
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)  # type: ignore[return-value]

    def _row_done(self, new: list[int]) -> bool:
        if not new:
            return False
        if new[-1] in self.eos:
            return True
        if not self.stop:
            return False
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return any(s in text for s in self.stop)


class GumbelSampler(LogitsProcessor):
    """Sampling at ``temperature`` via the Gumbel-max trick with one generator per row, so a
    row's samples depend only on its seed, never on what else shares the batch."""

    def __init__(self, temperature: float, seeds: list[int], device: torch.device) -> None:
        self.temperature = temperature
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]

    def __call__(self, input_ids: torch.LongTensor, scores: torch.Tensor) -> torch.Tensor:
        return self.noised(scores, range(len(self.generators)))

    def noised(self, scores: torch.Tensor, rows: Sequence[int]) -> torch.Tensor:
        """Scores of the given rows (one generator each, in order) plus one fresh draw of noise."""
        vocab = scores.shape[-1]
        noise = torch.stack(
            [torch.rand(vocab, generator=self.generators[r], device=scores.device, dtype=torch.float32) for r in rows]
        )
        gumbel = -torch.log(-torch.log(noise.clamp(min=1e-20)))
        return scores.float() / self.temperature + gumbel


def row_seed(seed: int, sample: int) -> int:
    digest = hashlib.sha256(f"apeopt:{seed}:{sample}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def generate_key(req: GenerateRequest) -> GenerateRequest:
    """Greedy output does not depend on the seed: such requests are the same computation."""
    return req if req.temperature > 0 or req.seed == 0 else dataclasses.replace(req, seed=0)


def dedupe(requests: Sequence[Any], key: Callable[[Any], Hashable]) -> tuple[list[Any], list[int]]:
    """Distinct requests (first occurrence order) and, per request, the index of its distinct one."""
    index: dict[Hashable, int] = {}
    unique: list[Any] = []
    where: list[int] = []
    for req in requests:
        k = key(req)
        if k not in index:
            index[k] = len(unique)
            unique.append(req)
        where.append(index[k])
    return unique, where


def generate_shared(backend: HFAccess, prompts: list[list[int]], reqs: list[GenerateRequest]) -> list[Completion]:
    """Complete ``prompts`` (same max_tokens/temperature/n/stop) with shared-prefix caches."""
    first = reqs[0]
    n = first.n
    caps = [len(p) - 1 for p in prompts]  # the last prompt token goes through the suffix pass
    groups = pc.group_by_prefix(prompts, caps)
    store = pc.PrefixStore(backend.model, backend.device, groups, prompts, backend.pad_id, backend.max_cells)
    stopper = RowStopper(0, first.stop, backend.eos_ids, backend.tokenizer)
    lengths = [len(p) for p in prompts]
    texts: list[list[str]] = [[""] * n for _ in prompts]
    counts: list[list[int]] = [[0] * n for _ in prompts]
    ids: list[list[tuple[int, ...]]] = [[()] * n for _ in prompts]
    batches = pc.plan_batches(
        groups, lengths, first.max_tokens, backend.batch_size, backend.max_cells, [n] * len(prompts)
    )
    for plan in batches:
        store.ensure(plan.window)
        prep = pc.prepare(store, [prompts[i] for i in plan.rows], plan.groups, backend.pad_id, repeats=n)
        sampler = None
        if first.temperature > 0:
            seeds = [row_seed(reqs[i].seed, j) for i in plan.rows for j in range(n)]
            sampler = GumbelSampler(first.temperature, seeds, backend.device)
        outs = _decode(backend, prep, first.max_tokens, stopper, sampler)
        store.done(plan.groups)
        for k, i in enumerate(plan.rows):
            for j in range(n):
                new = outs[k * n + j]
                text = backend.tokenizer.decode(new, skip_special_tokens=True)
                texts[i][j] = cut_at_stop(text, first.stop)
                counts[i][j] = len(new)
                ids[i][j] = tuple(new)
    return [Completion(tuple(texts[i]), len(prompts[i]), sum(counts[i]), tuple(ids[i])) for i in range(len(prompts))]


def _decode(
    backend: HFAccess, prep: pc.Prepared, max_tokens: int, stopper: RowStopper, sampler: GumbelSampler | None
) -> list[list[int]]:
    """Greedy (or Gumbel-sampled) decoding; returns each row's new tokens up to where it ended."""
    model = backend.model
    logits, cache = pc.forward(model, prep, 1, backend.keeps_logits)
    mask, pos = prep.attention_mask, prep.next_position
    b = mask.shape[0]
    new: list[list[int]] = [[] for _ in range(b)]
    active = list(range(b))  # original row of each current batch row
    for step in range(max_tokens):
        scores = logits[:, -1].float()
        if sampler is not None:
            scores = sampler.noised(scores, active)
        tokens = scores.argmax(-1)
        keep: list[int] = []
        for k, tok in enumerate(tokens.tolist()):
            row = new[active[k]]
            row.append(tok)
            if not stopper._row_done(row):
                keep.append(k)
        if not keep or step == max_tokens - 1 or aborted():
            break
        if len(keep) < len(active):
            sel = torch.tensor(keep, device=mask.device)
            cache.batch_select_indices(sel)
            tokens, mask, pos = tokens[sel], mask[sel], pos[sel]
            active = [active[k] for k in keep]
        mask = torch.cat([mask, mask.new_ones((mask.shape[0], 1))], dim=1)
        logits = _step(model, tokens[:, None], mask, pos[:, None], cache, backend.keeps_logits)
        pos = pos + 1
    return new


def _step(
    model: Any, ids: torch.Tensor, mask: torch.Tensor, pos: torch.Tensor, cache: Any, keep_arg: bool
) -> torch.Tensor:
    kwargs = dict(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True)
    if keep_arg:
        return model(**kwargs, **cache_kwargs(model, cache), logits_to_keep=1).logits
    decoder = model.get_decoder()
    hidden = decoder(**kwargs, **cache_kwargs(decoder, cache)).last_hidden_state
    return model.get_output_embeddings()(hidden[:, -1:])
