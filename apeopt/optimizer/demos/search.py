"""Demo search: new demonstration sets around the incumbent's, from what the trials so far showed.

The incumbent's demo count ``k`` stays; what changes is which demos, and in which order:

- fixed demos (random or chosen): half the new sets come from credit assignment
  (:mod:`apeopt.optimizer.demos.credit`: the highest-valued train examples, most valuable last,
  and explorative draws), half are fresh random draws, which also feed the credit estimate;
- retrieved demos: the retriever with half and twice ``k`` (within the ladder's token cap), and
  credit-chosen fixed sets of ``k`` demos, since a retrieval incumbent that merely ties the
  fixed rungs on dev should still meet chosen demos.

A zero-shot incumbent often only ties the demo rungs on dev and wins as the shorter prompt; demo
search then varies the best complete prompt with demos (:func:`demo_base`), whose new sets must
still beat the zero-shot incumbent credibly.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Any, Callable, Sequence

from apeopt.optimizer.demos.credit import DemoValue, Observation, propose_demo_sets
from apeopt.optimizer.candidates.entry import Entry
from apeopt.prompts.demos import sample_demo_ids
from apeopt.records.search import DemoCredit
from apeopt.search_spaces import Format
from apeopt.tasks.task import Example


def demo_ids(fmt: Format, n_train: int) -> tuple[int, ...]:
    """The train indices a fixed-demo format shows, in prompt order (empty when it retrieves)."""
    if fmt.demo_source == "chosen":
        return fmt.demo_ids
    if fmt.demo_source == "random":
        return sample_demo_ids(n_train, fmt.demos, fmt.demo_seed)
    return ()


def observation(fmt: Format, instruction: str, scores: Sequence[float], n_train: int) -> Observation:
    """A trial as credit-assignment evidence, grouped by everything but its demos."""
    group = f"{instruction}|{fmt.template}|{fmt.cot}|{fmt.votes}|{fmt.answer_prefix}"
    return Observation(demo_ids(fmt, n_train), tuple(scores), group)


def demo_candidates(
    incumbent: Format, values: Sequence[DemoValue], n_train: int, count: int, seed: int, cap: int
) -> list[tuple[str, Format]]:
    """Up to ``count`` (origin, format) pairs to score against the incumbent."""
    k = incumbent.demos
    if k == 0 or count == 0:
        return []
    out: list[tuple[str, Format]] = []
    if incumbent.demo_source == "retrieved":
        ks = sorted({max(1, k // 2), min(cap, 2 * k)} - {k})
        out = [("retrieved", replace(incumbent, demos=j)) for j in ks][:count]
        credit = propose_demo_sets(values, n_train, k, count=count - len(out), seed=seed) if values else []
        return out + [
            ("credit", replace(incumbent, demo_source="chosen", demo_seed=0, demos=len(ids), demo_ids=ids))
            for ids in credit
        ]
    credit = propose_demo_sets(values, n_train, k, count=(count + 1) // 2, seed=seed) if values else []
    for ids in credit:
        if ids != demo_ids(incumbent, n_train):
            out.append(("credit", replace(incumbent, demo_source="chosen", demo_ids=ids, demo_seed=0)))
    rng = random.Random(seed)
    while len(out) < count:
        out.append(
            ("random", replace(incumbent, demo_source="random", demo_ids=(), demo_seed=rng.randrange(1, 1 << 30)))
        )
    return out


def demo_base(incumbent: Entry | None, completed: Sequence[Entry], key: Callable[[Entry], Any]) -> Entry | None:
    """What demo search varies: the incumbent, or for a zero-shot one the best (by ``key``) complete
    prompt with demos in the same template."""
    if incumbent is None or incumbent.fmt.demos > 0:
        return incumbent
    with_demos = [e for e in completed if e.fmt.demos > 0 and e.fmt.template == incumbent.fmt.template]
    return min(with_demos, key=key, default=None)


def demo_credits(values: Sequence[DemoValue], train: Sequence[Example], k: int = 10) -> tuple[DemoCredit, ...]:
    """The ``k`` most and ``k`` least valuable train demos of an estimate, as records."""
    shown = values if len(values) <= 2 * k else [*values[:k], *values[-k:]]
    return tuple(DemoCredit(v.index, train[v.index].input, v.value, v.shown) for v in shown)
