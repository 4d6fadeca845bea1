"""Demo search: new demonstration sets around the incumbent's, from what the trials so far showed.

The incumbent's demo count ``k`` stays; what changes is which demos, and in which order:

- fixed demos (random or chosen): half the new sets come from credit assignment
  (:mod:`apeopt.optimizer.demo_credit`: the highest-valued train examples, most valuable last,
  and explorative draws), half are fresh random draws, which also feed the credit estimate;
- retrieved demos: the retriever with half and twice ``k`` (within the ladder's token cap), and
  credit-chosen fixed sets of ``k`` demos, since a retrieval incumbent that merely ties the
  fixed rungs on dev should still meet chosen demos.

Zero-shot incumbents get no demo search: the ladder already found that demos did not help.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Sequence

from apeopt.optimizer.demo_credit import DemoValue, Observation, propose_demo_sets
from apeopt.prompts.demos import sample_demo_ids
from apeopt.search_spaces import Format


def demo_ids(fmt: Format, n_train: int) -> tuple[int, ...]:
    """The train indices a fixed-demo format shows, in prompt order (empty when it retrieves)."""
    if fmt.demo_source == "chosen":
        return fmt.demo_ids
    if fmt.demo_source == "random":
        return sample_demo_ids(n_train, fmt.demos, fmt.demo_seed)
    return ()


def observation(fmt: Format, instruction: str, scores: Sequence[float], n_train: int) -> Observation:
    group = f"{instruction}|{fmt.template}|{fmt.cot}|{fmt.votes}|{fmt.answer_prefix}"
    return Observation(demo_ids(fmt, n_train), tuple(scores), group)


def demo_candidates(incumbent: Format, values: Sequence[DemoValue], n_train: int, count: int, seed: int,
                    cap: int) -> list[tuple[str, Format]]:
    """Up to ``count`` (origin, format) pairs to score against the incumbent."""
    k = incumbent.demos
    if k == 0 or count == 0:
        return []
    out: list[tuple[str, Format]] = []
    if incumbent.demo_source == "retrieved":
        ks = sorted({max(1, k // 2), min(cap, 2 * k)} - {k})
        out = [("retrieved", replace(incumbent, demos=j)) for j in ks][:count]
        credit = propose_demo_sets(values, n_train, k, count=count - len(out), seed=seed) if values else []
        return out + [("credit", replace(incumbent, demo_source="chosen", demo_seed=0, demos=len(ids), demo_ids=ids))
                      for ids in credit]
    credit = propose_demo_sets(values, n_train, k, count=(count + 1) // 2, seed=seed) if values else []
    for ids in credit:
        if ids != demo_ids(incumbent, n_train):
            out.append(("credit", replace(incumbent, demo_source="chosen", demo_ids=ids, demo_seed=0)))
    rng = random.Random(seed)
    while len(out) < count:
        out.append(("random", replace(incumbent, demo_source="random", demo_ids=(), demo_seed=rng.randrange(1, 1 << 30))))
    return out

