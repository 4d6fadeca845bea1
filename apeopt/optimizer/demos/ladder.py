"""The incumbent ladder: the prompts a user would try by hand, scored before anything is proposed.

The human instruction with k random train demos for k = 0, 3, 5, 8, 16, 32 (as many as fit a
prompt of ``PROMPT_TOKEN_CAP`` estimated tokens and the train split), and the retrieval prompt
(the human instruction with the ``RETRIEVAL_K`` nearest train examples of each input). They go
through the same successive halving as every candidate; the best of them on all of dev is the
run's first incumbent, so a run never returns less than what a user gets for free.

The random demos of k-shot use the seed of the run's k-shot baseline (``split_seed``), so the
ladder's 5-shot row *is* the few-shot baseline that the run reports on test.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from apeopt.search_spaces import Format
from apeopt.tasks.task import Example

LADDER_KS = (0, 3, 5, 8, 16, 32)
RETRIEVAL_K = 8
# Prompts longer than this (estimated as characters / 4) are left out of the ladder: small
# models' contexts, and CPU time, both run out past a few thousand tokens.
PROMPT_TOKEN_CAP = 1536


def demo_tokens(train: Sequence[Example], input_prefix: str = "Input:", answer_prefix: str = "Output:") -> float:
    """Estimated tokens one demo adds to a prompt (mean over up to 200 train examples)."""
    sample = train[:200]
    if not sample:
        return 0.0
    chars = sum(len(f"{input_prefix} {ex.input}\n{answer_prefix} {ex.target}\n\n") for ex in sample)
    return chars / len(sample) / 4


def max_demos(train: Sequence[Example], instruction: str) -> int:
    """The most demos that keep a prompt under the token cap (and within the train split)."""
    per = demo_tokens(train)
    room = PROMPT_TOKEN_CAP - len(instruction) / 4 - 2 * per
    fit = int(room // per) if per > 0 else len(train)
    return max(0, min(fit, len(train)))


def ladder(start: Format, train: Sequence[Example], instruction: str, demo_seed: int) -> list[tuple[str, Format]]:
    """(name, format) of each ladder row: the start format with k random demos, and with retrieved demos."""
    cap = max_demos(train, instruction)
    base = replace(start, demo_ids=(), demo_source="random", demo_seed=demo_seed)
    ks = [k for k in LADDER_KS if k <= cap]
    if start.demos not in ks and start.demos <= len(train):
        ks.append(start.demos)
    # The start format first: a budget that scores only one prompt scores the space's own start.
    ks.sort(key=lambda k: (k != start.demos, k))
    out = [(f"human + {k} random demos" if k else "human (zero-shot)", replace(base, demos=k)) for k in ks]
    k = min(RETRIEVAL_K, cap)
    if k > 0 and len(train) > k:
        out.append((f"human + {k} retrieved demos", replace(base, demos=k, demo_source="retrieved")))
    return out
